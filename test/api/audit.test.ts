import request from 'supertest';
import { createApp } from '../../src/api/app';
import { tokenStoreFromConfig } from '../../src/auth/tokens';
import { loadConfig } from '../../src/config';
import { startPodmSimulator, type PodmSimulator } from '../../simulators/podm/server';
import { closedEndpoint, eventually, FAST_ONBOARD, startTestStack, uniq, type TestStack } from '../helpers/stack';

/**
 * The audit trail of pod managers, pooled devices and operator decisions: who did what, when,
 * on which run, with what outcome, through the API with real tokens, a real worker and the pod
 * manager simulator. (Device state changes have their rows checked by the workflow tests.)
 */
const TOKENS = { reader: 'audit-reader-0123456789abc', alice: 'audit-alice-0123456789abcd', bob: 'audit-bob-0123456789abcdef', root: 'audit-root-0123456789abcde' };
const as = (token: string) => ({ authorization: `Bearer ${token}` });

let stack: TestStack;
let podms: PodmSimulator;
let app: ReturnType<typeof createApp>;

beforeAll(async () => {
  stack = await startTestStack();
  podms = await startPodmSimulator({ port: 0 });
  const config = loadConfig({ API_TOKENS: `reader:reader:${TOKENS.reader},alice:operator:${TOKENS.alice},bob:operator:${TOKENS.bob},root:admin:${TOKENS.root}` });
  app = createApp({
    db: stack.db,
    temporal: stack.temporal,
    taskQueue: stack.config.TEMPORAL_TASK_QUEUE,
    auth: tokenStoreFromConfig(config),
    onboardTimings: FAST_ONBOARD,
    podmSyncTimings: { intervalMs: 3_600_000 },
    pooledActionTimings: { podmMaxAttempts: 1, confirmTimeoutMs: 3_000 },
  });
});
afterAll(async () => {
  await podms?.close();
  await stack?.close();
});

const trail = async (path: string) => (await request(app).get(path).set(as(TOKENS.reader)).expect(200)).body.items as Array<Record<string, any>>;
const brief = (rows: Array<Record<string, any>>) => rows.map((e) => `${e.action} ${e.actor} ${e.outcome}`);

