/**
 * Run the service simulator on its own: `tsx simulators/services/main.ts`.
 * SERVICE_SIM_PORT (default 7102) and SERVICE_SIM_HOST (default 127.0.0.1) choose where it listens.
 */
import type { SimServiceConfig } from './config';
import { startServiceSimulator, type ServiceSimulator } from './server';
import { portFromEnv, runAsProcess } from '../shared/cli';

/**
 * Services the CLI seeds. Their device references are the ids of the device simulator's demo
 * devices (simulators/devices/demo.ts), so a local stack can put those devices in maintenance.
 * They demand no token; add one with `PATCH /_sim/services/<id> {"token": "..."}`.
 */
export const DEMO_SERVICES: readonly SimServiceConfig[] = [
  {
    id: 'nova-compute-1',
    kind: 'compute',
    host: 'compute-1',
    migrationMs: 200,
    budget: { maxInFlight: 10 },
    devices: { 'nimbus-demo-1': { workloads: 20 } },
  },
  {
    id: 'cinder-volume-1',
    kind: 'volume',
    host: 'storage-1',
    migrationMs: 500,
    budget: { maxInFlight: 4 },
    devices: { 'acme-demo-1': { workloads: 10 } },
  },
];

export async function runServiceSimulator(env: NodeJS.ProcessEnv = process.env): Promise<ServiceSimulator> {
  const port = portFromEnv(env, 'SERVICE_SIM_PORT', 7102);
  const sim = await startServiceSimulator({
    port,
    host: env.SERVICE_SIM_HOST ?? '127.0.0.1',
    services: [...DEMO_SERVICES],
  });
  console.log(`service simulator listening on ${sim.url} (admin API: ${sim.url}/_sim/services)`);
  for (const s of DEMO_SERVICES) {
    const devices = Object.entries(s.devices ?? {})
      .map(([ref, d]) => `${ref} (${typeof d.workloads === 'number' ? d.workloads : (d.workloads?.length ?? 0)} workloads)`)
      .join(', ');
    console.log(`  ${s.kind.padEnd(8)} ${sim.baseUrlFor(s.id)}  consumes ${devices}`);
  }
  return sim;
}

if (require.main === module) runAsProcess('service simulator', () => runServiceSimulator());
