import { bundleWorkflowCode } from '@temporalio/worker';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { createApp } from '../../src/api/app';
import { FAILURE_CONVERTER_PATH } from '../../src/temporal/codec';
import { startPodmSimulator, type PodmSimulator } from '../../simulators/podm/server';
import { startServiceSimulator, type ServiceSimulator } from '../../simulators/services/server';
import { activeDevice, registerService, untilMaintenance } from '../helpers/maintenance';
import { untilOperationDone } from '../helpers/pooled';
import type { Plan } from '../helpers/chaos/worker';
import { workerProcesses, type ServiceProcess } from '../helpers/processes';
import { eventually, startTestStack, uniq, type TestStack } from '../helpers/stack';

/**
 * The worker process SIGKILLed at a chosen point, for every workflow type:
 *  - "activity-done": an activity has done its work (its side effects happened) and dies before
 *    reporting it, so Temporal runs it again after its timeout;
 *  - "workflow-task": a workflow task has been processed and is about to schedule the next
 *    activity, and dies before the completion reaches the server, so the task times out and a
 *    new worker replays the history and makes the same decision.
 * The chaos worker (test/helpers/chaos/worker.ts) is the product's worker with a test-only
 * interceptor; the worker that finishes each run is the plain src/worker.ts. Every case checks
 * that the kill happened where planned (its marker and, in the history, the timed-out task or
 * the second attempt), that the run finished, and that each side effect happened once.
 */
let stack: TestStack;
let services: ServiceSimulator;
let podms: PodmSimulator;
let chaosBundle: string;
const spawned: Array<ReturnType<typeof workerProcesses>> = [];

// Short timeouts so a task lost with its worker comes back in seconds (the defaults are minutes).
const timings = {
  onboardTimings: { verifyTimeoutMs: 5_000, verifyMaxAttempts: 5, verifyInitialIntervalMs: 200, dbTimeoutMs: 3_000 },
  maintenanceTimings: { heartbeatTimeoutMs: 2_000, serviceStepTimeoutMs: 3_000, dbTimeoutMs: 3_000, verifyTimeoutMs: 5_000 },
  podmSyncTimings: { heartbeatTimeoutMs: 2_000, syncMaxAttempts: 10 },
  pooledActionTimings: { heartbeatTimeoutMs: 2_000, podmStepTimeoutMs: 3_000, dbTimeoutMs: 3_000, confirmTimeoutMs: 20_000, podmMaxAttempts: 10 },
};

beforeAll(async () => {
  stack = await startTestStack({ worker: false });
  services = await startServiceSimulator({ port: 0 });
  podms = await startPodmSimulator({ port: 0 });
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../../src/workflows'),
    failureConverterPath: FAILURE_CONVERTER_PATH,
    workflowInterceptorModules: [require.resolve('../helpers/chaos/workflow-interceptor')],
    logger: { trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error, log() {} } as never,
  });
  chaosBundle = path.join(mkdtempSync(path.join(tmpdir(), 'dl-chaos-')), 'workflow-bundle.js');
  writeFileSync(chaosBundle, code);
}, 120_000);
afterAll(async () => {
  for (const w of spawned) await w.killAll();
  await podms?.close();
  await services?.close();
  await stack?.close();
});

/** An API on a task queue of its own, served first by a chaos worker that will die by `plan`. */
async function chaosQueue(plan: Plan) {
  for (const w of spawned) await w.killAll(); // the previous case's workers
  const taskQueue = uniq('kill');
  const workers = workerProcesses(taskQueue, 'error');
  spawned.push(workers);
  const app = createApp({ db: stack.db, temporal: stack.temporal, taskQueue, ...timings });
  const chaos = workers.start('test/helpers/chaos/worker.ts', { CHAOS_PLAN: JSON.stringify(plan), CHAOS_WORKFLOW_BUNDLE: chaosBundle });
  return {
    app,
    /** Waits for the chaos worker to kill itself where planned, then starts a plain worker. */
    async diedThenRecover(): Promise<ServiceProcess> {
      await eventually(async () => (chaos.child.signalCode !== null || chaos.child.exitCode !== null ? true : undefined), 60_000, 'the chaos worker to die');
      // (The output is in the comparison so a worker that died otherwise shows why.)
      expect({ signal: chaos.child.signalCode, output: chaos.output() }).toEqual({ signal: 'SIGKILL', output: expect.stringMatching(/chaos: SIGKILL /) });
      return workers.start();
    },
  };
}

