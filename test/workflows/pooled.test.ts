import request from 'supertest';
import { createApp } from '../../src/api/app';
import { startPodmSimulator, type PodmSimulator } from '../../simulators/podm/server';
import { registerPodm, snapshot, untilOperationDone } from '../helpers/pooled';
import { eventually, startTestStack, uniq, type TestStack } from '../helpers/stack';

/** Pod manager sync, refresh, attach and detach: API, real worker and dev server, PostgreSQL, the Redfish pod manager simulator. */
let stack: TestStack;
let podms: PodmSimulator;
let app: ReturnType<typeof createApp>;

beforeAll(async () => {
  stack = await startTestStack();
  podms = await startPodmSimulator({ port: 0 });
  app = createApp({
    db: stack.db,
    temporal: stack.temporal,
    taskQueue: stack.config.TEMPORAL_TASK_QUEUE,
    // Long interval: after the first sync, only refreshes run, so counts are exact.
    podmSyncTimings: { intervalMs: 3_600_000, syncMaxAttempts: 2 },
    pooledActionTimings: { confirmTimeoutMs: 5_000, heartbeatTimeoutMs: 3_000, podmMaxAttempts: 3 },
  });
});
afterAll(async () => {
  await podms?.close();
  await stack?.close();
});

function newPodm(knobs: Record<string, unknown> = {}) {
  const id = uniq('podm');
  podms.addPodm({ id, seed: 7, resources: 300, nodes: 4, attachedFraction: 0.2, ...knobs });
  return { id, url: podms.baseUrlFor(id) };
}

const refresh = (name: string, body: Record<string, unknown> = {}) => request(app).post(`/v1/podmanagers/${name}/refresh`).send(body);

