import { randomBytes } from 'node:crypto';
import { createServiceClient, type ServiceClient } from '../src/integrations/service-client';
import { startServiceSimulator } from '../simulators/services/server';
import { startDeviceSimulator } from '../simulators/devices/server';
import { json, until, type BenchRow, type BenchStack } from './support';

const WORKLOADS = 1_000;
const MIGRATION_MS = 20;

/**
 * Baseline: the same migrations done by a bare loop with the same client and concurrency,
 * without Temporal, the database or any bookkeeping: what the service itself allows.
 */
async function bareDrain(client: ServiceClient, deviceRef: string, ids: string[], concurrency: number): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < ids.length) {
        const id = ids[next++]!;
        await client.migrateWorkload(id, deviceRef, `bare/${id}`);
        let delay = 10;
        for (;;) {
          await new Promise((r) => setTimeout(r, delay));
          const w = await client.getWorkload(id);
          if (!w || w.device !== deviceRef) break;
          delay = Math.min(Math.ceil(delay * 1.5), 1_000);
        }
      }
    }),
  );
  return performance.now() - t0;
}

export async function benchDrain(stack: BenchStack): Promise<BenchRow[]> {
  const services = await startServiceSimulator({ port: 0 });
  const devices = await startDeviceSimulator({ port: 0 });
  const rows: BenchRow[] = [];
  try {
    for (const concurrency of [1, 10, 50]) {
      const tag = randomBytes(3).toString('hex');
      // Baseline on its own service, same knobs.
      const bareId = `bare-${tag}`;
      services.addService({ id: bareId, kind: 'compute', host: 'h', migrationMs: MIGRATION_MS, devices: { dev: { workloads: WORKLOADS } } });
      const client = createServiceClient({ baseUrl: services.baseUrlFor(bareId), timeoutMs: 10_000 });
      const bareMs = await bareDrain(client, 'dev', services.workloadsOn(bareId, 'dev').map((w) => w.id), concurrency);

      // Ours: the maintenance workflow through the API.
      devices.addDevice({ id: `bmc-${tag}`, kind: 'redfish' });
      const device = await stack.db.device.create({
        data: { name: `bench-${tag}`, type: 'HYPERVISOR', vendor: 'Contoso', endpoint: devices.baseUrlFor(`bmc-${tag}`), driverName: 'redfish', state: 'ACTIVE' },
      });
      const svcId = `svc-${tag}`;
      services.addService({ id: svcId, kind: 'compute', host: 'h', migrationMs: MIGRATION_MS, devices: { dev: { workloads: WORKLOADS } } });
      const reg = await json('POST', `${stack.api}/v1/services`, {
        name: `nova-${tag}`, kind: 'COMPUTE', host: 'h', endpoint: services.baseUrlFor(svcId), devices: [{ device: device.name, deviceRef: 'dev' }],
      });
      if (reg.status !== 201) throw new Error(`register service: ${JSON.stringify(reg.body)}`);
      const t0 = performance.now();
      const started = await json('POST', `${stack.api}/v1/devices/${device.name}/maintenance`, { reason: 'benchmark drain', concurrency, drainTimeout: '10m' });
      if (started.status !== 202) throw new Error(`start maintenance: ${JSON.stringify(started.body)}`);
      const held = await until(async () => {
        const m = await json('GET', `${stack.api}/v1/devices/${device.name}/maintenance`);
        return m.body.phase === 'in_maintenance' ? m.body : undefined;
      }, 600_000, `drain at concurrency ${concurrency}`);
      const totalMs = performance.now() - t0;
      const drainStep = held.steps.find((s: { name: string }) => s.name === 'drain');
      const drainMs = Date.parse(drainStep.endedAt) - Date.parse(drainStep.startedAt);
      const started1 = Object.values(services.stats(svcId).migrationsStarted);
      if (held.drain.migrated !== WORKLOADS || started1.length !== WORKLOADS || started1.some((n) => n !== 1)) {
        throw new Error(`drain at concurrency ${concurrency} did not migrate each workload once`);
      }
      await json('POST', `${stack.api}/v1/devices/${device.name}/maintenance/resume`, {});
      const ideal = (WORKLOADS * MIGRATION_MS) / concurrency;
      rows.push({
        bench: 'drain 1,000 workloads (20 ms each)',
        case: `concurrency ${concurrency}`,
        ours: `${(drainMs / 1000).toFixed(2)} s drain (${Math.round((WORKLOADS / drainMs) * 1000)}/s); ${(totalMs / 1000).toFixed(2)} s request→MAINTENANCE`,
        baseline: `${(bareMs / 1000).toFixed(2)} s bare client loop (${Math.round((WORKLOADS / bareMs) * 1000)}/s)`,
        ratio: `${(drainMs / bareMs).toFixed(2)}x`,
        note: `ideal ${(ideal / 1000).toFixed(2)} s; each workload migrated once`,
      });
      process.stderr.write(`drain c=${concurrency}: ours ${drainMs.toFixed(0)} ms, bare ${bareMs.toFixed(0)} ms\n`);
    }
  } finally {
    await services.close();
    await devices.close();
  }
  return rows;
}
