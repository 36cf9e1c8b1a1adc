import express from 'express';
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { BenchRow, BenchStack } from './support';

const DEVICES = 10_000;
const REQUESTS = 4_000;
const CONCURRENCY = 20;

/** `count` GETs, `concurrency` in flight at once: requests/s and p99 latency. */
async function load(urlFor: (i: number) => string, count: number, concurrency: number): Promise<{ rps: number; p50: number; p99: number }> {
  const latencies: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        const t = performance.now();
        const res = await fetch(urlFor(i));
        if (res.status !== 200) throw new Error(`GET ${urlFor(i)}: ${res.status}`);
        await res.arrayBuffer();
        latencies.push(performance.now() - t);
      }
    }),
  );
  const ms = performance.now() - t0;
  latencies.sort((a, b) => a - b);
  const at = (p: number) => latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)]!;
  return { rps: (count / ms) * 1000, p50: at(50), p99: at(99) };
}

/**
 * GET /v1/devices/{id} and GET /v1/devices (a page of 50) with 10,000 devices in the inventory,
 * 20 requests in flight. Baseline: a bare Express JSON route answering a fixed device-sized body on
 * the same machine (no database, no validation): what Express and HTTP alone cost.
 */
export async function benchApi(stack: BenchStack): Promise<BenchRow[]> {
  const tag = randomBytes(3).toString('hex');
  const rows = Array.from({ length: DEVICES }, (_, i) => ({
    name: `api-${tag}-${i}`,
    type: 'SERVER' as const,
    vendor: i % 2 ? 'Contoso' : 'Fabrikam',
    endpoint: `http://127.0.0.1:9/d/api-${tag}-${i}`,
    driverName: 'redfish',
    state: 'ACTIVE' as const,
  }));
  for (let i = 0; i < rows.length; i += 1_000) await stack.db.device.createMany({ data: rows.slice(i, i + 1_000) });
  const ids = (await stack.db.device.findMany({ where: { name: { startsWith: `api-${tag}-` } }, select: { id: true } })).map((d) => d.id);

  const sample = await (await fetch(`${stack.api}/v1/devices/${ids[0]}`)).json();
  const page = await (await fetch(`${stack.api}/v1/devices?limit=50&offset=0`)).json();
  const bare = express();
  bare.get('/one/:id', (_req, res) => res.json(sample));
  bare.get('/list', (_req, res) => res.json(page));
  const server: Server = await new Promise((resolve) => {
    const s = bare.listen(0, '127.0.0.1', () => resolve(s));
  });
  const bareBase = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const out: BenchRow[] = [];
  try {
    const cases: [string, (i: number) => string, (i: number) => string][] = [
      ['GET /v1/devices/{id}', (i) => `${stack.api}/v1/devices/${ids[(i * 7919) % ids.length]}`, (i) => `${bareBase}/one/${i}`],
      ['GET /v1/devices?limit=50', (i) => `${stack.api}/v1/devices?limit=50&offset=${(i * 50) % (DEVICES - 50)}`, () => `${bareBase}/list`],
    ];
    for (const [name, ours, base] of cases) {
      await load(ours, 200, CONCURRENCY); // warm-up
      await load(base, 200, CONCURRENCY);
      const o = await load(ours, REQUESTS, CONCURRENCY);
      const b = await load(base, REQUESTS, CONCURRENCY);
      process.stderr.write(`${name}: ours ${o.rps.toFixed(0)}/s, bare ${b.rps.toFixed(0)}/s\n`);
      out.push({
        bench: `API with ${DEVICES.toLocaleString('en')} devices, ${CONCURRENCY} concurrent`,
        case: name,
        ours: `${o.rps.toFixed(0)} req/s, p50 ${o.p50.toFixed(1)} ms, p99 ${o.p99.toFixed(1)} ms`,
        baseline: `${b.rps.toFixed(0)} req/s, p99 ${b.p99.toFixed(1)} ms bare Express JSON`,
        ratio: `${(b.rps / o.rps).toFixed(1)}x slower`,
        note: `${REQUESTS} requests after 200 warm-up`,
      });
    }
  } finally {
    server.close();
  }
  return out;
}