type HistoryEvent = Record<string, any>;
async function history(workflowId: string, runId?: string): Promise<HistoryEvent[]> {
  const h = await stack.temporal.workflow.getHandle(workflowId, runId).fetchHistory();
  return (h.events ?? []) as HistoryEvent[];
}

/** How often `activityType` was scheduled, and the attempt that completed each time. */
function activityRuns(events: HistoryEvent[], activityType: string): Array<{ completedAttempt?: number }> {
  const scheduled = events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === activityType);
  return scheduled.map((s) => {
    const id = Number(s.eventId);
    const started = events.find((e) => e.activityTaskStartedEventAttributes && Number(e.activityTaskStartedEventAttributes.scheduledEventId) === id);
    const completed = events.find((e) => e.activityTaskCompletedEventAttributes && Number(e.activityTaskCompletedEventAttributes.scheduledEventId) === id);
    return { completedAttempt: completed ? started?.activityTaskStartedEventAttributes.attempt : undefined };
  });
}

const workflowTaskTimeouts = (events: HistoryEvent[]) => events.filter((e) => e.workflowTaskTimedOutEventAttributes).length;

async function onboardCase(plan: Plan) {
  const { app, diedThenRecover } = await chaosQueue(plan);
  const bmc = uniq('bmc');
  stack.sim.addDevice({ id: bmc, kind: 'redfish' });
  const name = uniq('kill-onboard');
  const res = await request(app).post('/v1/devices').send({ name, type: 'SERVER', vendor: 'Contoso', endpoint: stack.sim.baseUrlFor(bmc) }).expect(202);
  const workflowId = res.body.operation.workflowId as string;
  await diedThenRecover();
  const op = await untilOperationDone(app, workflowId, 90_000);
  expect(op).toMatchObject({ status: 'COMPLETED', result: { outcome: 'active' } });
  const device = await stack.db.device.findUniqueOrThrow({ where: { name } });
  expect(device).toMatchObject({ state: 'ACTIVE', lockedBy: null });
  // One audit row per transition: the replayed activity did not record its transition twice.
  const events = await stack.db.operationEvent.findMany({ where: { deviceId: device.id }, orderBy: { id: 'asc' } });
  expect(events.map((e) => e.action)).toEqual(['requested', 'verify', 'verify_succeeded']);
  return history(workflowId);
}

test('onboarding: killed after transitionDevice did its work, before reporting it', async () => {
  const events = await onboardCase({ at: 'activity-done', workflowType: 'onboardDevice', activityType: 'transitionDevice' });
  expect(activityRuns(events, 'transitionDevice')).toEqual([{ completedAttempt: 2 }]);
}, 120_000);

test('onboarding: killed in the workflow task that schedules recordVerification', async () => {
  const events = await onboardCase({ at: 'workflow-task', workflowType: 'onboardDevice', schedules: 'recordVerification' });
  expect(workflowTaskTimeouts(events)).toBe(1);
  expect(activityRuns(events, 'recordVerification')).toEqual([{ completedAttempt: 1 }]);
  expect(activityRuns(events, 'verifyDriver')).toEqual([{ completedAttempt: 1 }]);
}, 120_000);

