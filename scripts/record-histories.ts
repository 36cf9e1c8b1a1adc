/**
 * Records one Temporal history per workflow scenario into test/fixtures/histories/, for the
 * replay test (test/replay/replay.test.ts) to check that workflow code changes stay deterministic.
 *
 *   npx tsx scripts/record-histories.ts            # needs PostgreSQL on 127.0.0.1:5432 and the Temporal CLI
 *
 * Each scenario runs for real (API through supertest, a worker, a Temporal dev server, a fresh
 * database, the device, service and pod manager simulators), and the finished run's history is
 * written as the proto JSON that `Worker.runReplayHistory` (historyFromJSON) accepts.
 * manifest.json lists every fixture with its workflow id, type and what it covers.
 * Re-record after an intended (versioned) change to a workflow; never to make replay pass.
 */
import type { WorkflowHandle } from '@temporalio/client';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { createApp } from '../src/api/app';
import { startDeviceSimulator } from '../simulators/devices/server';
import { startPodmSimulator } from '../simulators/podm/server';
import { startServiceSimulator } from '../simulators/services/server';
import { startBenchStack, until } from '../bench/support';

const OUT = path.resolve(__dirname, '../test/fixtures/histories');
const FAST_ONBOARD = { verifyTimeoutMs: 5_000, verifyMaxAttempts: 2, verifyInitialIntervalMs: 100, verifyMaxIntervalMs: 200, dbTimeoutMs: 10_000 };
const MAINT = { heartbeatTimeoutMs: 5_000, serviceStepMaxAttempts: 2, verifyMaxAttempts: 2, verifyInitialIntervalMs: 100, verifyTimeoutMs: 5_000 };

export interface ManifestEntry {
  file: string;
  workflowId: string;
  runId: string;
  workflowType: string;
  scenario: string;
}

