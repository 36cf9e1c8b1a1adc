import request from 'supertest';
import type { createApp } from '../../src/api/app';
import type { Db } from '../../src/db/client';
import { workflowIds } from '../../src/domain/operations';
import { eventually, uniq } from './stack';

type App = ReturnType<typeof createApp>;

/** An ACTIVE device (as onboarding leaves it) backed by a simulated Redfish endpoint, so resume can re-verify it. */
export async function activeDevice(db: Db, endpoint: string, name = uniq('host')) {
  return db.device.create({
    data: { name, type: 'HYPERVISOR', vendor: 'Contoso', endpoint, driverName: 'redfish', state: 'ACTIVE', verifiedAt: new Date() },
  });
}

/** Registers a service consuming the device through the API. */
export async function registerService(app: App, serviceEndpoint: string, device: string, deviceRef: string, name = uniq('nova-compute')) {
  const res = await request(app)
    .post('/v1/services')
    .send({ name, kind: 'COMPUTE', host: `${name}.example`, endpoint: serviceEndpoint, devices: [{ device, deviceRef }] })
    .expect(201);
  return res.body as { id: string; name: string };
}

export async function maintenance(app: App, device: string) {
  return (await request(app).get(`/v1/devices/${device}/maintenance`).expect(200)).body;
}

export async function untilMaintenance(app: App, device: string, predicate: (m: any) => boolean, timeoutMs = 60_000) {
  return eventually(async () => {
    const m = await maintenance(app, device);
    return predicate(m) ? m : undefined;
  }, timeoutMs, `maintenance of ${device}`);
}

export const maintenanceId = workflowIds.maintenance;