async function maintenanceCase(plan: Plan) {
  const { app, diedThenRecover } = await chaosQueue(plan);
  const bmc = uniq('bmc');
  stack.sim.addDevice({ id: bmc, kind: 'redfish' });
  const host = await activeDevice(stack.db, stack.sim.baseUrlFor(bmc));
  const svc = uniq('svc');
  const deviceRef = `${host.name}-ref`;
  services.addService({ id: svc, kind: 'compute', host: 'h', migrationMs: 20, devices: { [deviceRef]: { workloads: 30 } } });
  await registerService(app, services.baseUrlFor(svc), host.name, deviceRef);
  const res = await request(app).post(`/v1/devices/${host.name}/maintenance`).send({ reason: 'kill point', concurrency: 4 }).expect(202);
  const workflowId = res.body.operation.workflowId as string;
  await diedThenRecover();
  const held = await untilMaintenance(app, host.name, (m) => m.phase === 'in_maintenance', 90_000);
  expect(held.drain).toMatchObject({ total: 30, migrated: 30 });
  // Every workload migrated exactly once, whatever the worker was doing when it died.
  const started = services.stats(svc).migrationsStarted;
  expect(Object.keys(started)).toHaveLength(30);
  expect(Object.entries(started).filter(([, n]) => n !== 1)).toEqual([]);
  expect(services.getService(svc)!.devices[deviceRef].status).toBe('disabled');
  const events = await stack.db.operationEvent.findMany({ where: { deviceId: host.id }, orderBy: { id: 'asc' } });
  expect(events.map((e) => e.action)).toEqual(['requested', 'drain', 'drain_succeeded']);
  await request(app).post(`/v1/devices/${host.name}/maintenance/resume`).send({}).expect(202);
  await untilMaintenance(app, host.name, (m) => m.status === 'COMPLETED', 60_000);
  return history(workflowId);
}

test('maintenance: killed after drainWorkloads migrated everything, before reporting it', async () => {
  const events = await maintenanceCase({ at: 'activity-done', workflowType: 'maintenanceDevice', activityType: 'drainWorkloads' });
  expect(activityRuns(events, 'drainWorkloads')).toEqual([{ completedAttempt: 2 }]);
}, 120_000);

test('maintenance: killed in the workflow task that schedules drainWorkloads', async () => {
  const events = await maintenanceCase({ at: 'workflow-task', workflowType: 'maintenanceDevice', schedules: 'drainWorkloads' });
  expect(workflowTaskTimeouts(events)).toBe(1);
  expect(activityRuns(events, 'drainWorkloads')).toEqual([{ completedAttempt: 1 }]);
}, 120_000);

async function podmSyncCase(plan: Plan) {
  const { app, diedThenRecover } = await chaosQueue(plan);
  const podmName = uniq('podm');
  podms.addPodm({ id: podmName, seed: 11, resources: 120, nodes: 2, attachedFraction: 0.25, maxPageSize: 50 });
  const reg = await request(app).post('/v1/podmanagers').send({ name: podmName, url: podms.baseUrlFor(podmName), syncInterval: '1h' }).expect(201);
  const podmId = reg.body.podmanager.id as string;
  const workflowId = reg.body.operation.workflowId as string;
  const { runId } = await stack.temporal.workflow.getHandle(workflowId).describe();
  await diedThenRecover();
  const row = await eventually(async () => {
    const p = await stack.db.podManager.findUniqueOrThrow({ where: { id: podmId } });
    return p.lastSyncStatus ? p : undefined;
  }, 90_000, 'the first sync');
  expect(row.lastSyncStatus).toBe('ok');
  // One row per resource: the sync that ran again wrote nothing twice.
  expect(await stack.db.pooledDevice.count({ where: { podmId } })).toBe(120);
  // The run itself counts one sync (the retried activity is invisible to it).
  // (The killed attempt already wrote lastSyncStatus; the run learns of the sync from the retry.)
  const progress = await eventually(async () => {
    const p = (await request(app).get(`/v1/operations/${workflowId}`).expect(200)).body.progress;
    return p?.syncs >= 1 ? p : undefined;
  }, 60_000, 'the run to count its sync');
  expect(progress).toMatchObject({ syncs: 1, last: { status: 'ok', total: 120 } });
  await request(app).delete(`/v1/podmanagers/${podmName}`).expect(200);
  return history(workflowId, runId);
}

