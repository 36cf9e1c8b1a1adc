import type { SimDeviceConfig } from './config';

/**
 * Devices the CLI seeds, one per kind plus an unauthenticated Redfish BMC. The credentials are
 * demo values documented in README.md; they protect nothing.
 */
export const DEMO_DEVICES: readonly SimDeviceConfig[] = [
  {
    id: 'rf-demo-1',
    kind: 'redfish',
    credentials: { username: 'admin', password: 'redfish-demo' },
    facts: { systems: [{ manufacturer: 'Contoso', model: 'CX-2200 Rack Server', processorCount: 2, memoryGiB: 512 }] },
  },
  {
    id: 'rf-open-1',
    kind: 'redfish',
    facts: { systems: [{ manufacturer: 'Fabrikam', model: 'FB-410 GPU Server', processorCount: 2, memoryGiB: 1024 }] },
  },
  {
    id: 'nimbus-demo-1',
    kind: 'hypervisor-cluster',
    credentials: { username: 'admin', password: 'nimbus-demo' },
  },
  {
    id: 'acme-demo-1',
    kind: 'storage-array',
    credentials: { username: 'admin', password: 'acme-demo' },
  },
];