test('pod manager and pooled device: registration, syncs, a failed attach, its retry, refreshes and deletion are all in the trail', async () => {
  const name = uniq('podm');
  // The first attach is applied and then answered 500: the run fails and puts the device back.
  podms.addPodm({ id: name, seed: 3, resources: 6, nodes: 2, attachedFraction: 0, failActions: { mode: 'afterApply', actions: ['attach'], times: 1 } });
  const reg = await request(app).post('/v1/podmanagers').set(as(TOKENS.root)).send({ name, url: podms.baseUrlFor(name) }).expect(201);
  const podmId = reg.body.podmanager.id as string;
  const syncId = reg.body.operation.workflowId as string;
  await eventually(async () => ((await stack.db.podManager.findUniqueOrThrow({ where: { id: podmId } })).lastSyncStatus === 'ok' ? true : undefined), 30_000, 'first sync');

  const device = await stack.db.pooledDevice.findFirstOrThrow({ where: { podmId } });
  const node = await stack.db.composedNode.findFirstOrThrow({ where: { podmId, nodeId: '1' } });
  const attach = await request(app).post(`/v1/nodes/${node.id}/action`).set(as(TOKENS.alice)).send({ attach: { device_id: device.id } }).expect(202);
  const workflowId = attach.body.operation.workflowId as string;
  await eventually(async () => ((await stack.temporal.workflow.getHandle(workflowId).describe()).status.name === 'FAILED' ? true : undefined), 30_000, 'the attach to fail');

  // Retry by another operator: the same attach, started again; it succeeds this time.
  const retried = await request(app).post(`/v1/operations/${workflowId}/retry`).set(as(TOKENS.bob)).send({}).expect(202);
  expect(retried.body.operation).toMatchObject({ workflowId, type: 'attach' });
  expect(retried.body.operation.runId).not.toBe(attach.body.operation.runId);
  await eventually(async () => ((await stack.temporal.workflow.getHandle(workflowId).describe()).status.name === 'COMPLETED' ? true : undefined), 30_000, 'the retried attach');
  expect(await stack.db.pooledDevice.findUniqueOrThrow({ where: { id: device.id } })).toMatchObject({ nodeId: '1', state: 'ALLOCATED', lockedBy: null });
  // Nothing left to retry: 409, and the attempt is recorded too.
  const again = await request(app).post(`/v1/operations/${workflowId}/retry`).set(as(TOKENS.bob)).send({}).expect(409);
  expect(again.body.error.code).toBe('operation_completed');

  const pooled = await trail(`/v1/pooled/${device.id}/events`);
  expect(brief(pooled)).toEqual([
    'attach_requested user:alice accepted',
    'attach_failed user:alice failed',
    'attach_requested user:bob accepted', // the retry's new run (the decision's row follows its outcome)
    'retry user:bob accepted',
    'attached user:bob ok',
    'retry user:bob refused',
  ]);
  for (const e of pooled) expect(e).toMatchObject({ workflowId, operation: 'attach', pooledId: device.id, createdAt: expect.any(String) });
  expect(pooled[1]).toMatchObject({ fromState: 'FREE', toState: 'FREE', message: expect.stringMatching(/put back free/) });
  expect(pooled[4]).toMatchObject({ action: 'attached', fromState: 'FREE', toState: 'ALLOCATED' });
  expect(pooled.some((e) => 'idempotencyKey' in e)).toBe(false);

  // A refresh, then a retry of the sync (which is a sync now); a change the sync finds; deletion.
  await request(app).post(`/v1/podmanagers/${name}/refresh`).set(as(TOKENS.alice)).send({}).expect(200);
  podms.addResources(name, 2);
  const retrySync = await request(app).post(`/v1/operations/${syncId}/retry`).set(as(TOKENS.bob)).send({}).expect(200);
  expect(retrySync.body.result).toMatchObject({ status: 'ok', added: 2 });
  await request(app).delete(`/v1/podmanagers/${name}`).set(as(TOKENS.root)).expect(200);

  const podm = await trail(`/v1/podmanagers/${podmId}/events`);
  expect(brief(podm)).toEqual([
    'registered user:root ok',
    'sync workflow ok', // the first sync added the devices
    'refresh user:alice ok',
    'sync workflow ok', // the retried sync found two more
    'retry user:bob accepted',
    'deleted user:root ok',
  ]);
  expect(podm[1]).toMatchObject({ workflowId: syncId, details: expect.objectContaining({ added: 6 }) });
  expect(podm[3]).toMatchObject({ details: expect.objectContaining({ added: 2 }) });
  expect(podm[5]).toMatchObject({ message: 'sync stopped; 8 devices marked VANISHED' });
  // The same trail by name, and 404s for what does not exist.
  expect(brief(await trail(`/v1/podmanagers/${name}/events`))).toEqual(brief(podm));
  expect((await request(app).get('/v1/podmanagers/no-such-podm/events').set(as(TOKENS.reader)).expect(404)).body.error.code).toBe('podmanager_not_found');
  expect((await request(app).get('/v1/pooled/00000000-0000-4000-8000-000000000000/events').set(as(TOKENS.reader)).expect(404)).body.error.code).toBe('pooled_device_not_found');
}, 120_000);

test('operator decisions on a device run are recorded, accepted or refused', async () => {
  const name = uniq('audit-dev');
  const res = await request(app)
    .post('/v1/devices')
    .set(as(TOKENS.alice))
    .send({ name, type: 'SERVER', vendor: 'Contoso', endpoint: await closedEndpoint(), driver: 'redfish' })
    .expect(202);
  const workflowId = res.body.operation.workflowId as string;
  await eventually(async () => ((await stack.db.device.findUniqueOrThrow({ where: { name } })).state === 'VERIFY_FAILED' ? true : undefined), 30_000, 'VERIFY_FAILED');
  await request(app).post(`/v1/operations/${workflowId}/cancel`).set(as(TOKENS.bob)).send({}).expect(202);
  await eventually(async () => ((await stack.temporal.workflow.getHandle(workflowId).describe()).status.name !== 'RUNNING' ? true : undefined), 30_000, 'the cancel');
  expect((await request(app).post(`/v1/operations/${workflowId}/cancel`).set(as(TOKENS.bob)).send({}).expect(409)).body.error.code).toBe('operation_closed');
  expect((await request(app).post(`/v1/operations/${workflowId}/retry`).set(as(TOKENS.alice)).send({}).expect(409)).body.error.code).toBe('operation_closed');

  const events = await trail(`/v1/devices/${name}/events`);
  expect(brief(events)).toEqual([
    'requested user:alice accepted',
    'verify user:alice ok',
    'verify_failed workflow ok',
    'cancel user:bob accepted',
    'abandon user:alice ok',
    'cancel user:bob refused',
    'retry user:alice refused',
  ]);
  for (const e of events) expect(e.workflowId).toBe(workflowId);
}, 60_000);