async function main(): Promise<void> {
  const secretsDir = mkdtempSync(path.join(tmpdir(), 'dl-record-'));
  const secretsFile = path.join(secretsDir, 'secrets.json');
  writeFileSync(secretsFile, JSON.stringify({ good: { username: 'root', password: 'rec-pass' }, wrong: { username: 'root', password: 'nope' } }));
  process.env.SECRETS_FILE = secretsFile;

  const stack = await startBenchStack();
  const devices = await startDeviceSimulator({ port: 0 });
  const services = await startServiceSimulator({ port: 0 });
  const podms = await startPodmSimulator({ port: 0 });
  const app = createApp({
    db: stack.db,
    temporal: stack.temporal,
    taskQueue: stack.config.TEMPORAL_TASK_QUEUE,
    onboardTimings: FAST_ONBOARD,
    maintenanceTimings: MAINT,
    podmSyncTimings: { intervalMs: 3_600_000 },
    pooledActionTimings: { confirmTimeoutMs: 3_000, podmMaxAttempts: 1 },
  });
  const manifest: ManifestEntry[] = [];

  const op = (id: string) => request(app).get(`/v1/operations/${id}`).then((r) => r.body);
  const untilOp = (id: string, ok: (o: any) => boolean, what: string) => until(async () => {
    const o = await op(id);
    return ok(o) ? o : undefined;
  }, 60_000, what, 100);
  const closed = (id: string, runId?: string) => untilOp(id, (o) => o.status && o.status !== 'RUNNING' && (!runId || o.runId === runId), `${id} to close`);
  const check = (res: request.Response, status: number) => {
    if (res.status !== status) throw new Error(`expected ${status}, got ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  };

  async function save(file: string, scenario: string, handle: WorkflowHandle, expectStatus: string) {
    const d = await handle.describe();
    if (d.status.name !== expectStatus) throw new Error(`${file}: run is ${d.status.name}, expected ${expectStatus}`);
    const history = await handle.fetchHistory();
    writeFileSync(path.join(OUT, `${file}.json`), JSON.stringify(history, null, 1) + '\n');
    manifest.push({ file: `${file}.json`, workflowId: d.workflowId, runId: d.runId, workflowType: d.type, scenario });
    process.stderr.write(`recorded ${file} (${history.events?.length} events)\n`);
  }

  try {
    mkdirSync(OUT, { recursive: true });
    for (const f of readdirSync(OUT)) if (f.endsWith('.json')) rmSync(path.join(OUT, f));
    devices.addDevice({ id: 'rec-rf', kind: 'redfish', credentials: { username: 'root', password: 'rec-pass' } });
    const rf = (tag: string) => `${devices.baseUrlFor('rec-rf')}?n=${tag}`;

    // 1. onboarding that verifies first time.
    {
      const body = check(await request(app).post('/v1/devices').send({ name: 'rec-ok', type: 'SERVER', vendor: 'Contoso', endpoint: rf('ok'), credentialsRef: 'good' }), 202);
      const id = body.operation.workflowId;
      await closed(id);
      await save('onboard-success', 'onboarding verifies on the first attempt: select driver, VERIFYING, verify, ACTIVE', stack.temporal.workflow.getHandle(id), 'COMPLETED');
    }
    // 2. onboarding with rejected credentials, retried by an operator with a corrected reference.
    {
      const body = check(await request(app).post('/v1/devices').send({ name: 'rec-cred', type: 'SERVER', vendor: 'Contoso', endpoint: rf('cred'), credentialsRef: 'wrong' }), 202);
      const id = body.operation.workflowId;
      await untilOp(id, (o) => o.progress?.status === 'waiting_for_operator', 'onboarding to wait for an operator');
      check(await request(app).post(`/v1/operations/${id}/retry`).send({ credentialsRef: 'good' }), 202);
      await closed(id);
      await save('onboard-retry-credentials', 'credentials rejected -> VERIFY_FAILED, waits; operator retry with corrected credentialsRef -> ACTIVE', stack.temporal.workflow.getHandle(id), 'COMPLETED');
    }

    async function maintained(tag: string, workloads: number, knobs: Record<string, unknown> = {}) {
      devices.addDevice({ id: `bmc-${tag}`, kind: 'redfish' });
      const device = await stack.db.device.create({
        data: { name: `rec-${tag}`, type: 'HYPERVISOR', vendor: 'Contoso', endpoint: devices.baseUrlFor(`bmc-${tag}`), driverName: 'redfish', state: 'ACTIVE', verifiedAt: new Date() },
      });
      services.addService({ id: `svc-${tag}`, kind: 'compute', host: 'h1', devices: { ref: { workloads } }, ...knobs });
      check(await request(app).post('/v1/services').send({ name: `nova-${tag}`, kind: 'COMPUTE', host: `${tag}.example`, endpoint: services.baseUrlFor(`svc-${tag}`), devices: [{ device: device.name, deviceRef: 'ref' }] }), 201);
      return device.name;
    }
    const phase = (name: string, p: string) => until(async () => {
      const m = (await request(app).get(`/v1/devices/${name}/maintenance`)).body;
      return m.phase === p ? m : undefined;
    }, 60_000, `${name} ${p}`, 100);

    // 3. maintenance: cordon, drain, hold, resume.
    {
      const name = await maintained('mnt', 20);
      const body = check(await request(app).post(`/v1/devices/${name}/maintenance`).send({ reason: 'replace DIMM', concurrency: 5 }), 202);
      await phase(name, 'in_maintenance');
      check(await request(app).post(`/v1/devices/${name}/maintenance/resume`).send({}), 202);
      await closed(body.operation.workflowId);
      await save('maintenance-resume', 'cordon, drain 20 workloads, hold in MAINTENANCE, operator resume: uncordon, re-verify, ACTIVE', stack.temporal.workflow.getHandle(body.operation.workflowId), 'COMPLETED');
    }
    // 4. maintenance whose drain misses its deadline, retried by an operator, then resumed.
    {
      const name = await maintained('dfail', 6);
      services.updateService('svc-dfail', { stuck: ['svc-dfail-ref-w2'] });
      const body = check(await request(app).post(`/v1/devices/${name}/maintenance`).send({ reason: 'rack move', drainTimeout: 2, concurrency: 3 }), 202);
      await phase(name, 'drain_failed');
      services.updateService('svc-dfail', { stuck: [] });
      check(await request(app).post(`/v1/devices/${name}/maintenance/retry`).send({ drainTimeout: '30s' }), 202);
      await phase(name, 'in_maintenance');
      check(await request(app).post(`/v1/devices/${name}/maintenance/resume`).send({}), 202);
      await closed(body.operation.workflowId);
      await save('maintenance-drain-failed-retry', 'drain misses its deadline -> DRAIN_FAILED (cordon kept); operator retries the drain -> MAINTENANCE; resume -> ACTIVE', stack.temporal.workflow.getHandle(body.operation.workflowId), 'COMPLETED');
    }
    // 5. pod manager sync that continues as new (2 syncs per run, one a second).
    {
      podms.addPodm({ id: 'rec-podm', seed: 3, resources: 12, nodes: 2, attachedFraction: 0.25 });
      const local = createApp({ db: stack.db, temporal: stack.temporal, taskQueue: stack.config.TEMPORAL_TASK_QUEUE, podmSyncTimings: { syncsPerRun: 2 } });
      const reg = check(await request(local).post('/v1/podmanagers').send({ name: 'rec-podm', url: podms.baseUrlFor('rec-podm'), syncInterval: 1 }), 201);
      const workflowId = reg.operation.workflowId as string;
      const first = await until(async () => {
        for await (const run of stack.temporal.workflow.list({ query: `WorkflowId = '${workflowId}' AND ExecutionStatus = 'ContinuedAsNew'` })) return run;
        return undefined;
      }, 60_000, 'podm sync to continue as new', 200);
      await save('podm-sync-continue-as-new', 'first run: initial sync, a timed sync, then continue-as-new', stack.temporal.workflow.getHandle(workflowId, first.runId), 'CONTINUED_AS_NEW');
      check(await request(local).delete('/v1/podmanagers/rec-podm'), 200);
    }
    // 6. pooled attach, and an attach that fails after the pod manager applied it (compensated).
    {
      podms.addPodm({ id: 'rec-pool', seed: 5, resources: 4, nodes: 2, attachedFraction: 0 });
      check(await request(app).post('/v1/podmanagers').send({ name: 'rec-pool', url: podms.baseUrlFor('rec-pool') }), 201);
      const podm = await until(() => stack.db.podManager.findFirst({ where: { name: 'rec-pool', lastSyncAt: { not: null } } }).then((p) => p ?? undefined), 30_000, 'first sync', 100);
      const node = await stack.db.composedNode.findFirstOrThrow({ where: { podmId: podm.id, nodeId: '1' } });
      const [d1, d2] = await stack.db.pooledDevice.findMany({ where: { podmId: podm.id }, orderBy: { resourceId: 'asc' }, take: 2 });
      const ok = check(await request(app).post(`/v1/nodes/${node.id}/action`).send({ attach: { device_id: d1!.id } }), 202);
      await closed(ok.operation.workflowId);
      await save('pooled-attach', 'attach: check, call the node action, confirm by reading back, record', stack.temporal.workflow.getHandle(ok.operation.workflowId), 'COMPLETED');

      podms.updatePodm('rec-pool', { failActions: { mode: 'afterApply', actions: ['attach'] } });
      const bad = check(await request(app).post(`/v1/nodes/${node.id}/action`).send({ attach: { device_id: d2!.id } }), 202);
      await closed(bad.operation.workflowId);
      await save('pooled-attach-compensated', 'attach applied by the pod manager but answered as failed: compensation detaches, run fails', stack.temporal.workflow.getHandle(bad.operation.workflowId), 'FAILED');
      // The pool's sync run: first sync, a refresh (update answered with its sync), cancelled by DELETE.
      podms.updatePodm('rec-pool', { failActions: null });
      check(await request(app).post('/v1/podmanagers/rec-pool/refresh').send({}), 200);
      check(await request(app).delete('/v1/podmanagers/rec-pool'), 200);
      const syncId = `podm-sync-rec-pool`;
      await until(async () => ((await stack.temporal.workflow.getHandle(syncId).describe()).status.name === 'CANCELLED' ? true : undefined), 30_000, 'podm sync cancelled', 100);
      await save('podm-sync-refresh-cancelled', 'sync, a refresh update answered with its sync, then cancelled by DELETE /v1/podmanagers', stack.temporal.workflow.getHandle(syncId), 'CANCELLED');
    }
    writeFileSync(path.join(OUT, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
    process.stderr.write(`wrote ${manifest.length} histories to ${path.relative(process.cwd(), OUT)}\n`);
  } finally {
    await podms.close();
    await services.close();
    await devices.close();
    await stack.close();
    rmSync(secretsDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
