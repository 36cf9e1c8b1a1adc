import { randomBytes } from 'node:crypto';
import { redfishDriver } from '../src/drivers/redfish';
import { startDeviceSimulator } from '../simulators/devices/server';
import { json, until, type BenchRow, type BenchStack } from './support';

const N = 200;

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/**
 * N devices submitted through POST /v1/devices at once against the device simulator, until every
 * onboarding has completed (device ACTIVE): completed onboardings per second end to end, and the
 * per-device latency from request to ACTIVE. Baseline: the same N verifications made by calling
 * the Redfish driver directly, all at once, without Temporal, the API or the database.
 */
export async function benchOnboarding(stack: BenchStack): Promise<BenchRow[]> {
  const sim = await startDeviceSimulator({ port: 0 });
  try {
    const tag = randomBytes(3).toString('hex');
    const ids = Array.from({ length: N }, (_, i) => `ob-${tag}-${i}`);
    for (const id of ids) sim.addDevice({ id, kind: 'redfish' });

    // Baseline: the driver alone.
    const b0 = performance.now();
    const bareLatencies = await Promise.all(
      ids.map(async (id) => {
        const t = performance.now();
        await redfishDriver.verify({ endpoint: `${sim.baseUrlFor(id)}?bare`, timeoutMs: 60_000 });
        return performance.now() - t;
      }),
    );
    const bareMs = performance.now() - b0;

    // Ours: through the API, Temporal, the worker and the database.
    const t0 = performance.now();
    const submitted = await Promise.all(
      ids.map(async (id) => {
        const t = performance.now();
        const res = await json('POST', `${stack.api}/v1/devices`, { name: id, type: 'SERVER', vendor: 'Contoso', endpoint: sim.baseUrlFor(id) });
        if (res.status !== 202) throw new Error(`onboard ${id}: ${res.status} ${JSON.stringify(res.body)}`);
        return { id, t };
      }),
    );
    const doneAt = new Map<string, number>();
    await until(async () => {
      const rows = await stack.db.device.findMany({ where: { name: { in: ids.filter((i) => !doneAt.has(i)) }, state: 'ACTIVE', lockedBy: null }, select: { name: true } });
      const now = performance.now();
      for (const r of rows) doneAt.set(r.name, now);
      return doneAt.size === N ? true : undefined;
    }, 600_000, `${N} onboardings`, 20);
    const totalMs = performance.now() - t0;
    const latencies = submitted.map((s) => doneAt.get(s.id)! - s.t).sort((a, b) => a - b);
    bareLatencies.sort((a, b) => a - b);
    process.stderr.write(`onboarding: ours ${totalMs.toFixed(0)} ms, bare ${bareMs.toFixed(0)} ms\n`);
    return [
      {
        bench: `onboard ${N} Redfish devices at once`,
        case: 'throughput',
        ours: `${((N / totalMs) * 1000).toFixed(1)} onboardings/s (${(totalMs / 1000).toFixed(2)} s)`,
        baseline: `${((N / bareMs) * 1000).toFixed(1)} verifications/s (${(bareMs / 1000).toFixed(2)} s) driver only`,
        ratio: `${(totalMs / bareMs).toFixed(1)}x time`,
        note: 'API 202 → device ACTIVE and unlocked (polled every 20 ms)',
      },
      {
        bench: `onboard ${N} Redfish devices at once`,
        case: 'latency p50 / p99',
        ours: `${pct(latencies, 50).toFixed(0)} / ${pct(latencies, 99).toFixed(0)} ms`,
        baseline: `${pct(bareLatencies, 50).toFixed(0)} / ${pct(bareLatencies, 99).toFixed(0)} ms`,
        ratio: `${(pct(latencies, 50) / pct(bareLatencies, 50)).toFixed(1)}x p50`,
        note: 'per device, request to ACTIVE vs one driver verify',
      },
    ];
  } finally {
    await sim.close();
  }
}
