import { randomBytes } from 'node:crypto';
import { createPodmClient } from '../src/integrations/podm-client';
import { startPodmSimulator } from '../simulators/podm/server';
import { json, until, type BenchRow, type BenchStack } from './support';

const DEVICES = 10_000;

/**
 * Sync of 10,000 pooled devices from the pod manager simulator into PostgreSQL: our sync (one
 * bulk statement per 5,000 rows, through the workflow) against the naive way (the same read,
 * then one Prisma upsert per device), measured in the same run on identical pod managers.
 */
export async function benchSync(stack: BenchStack): Promise<BenchRow[]> {
  const sim = await startPodmSimulator({ port: 0 });
  const rows: BenchRow[] = [];
  try {
    const tag = randomBytes(3).toString('hex');
    const ours = `bench-ours-${tag}`;
    const naive = `bench-naive-${tag}`;
    for (const id of [ours, naive]) sim.addPodm({ id, seed: 42, resources: DEVICES, nodes: 16, attachedFraction: 0.25 });

    // Ours: registration runs the first sync (10,000 inserts); then a refresh with nothing
    // changed, then one with 10% moved.
    const reg = await json('POST', `${stack.api}/v1/podmanagers`, { name: ours, url: sim.baseUrlFor(ours), syncInterval: '1d' });
    if (reg.status !== 201) throw new Error(`register: ${JSON.stringify(reg.body)}`);
    const first = await until(async () => {
      const p = await json('GET', `${stack.api}/v1/podmanagers/${ours}`);
      return p.body.lastSync?.result?.status === 'ok' ? p.body.lastSync.result : undefined;
    }, 120_000, 'first sync');
    const t1 = performance.now();
    const unchanged = (await json('POST', `${stack.api}/v1/podmanagers/${ours}/refresh`, {})).body.result;
    const unchangedWall = performance.now() - t1;
    const toMove = await stack.db.pooledDevice.findMany({
      where: { podm: { name: ours }, nodeId: null },
      orderBy: { resourceUri: 'asc' },
      take: DEVICES / 10,
      select: { resourceId: true },
    });
    for (const r of toMove) sim.moveResource(ours, r.resourceId, '1');
    const t2 = performance.now();
    const moved = (await json('POST', `${stack.api}/v1/podmanagers/${ours}/refresh`, {})).body.result;
    const movedWall = performance.now() - t2;
    if (first.added !== DEVICES || unchanged.unchanged !== DEVICES) throw new Error(`unexpected sync results ${JSON.stringify({ first, unchanged })}`);

    // Naive: same read, one upsert per device.
    const podm = await stack.db.podManager.create({ data: { name: naive, url: sim.baseUrlFor(naive), syncIntervalMs: 86_400_000 } });
    const client = createPodmClient({ baseUrl: sim.baseUrlFor(naive), timeoutMs: 30_000 });
    const naiveSync = async () => {
      const t0 = performance.now();
      const { resources } = await client.listPooledResources();
      for (const r of resources) {
        const data = {
          resourceId: r.resourceId,
          nodeId: r.nodeId,
          type: r.type,
          properties: { name: r.name, status: r.state, ...r.properties },
          pooledGroupId: r.poolId,
          state: r.nodeId ? ('ALLOCATED' as const) : ('FREE' as const),
          deletedAt: null,
        };
        await stack.db.pooledDevice.upsert({
          where: { podmId_resourceUri: { podmId: podm.id, resourceUri: r.uri } },
          create: { podmId: podm.id, resourceUri: r.uri, ...data },
          update: data,
        });
      }
      return performance.now() - t0;
    };
    const naiveFirst = await naiveSync();
    const naiveAgain = await naiveSync();

    const rate = (n: number, ms: number) => `${Math.round((n / ms) * 1000).toLocaleString('en')} rows/s`;
    rows.push(
      {
        bench: 'pod manager sync, 10,000 devices',
        case: 'first sync (all inserts)',
        ours: `${(first.durationMs / 1000).toFixed(2)} s (${rate(DEVICES, first.durationMs)})`,
        baseline: `${(naiveFirst / 1000).toFixed(2)} s naive per-row upsert (${rate(DEVICES, naiveFirst)})`,
        ratio: `${(naiveFirst / first.durationMs).toFixed(1)}x faster`,
        note: 'read + write, measured inside the sync activity',
      },
      {
        bench: 'pod manager sync, 10,000 devices',
        case: 'resync, nothing changed',
        ours: `${(unchanged.durationMs / 1000).toFixed(2)} s in the activity; ${(unchangedWall / 1000).toFixed(2)} s refresh over HTTP`,
        baseline: `${(naiveAgain / 1000).toFixed(2)} s naive per-row upsert`,
        ratio: `${(naiveAgain / unchanged.durationMs).toFixed(1)}x faster`,
        note: `unchanged=${unchanged.unchanged}`,
      },
      {
        bench: 'pod manager sync, 10,000 devices',
        case: 'resync, 10% moved',
        ours: `${(moved.durationMs / 1000).toFixed(2)} s in the activity; ${(movedWall / 1000).toFixed(2)} s refresh over HTTP`,
        baseline: '-',
        ratio: '-',
        note: `updated=${moved.updated}, unchanged=${moved.unchanged}`,
      },
    );
    process.stderr.write(`sync: ours ${first.durationMs} ms, naive ${naiveFirst.toFixed(0)} ms\n`);
  } finally {
    await sim.close();
  }
  return rows;
}