test('sync of 300 devices, then changes: added, moved, vanished; a second refresh changes nothing', async () => {
  const sim = newPodm();
  const { id } = await registerPodm(app, stack.db, sim.id, sim.url);
  const all = (await request(app).get(`/v1/pooled?podm_id=${id}&limit=1000`).expect(200)).body;
  expect(all.total).toBe(300);
  const allocated = all.items.filter((d: any) => d.state === 'ALLOCATED');
  expect(allocated.length).toBe(Object.values(all.items).filter((d: any) => d.node_id !== null).length);
  const storage = (await request(app).get(`/v1/pooled?type=storage&podm_id=${id}`).expect(200)).body;
  expect(storage.total).toBeGreaterThan(0);
  expect(storage.items.every((d: any) => d.type === 'storage')).toBe(true);
  expect(all.items[0]).toEqual(expect.objectContaining({ uuid: expect.any(String), podm_id: id, resource_uri: expect.stringMatching(/^\/redfish\/v1\//) }));

  const free = all.items.filter((d: any) => d.node_id === null);
  podms.addResources(sim.id, 20);
  for (const d of free.slice(0, 10)) podms.removeResource(sim.id, d.resource_id);
  for (const d of free.slice(10, 15)) podms.moveResource(sim.id, d.resource_id, '1');
  const result = (await refresh(sim.id).expect(200)).body.result;
  expect(result).toMatchObject({ status: 'ok', total: 310, added: 20, updated: 5, vanished: 10, unchanged: 285 });

  const vanished = (await request(app).get(`/v1/pooled?podm_id=${id}&state=vanished&limit=100`).expect(200)).body;
  expect(vanished.total).toBe(10); // marked, never deleted
  expect(vanished.items.every((d: any) => d.deleted_at !== null)).toBe(true);
  const moved = (await request(app).get(`/v1/pooled/${free[10].uuid}`).expect(200)).body;
  expect(moved).toMatchObject({ node_id: '1', state: 'ALLOCATED' });
  expect((await request(app).get(`/v1/pooled?podm_id=${id}&node_id=1&limit=1000`).expect(200)).body.items.some((d: any) => d.uuid === free[10].uuid)).toBe(true);

  expect((await refresh(sim.id).expect(200)).body.result).toMatchObject({ status: 'ok', added: 0, updated: 0, vanished: 0, unchanged: 310 });
  // A vanished device that comes back is revived, not duplicated.
  podms.addResources(sim.id, [{ id: free[0].resource_id, type: free[0].type }]);
  const back = (await refresh(sim.id).expect(200)).body.result;
  expect(back.total).toBe(311);
  expect((await request(app).get(`/v1/pooled/${free[0].uuid}`).expect(200)).body).toMatchObject({ state: 'FREE', deleted_at: null });
});

test('5xx, timeouts, malformed and partial reads change nothing; an empty answer is refused', async () => {
  const sim = newPodm({ maxPageSize: 100 }); // three pages, so a skipped or failed page can happen
  const { id } = await registerPodm(app, stack.db, sim.id, sim.url);
  const before = await snapshot(stack.db, id);
  // The pod manager really changed (one device gone): a sync that applied anything would show it.
  podms.removeResource(sim.id, (await stack.db.pooledDevice.findFirstOrThrow({ where: { podmId: id, nodeId: null } })).resourceId);
  for (const knobs of [
    { failRate: 1 },
    { malformed: true },
    { partial: 'dropMember' },
    { partial: 'skipPage' },
    { partial: 'endEarly' },
    { partial: 'failPage' },
  ] as const) {
    podms.updatePodm(sim.id, { failRate: 0, malformed: false, partial: null, ...knobs });
    const res = await refresh(sim.id);
    expect({ knobs, status: res.status, result: res.body.result?.status }).toEqual({ knobs, status: 502, result: 'failed' });
    expect(await snapshot(stack.db, id)).toEqual(before);
  }
  podms.updatePodm(sim.id, { failRate: 0, malformed: false, partial: null, empty: true });
  const refused = (await refresh(sim.id).expect(200)).body.result;
  expect(refused).toMatchObject({ status: 'refused', reason: expect.stringMatching(/listed 0 resources; applying it would vanish 300 of 300/) });
  expect(await snapshot(stack.db, id)).toEqual(before);
  const podm = (await request(app).get(`/v1/podmanagers/${sim.id}`).expect(200)).body;
  expect(podm.lastSync.status).toBe('refused');

  podms.updatePodm(sim.id, { empty: false });
  expect((await refresh(sim.id).expect(200)).body.result).toMatchObject({ status: 'ok', vanished: 1 });
});

test('a hanging pod manager times out and changes nothing', async () => {
  const sim = newPodm({ resources: 20 });
  const local = createApp({ db: stack.db, temporal: stack.temporal, taskQueue: stack.config.TEMPORAL_TASK_QUEUE, podmSyncTimings: { intervalMs: 3_600_000, syncMaxAttempts: 1, syncTimeoutMs: 3_000 } });
  const { id } = await registerPodm(local, stack.db, sim.id, sim.url);
  const before = await snapshot(stack.db, id);
  podms.updatePodm(sim.id, { hang: true });
  const res = await request(local).post(`/v1/podmanagers/${sim.id}/refresh`).send({}).expect(502);
  expect(res.body.result.error).toMatch(/timed out|timeout/i);
  expect(await snapshot(stack.db, id)).toEqual(before);
  podms.updatePodm(sim.id, { hang: false });
});

test('continue-as-new keeps syncing without skipping or duplicating a sync', async () => {
  const sim = newPodm({ resources: 30 });
  const local = createApp({ db: stack.db, temporal: stack.temporal, taskQueue: stack.config.TEMPORAL_TASK_QUEUE, podmSyncTimings: { syncsPerRun: 2 } });
  const { workflowId } = await registerPodm(local, stack.db, sim.id, sim.url, { syncInterval: 1 });
  const progress = await eventually(async () => {
    const op = (await request(local).get(`/v1/operations/${workflowId}`)).body;
    return op.progress?.syncs >= 7 ? op.progress : undefined;
  }, 60_000, '7 syncs');
  await request(local).delete(`/v1/podmanagers/${sim.id}`).expect(200);
  // Every closed run did exactly syncsPerRun syncs, and the counter carried over adds up.
  const runs = [];
  for await (const run of stack.temporal.workflow.list({ query: `WorkflowId = '${workflowId}'` })) runs.push(run);
  const continued = runs.filter((r) => r.status.name === 'CONTINUED_AS_NEW');
  expect(continued.length).toBeGreaterThanOrEqual(3);
  let syncsInClosedRuns = 0;
  for (const run of continued) {
    const history = await stack.temporal.workflow.getHandle(workflowId, run.runId).fetchHistory();
    const syncs = (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'syncPodManager').length;
    expect(syncs).toBe(2);
    syncsInClosedRuns += syncs;
  }
  expect(progress.syncs).toBeGreaterThanOrEqual(syncsInClosedRuns);
});

test('attach and detach through POST /v1/nodes/{id}/action (device_id and resource_id), read back on the pod manager', async () => {
  const sim = newPodm({ resources: 10, attachedFraction: 0 });
  const { id } = await registerPodm(app, stack.db, sim.id, sim.url);
  const node = await stack.db.composedNode.findFirstOrThrow({ where: { podmId: id, nodeId: '2' } });
  const device = await stack.db.pooledDevice.findFirstOrThrow({ where: { podmId: id } });

  const attach = await request(app).post(`/v1/nodes/${node.id}/action`).send({ attach: { device_id: device.id } }).expect(202);
  expect(attach.body.operation.workflowId).toBe(`attach-${device.id}`);
  const done = await untilOperationDone(app, attach.body.operation.workflowId);
  expect(done).toMatchObject({ status: 'COMPLETED', result: { outcome: 'attached', nodeId: '2' } });
  expect((await request(app).get(`/v1/pooled/${device.id}`).expect(200)).body).toMatchObject({ node_id: '2', state: 'ALLOCATED', current_operation: null });
  expect(podms.getResource(sim.id, device.resourceId)!.nodeId).toBe('2');

  // Attaching again to the same node is a no-op, by Valence's shipped resource_id.
  const again = await request(app).post(`/v1/nodes/${node.id}/action`).send({ attach: { resource_id: device.resourceId } }).expect(202);
  expect((await untilOperationDone(app, again.body.operation.workflowId)).result.outcome).toBe('unchanged');
  expect(podms.stats(sim.id).attachesApplied[device.resourceId]).toBe(1);

  const detach = await request(app).post(`/v1/nodes/${node.id}/action`).send({ detach: { device_id: device.id } }).expect(202);
  expect((await untilOperationDone(app, detach.body.operation.workflowId)).result).toMatchObject({ outcome: 'detached', nodeId: null });
  expect((await request(app).get(`/v1/pooled/${device.id}`).expect(200)).body).toMatchObject({ node_id: null, state: 'FREE' });
  expect(podms.getResource(sim.id, device.resourceId)!.nodeId).toBeNull();
});

test('a pod manager with the older RSD action names (AttachEndpoint) works the same', async () => {
  const sim = newPodm({ resources: 5, attachedFraction: 0, legacyActions: true });
  const { id } = await registerPodm(app, stack.db, sim.id, sim.url);
  const node = await stack.db.composedNode.findFirstOrThrow({ where: { podmId: id, nodeId: '1' } });
  const device = await stack.db.pooledDevice.findFirstOrThrow({ where: { podmId: id } });
  const res = await request(app).post(`/v1/nodes/${node.id}/action`).send({ attach: { device_id: device.id } }).expect(202);
  expect((await untilOperationDone(app, res.body.operation.workflowId)).result.outcome).toBe('attached');
  expect(podms.getResource(sim.id, device.resourceId)!.nodeId).toBe('1');
});

test('concurrent attach of one device to two nodes: one wins, the other gets 409', async () => {
  const sim = newPodm({ resources: 5, attachedFraction: 0, actionDelayMs: 300 });
  const { id } = await registerPodm(app, stack.db, sim.id, sim.url);
  const [n1, n2] = await stack.db.composedNode.findMany({ where: { podmId: id }, orderBy: { nodeId: 'asc' }, take: 2 });
  const device = await stack.db.pooledDevice.findFirstOrThrow({ where: { podmId: id } });
  const results = await Promise.all([
    request(app).post(`/v1/nodes/${n1!.id}/action`).send({ attach: { device_id: device.id } }),
    request(app).post(`/v1/nodes/${n2!.id}/action`).send({ attach: { device_id: device.id } }),
  ]);
  expect(results.map((r) => r.status).sort()).toEqual([202, 409]);
  const loser = results.find((r) => r.status === 409)!;
  expect(loser.body.error).toMatchObject({ code: 'operation_in_progress', details: { operation: { workflowId: `attach-${device.id}` } } });
  const winner = results.find((r) => r.status === 202)!;
  await untilOperationDone(app, winner.body.operation.workflowId);
  expect(podms.stats(sim.id).attachesApplied[device.resourceId]).toBe(1);
  const row = (await request(app).get(`/v1/pooled/${device.id}`).expect(200)).body;
  expect(row.node_id).toBe(winner.body.node_id);
  expect(podms.getResource(sim.id, device.resourceId)!.nodeId).toBe(winner.body.node_id);
  // Now attached: an attach to the other node is refused up front.
  const other = winner.body.node_id === n1!.nodeId ? n2! : n1!;
  expect((await request(app).post(`/v1/nodes/${other.id}/action`).send({ attach: { device_id: device.id } }).expect(409)).body.error.code).toBe('attached_elsewhere');
});

test('a failure after a partial change is compensated: the device is put back and the row says so', async () => {
  const sim = newPodm({ resources: 5, attachedFraction: 0, failActions: { mode: 'afterApply', actions: ['attach'] } });
  const strict = createApp({
    db: stack.db,
    temporal: stack.temporal,
    taskQueue: stack.config.TEMPORAL_TASK_QUEUE,
    podmSyncTimings: { intervalMs: 3_600_000 },
    pooledActionTimings: { podmMaxAttempts: 1, confirmTimeoutMs: 3_000 },
  });
  const { id } = await registerPodm(strict, stack.db, sim.id, sim.url);
  const node = await stack.db.composedNode.findFirstOrThrow({ where: { podmId: id, nodeId: '1' } });
  const device = await stack.db.pooledDevice.findFirstOrThrow({ where: { podmId: id } });
  const res = await request(strict).post(`/v1/nodes/${node.id}/action`).send({ attach: { device_id: device.id } }).expect(202);
  const op = await untilOperationDone(strict, res.body.operation.workflowId);
  expect(op.status).toBe('FAILED');
  expect(op.failure).toMatch(/attach failed: .*put back free/);
  const stats = podms.stats(sim.id);
  expect(stats.attachesApplied[device.resourceId]).toBe(1); // the pod manager did attach...
  expect(stats.detachesApplied[device.resourceId]).toBe(1); // ...and the compensation detached it
  expect(podms.getResource(sim.id, device.resourceId)!.nodeId).toBeNull();
  expect((await request(app).get(`/v1/pooled/${device.id}`).expect(200)).body).toMatchObject({ node_id: null, state: 'FREE', last_error: expect.stringMatching(/attach failed/), current_operation: null });
});

test('an attach racing a sync converges to the pod manager\'s truth', async () => {
  const sim = newPodm({ resources: 50, attachedFraction: 0, actionDelayMs: 800 });
  const { id } = await registerPodm(app, stack.db, sim.id, sim.url);
  const node = await stack.db.composedNode.findFirstOrThrow({ where: { podmId: id, nodeId: '3' } });
  const device = await stack.db.pooledDevice.findFirstOrThrow({ where: { podmId: id } });
  const res = await request(app).post(`/v1/nodes/${node.id}/action`).send({ attach: { device_id: device.id } }).expect(202);
  // Syncs while the pod manager has not yet applied the attach (it reads the device as free).
  const during = (await refresh(sim.id).expect(200)).body.result;
  expect(during.status).toBe('ok');
  await untilOperationDone(app, res.body.operation.workflowId);
  await refresh(sim.id).expect(200);
  const rows = await stack.db.pooledDevice.findMany({ where: { podmId: id } });
  for (const row of rows) expect(row.nodeId).toBe(podms.getResource(sim.id, row.resourceId)!.nodeId);
  expect(rows.find((r) => r.id === device.id)!.nodeId).toBe('3');
});

test('deleting a pod manager stops its sync and marks its devices', async () => {
  const sim = newPodm({ resources: 12 });
  const { id, workflowId } = await registerPodm(app, stack.db, sim.id, sim.url);
  const res = await request(app).delete(`/v1/podmanagers/${sim.id}`).expect(200);
  expect(res.body).toMatchObject({ deleted: true, devicesMarked: 12 });
  await eventually(async () => ((await stack.temporal.workflow.getHandle(workflowId).describe()).status.name === 'CANCELLED' ? true : undefined));
  expect(await stack.db.pooledDevice.count({ where: { podmId: id, state: 'VANISHED', deletedAt: { not: null } } })).toBe(12);
  expect(await stack.db.pooledDevice.count({ where: { podmId: id } })).toBe(12); // never hard-deleted
  expect((await request(app).get('/v1/podmanagers').expect(200)).body.items.some((p: any) => p.id === id)).toBe(false);
  expect((await refresh(sim.id).expect(409)).body.error.code).toBe('podmanager_deleted');
});

describe('bad input changes nothing', () => {
  test('pod manager registration', async () => {
    const sim = newPodm({ resources: 3 });
    const count = () => stack.db.podManager.count();
    const before = await count();
    const bad: [Record<string, unknown>, number, string][] = [
      [{ url: sim.url }, 400, 'name'],
      [{ name: 'ok-name' }, 400, 'url'],
      [{ name: 'ok-name', url: 'ftp://x' }, 400, 'url'],
      [{ name: 'ok-name', url: 'http://u:p@127.0.0.1:1' }, 400, 'url'],
      [{ name: 'ok-name', url: sim.url, syncInterval: -1 }, 400, 'syncInterval'],
      [{ name: 'ok-name', url: sim.url, extra: 1 }, 400, 'extra'],
      [{ name: 'ok-name', url: 'http://127.0.0.1:9/nothing-here' }, 422, 'url'],
      [{ name: 'ok-name', url: sim.url, credentialsRef: 'not-defined' }, 422, 'credentialsRef'],
    ];
    for (const [body, status, field] of bad) {
      const res = await request(app).post('/v1/podmanagers').send(body).expect(status);
      expect(JSON.stringify(res.body.error)).toContain(field);
    }
    expect(await count()).toBe(before);
    await registerPodm(app, stack.db, sim.id, sim.url);
    expect((await request(app).post('/v1/podmanagers').send({ name: sim.id, url: `${sim.url}/other` }).expect(409)).body.error.code).toBe('podmanager_exists');
    expect((await request(app).post('/v1/podmanagers').send({ name: uniq('other'), url: sim.url }).expect(409)).body.error.code).toBe('podmanager_exists');
    expect(await count()).toBe(before + 1);
  });

  test('pooled listing, node actions, unknown ids', async () => {
    expect((await request(app).get('/v1/pooled?type=toaster').expect(400)).body.error.message).toContain('type');
    expect((await request(app).get('/v1/pooled?limit=0').expect(400)).body.error.message).toContain('limit');
    expect((await request(app).get('/v1/pooled?podm_id=nope').expect(400)).body.error.message).toContain('podm_id');
    expect((await request(app).get('/v1/pooled?colour=red').expect(400)).body.error.message).toContain('colour');
    expect((await request(app).get('/v1/pooled/00000000-0000-4000-8000-000000000000').expect(404)).body.error.code).toBe('pooled_device_not_found');
    const sim = newPodm({ resources: 3, attachedFraction: 0 });
    const { id } = await registerPodm(app, stack.db, sim.id, sim.url);
    const node = await stack.db.composedNode.findFirstOrThrow({ where: { podmId: id } });
    const device = await stack.db.pooledDevice.findFirstOrThrow({ where: { podmId: id } });
    for (const body of [{}, { attach: {} }, { attach: { device_id: device.id, resource_id: 'x' } }, { attach: { device_id: device.id }, detach: { device_id: device.id } }, { mount: { device_id: device.id } }]) {
      expect((await request(app).post(`/v1/nodes/${node.id}/action`).send(body).expect(400)).body.error.code).toBe('validation_failed');
    }
    expect((await request(app).post('/v1/nodes/00000000-0000-4000-8000-000000000000/action').send({ attach: { device_id: device.id } }).expect(404)).body.error.code).toBe('node_not_found');
    expect((await request(app).post(`/v1/nodes/${node.id}/action`).send({ attach: { device_id: '00000000-0000-4000-8000-000000000000' } }).expect(404)).body.error.code).toBe('pooled_device_not_found');
    expect((await request(app).post('/v1/podmanagers/no-such-podm/refresh').send({}).expect(404)).body.error.code).toBe('podmanager_not_found');
    expect((await request(app).delete('/v1/podmanagers/no-such-podm').expect(404)).body.error.code).toBe('podmanager_not_found');
    const row = await stack.db.pooledDevice.findUniqueOrThrow({ where: { id: device.id } });
    expect(row).toMatchObject({ nodeId: null, lockedBy: null, state: 'FREE' });
    expect(podms.stats(sim.id).attachCalls).toBe(0);
  });
});
