import request from 'supertest';
import { createApp } from '../../src/api/app';
import { startPodmSimulator, type PodmSimulator } from '../../simulators/podm/server';
import { untilOperationDone } from '../helpers/pooled';
import { workerProcesses } from '../helpers/processes';
import { eventually, startTestStack, uniq, type TestStack } from '../helpers/stack';

/**
 * The worker process is killed (SIGKILL) after the pod manager answered 204 to the attach and
 * before the database recorded it; a new worker finishes. One attachment, a consistent row.
 */
let stack: TestStack;
let podms: PodmSimulator;
let workers: ReturnType<typeof workerProcesses> | undefined;

beforeAll(async () => {
  stack = await startTestStack({ worker: false });
  podms = await startPodmSimulator({ port: 0 });
});
afterAll(async () => {
  await workers?.killAll();
  await podms?.close();
  await stack?.close();
});

test('SIGKILL between the pod manager\'s 204 and the database write: one attachment, consistent row', async () => {
  const taskQueue = uniq('kill-attach');
  workers = workerProcesses(taskQueue);
  const app = createApp({
    db: stack.db,
    temporal: stack.temporal,
    taskQueue,
    podmSyncTimings: { intervalMs: 3_600_000 },
    pooledActionTimings: { heartbeatTimeoutMs: 2_000, confirmTimeoutMs: 30_000 },
  });
  const simId = uniq('podm');
  // The pod manager takes 4 s to show an attach: the worker is then confirming, the row not yet written.
  podms.addPodm({ id: simId, seed: 3, resources: 5, nodes: 2, attachedFraction: 0, actionDelayMs: 4_000 });

  const first = workers.start();
  const reg = await request(app).post('/v1/podmanagers').send({ name: simId, url: podms.baseUrlFor(simId) }).expect(201);
  const podmId = reg.body.podmanager.id;
  await eventually(async () => ((await stack.db.podManager.findUniqueOrThrow({ where: { id: podmId } })).lastSyncAt ? true : undefined), 60_000);
  const node = await stack.db.composedNode.findFirstOrThrow({ where: { podmId, nodeId: '1' } });
  const device = await stack.db.pooledDevice.findFirstOrThrow({ where: { podmId } });

  const res = await request(app).post(`/v1/nodes/${node.id}/action`).send({ attach: { device_id: device.id } }).expect(202);
  await eventually(async () => (podms.stats(simId).attachCalls >= 1 ? true : undefined), 30_000, 'the attach call');
  await first.stop('SIGKILL');
  const atKill = await stack.db.pooledDevice.findUniqueOrThrow({ where: { id: device.id } });
  expect(atKill.nodeId).toBeNull(); // really before the database write

  workers.start();
  const op = await untilOperationDone(app, res.body.operation.workflowId, 90_000);
  expect(op).toMatchObject({ status: 'COMPLETED', result: { outcome: 'attached', nodeId: '1' } });
  expect(podms.stats(simId).attachesApplied[device.resourceId]).toBe(1);
  const row = await stack.db.pooledDevice.findUniqueOrThrow({ where: { id: device.id } });
  expect(row).toMatchObject({ nodeId: '1', state: 'ALLOCATED', lockedBy: null });
  expect(podms.getResource(simId, device.resourceId)!.nodeId).toBe('1');
}, 180_000);