test('pod manager sync: killed after syncPodManager wrote the rows, before reporting it', async () => {
  const events = await podmSyncCase({ at: 'activity-done', workflowType: 'podmSync', activityType: 'syncPodManager' });
  expect(activityRuns(events, 'syncPodManager')).toEqual([{ completedAttempt: 2 }]);
}, 120_000);

test('pod manager sync: killed in the first workflow task, which schedules syncPodManager', async () => {
  const events = await podmSyncCase({ at: 'workflow-task', workflowType: 'podmSync', schedules: 'syncPodManager' });
  expect(workflowTaskTimeouts(events)).toBe(1);
  expect(activityRuns(events, 'syncPodManager')).toEqual([{ completedAttempt: 1 }]);
}, 120_000);

async function pooledCase(plan: Plan, action: 'attach' | 'detach') {
  const { app, diedThenRecover } = await chaosQueue(plan);
  const podmName = uniq('podm');
  // Half the resources start attached to node 1, so there is something to detach.
  podms.addPodm({ id: podmName, seed: 7, resources: 20, nodes: 2, attachedFraction: 0.5, actionDelayMs: 500 });
  const reg = await request(app).post('/v1/podmanagers').send({ name: podmName, url: podms.baseUrlFor(podmName), syncInterval: '1h' }).expect(201);
  const podmId = reg.body.podmanager.id as string;
  // The sync runs on the chaos worker too; it is not the planned kill point, so it just finishes.
  await eventually(async () => ((await stack.db.podManager.findUniqueOrThrow({ where: { id: podmId } })).lastSyncStatus === 'ok' ? true : undefined), 60_000, 'first sync');
  const pooled = await stack.db.pooledDevice.findFirstOrThrow({ where: { podmId, nodeId: action === 'attach' ? null : { not: null } } });
  const node = await stack.db.composedNode.findFirstOrThrow({ where: { podmId, nodeId: action === 'attach' ? '2' : pooled.nodeId! } });
  const res = await request(app).post(`/v1/nodes/${node.id}/action`).send({ [action]: { device_id: pooled.id } }).expect(202);
  const workflowId = res.body.operation.workflowId as string;
  await diedThenRecover();
  const op = await untilOperationDone(app, workflowId, 90_000);
  expect(op).toMatchObject({ status: 'COMPLETED', result: { outcome: action === 'attach' ? 'attached' : 'detached' } });
  const stats = podms.stats(podmName);
  // The pod manager changed the device exactly once.
  expect(action === 'attach' ? stats.attachesApplied : stats.detachesApplied).toEqual({ [pooled.resourceId]: 1 });
  expect(await stack.db.pooledDevice.findUniqueOrThrow({ where: { id: pooled.id } })).toMatchObject({
    nodeId: action === 'attach' ? '2' : null,
    lockedBy: null,
  });
  await request(app).delete(`/v1/podmanagers/${podmName}`).expect(200);
  return history(workflowId);
}

test('attach: killed after callPodmAction reached the pod manager, before reporting it', async () => {
  const events = await pooledCase({ at: 'activity-done', workflowType: 'pooledAction', activityType: 'callPodmAction' }, 'attach');
  expect(activityRuns(events, 'callPodmAction')).toEqual([{ completedAttempt: 2 }]);
}, 120_000);

test('detach: killed in the workflow task that schedules callPodmAction', async () => {
  const events = await pooledCase({ at: 'workflow-task', workflowType: 'pooledAction', schedules: 'callPodmAction' }, 'detach');
  expect(workflowTaskTimeouts(events)).toBe(1);
  expect(activityRuns(events, 'callPodmAction')).toEqual([{ completedAttempt: 1 }]);
}, 120_000);
