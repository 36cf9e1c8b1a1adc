import type { Worker } from '@temporalio/worker';
import request from 'supertest';
import { createApp } from '../../src/api/app';
import type { Db } from '../../src/db/client';
import { createWorker } from '../../src/worker-setup';
import { progressQuery } from '../../src/workflows/definitions';
import { eventually, FAST_ONBOARD, startTestStack, uniq, type TestStack } from '../helpers/stack';
import { startTcpProxy, type TcpProxy } from './tcp-proxy';

/**
 * PostgreSQL refuses connections for a while in the middle of an onboarding: the worker reaches
 * the database through a TCP proxy that is cut (listener closed, open connections destroyed) and
 * restored. The database step retries until the database answers again, and the run finishes
 * with a consistent device row and an audit trail written exactly once.
 */
const OUTAGE_MS = 3_000;
let stack: TestStack;
let proxy: TcpProxy;
let worker: Worker;
let workerDb: Db;
let running: Promise<void>;
let app: ReturnType<typeof createApp>;

beforeAll(async () => {
  stack = await startTestStack({ worker: false });
  const pg = new URL(stack.config.DATABASE_URL);
  proxy = await startTcpProxy({ host: pg.hostname, port: Number(pg.port || 5432) });
  const viaProxy = new URL(stack.config.DATABASE_URL);
  viaProxy.hostname = '127.0.0.1';
  viaProxy.port = String(proxy.port);
  const handle = await createWorker({ ...stack.config, DATABASE_URL: viaProxy.toString() }, { workflowBundlePath: process.env.TEST_WORKFLOW_BUNDLE });
  worker = handle.worker;
  workerDb = handle.db;
  running = worker.run();
  // The API writes through its own (direct) connection: only the worker loses the database.
  app = createApp({ db: stack.db, temporal: stack.temporal, taskQueue: stack.config.TEMPORAL_TASK_QUEUE, onboardTimings: FAST_ONBOARD });
});
afterAll(async () => {
  await proxy?.restore().catch(() => undefined);
  if (worker) {
    worker.shutdown();
    await running;
  }
  await workerDb?.$disconnect();
  await proxy?.close();
  await stack?.close();
});

test('connections refused for ~3 s during verification: the next database step retries, the run finishes, nothing is half-written or doubled', async () => {
  // Verification takes a while (every request to the device is slow): the cut lands inside it,
  // and the step after it (activate: a transaction writing the device and its audit row) meets the outage.
  const simId = uniq('slow-bmc');
  stack.sim.addDevice({ id: simId, kind: 'redfish', latencyMs: 400 }); // about 1.6 s of verification: the cut surely lands inside it
  const name = uniq('pg-out');
  const res = await request(app).post('/v1/devices').send({ name, type: 'SERVER', vendor: 'Contoso', endpoint: stack.sim.baseUrlFor(simId) }).expect(202);
  const handle = stack.temporal.workflow.getHandle(res.body.operation.workflowId);
  await eventually(async () => ((await handle.query(progressQuery)).step === 'verify-driver' ? true : undefined), 20_000, 'verification to start');
  // Cut only once the verification is talking to the device: before that the activity still
  // reads the device row, and a cut there fails the verification instead (the likely cause of a
  // CI failure where recordVerification never met the outage).
  await eventually(async () => (stack.sim.requestLog.count(simId) > 0 ? true : undefined), 20_000, 'the first request to the device');

  const acceptedBefore = proxy.accepted();
  await proxy.cut();
  const cutAt = Date.now();
  // Hold the outage at least OUTAGE_MS and until the database step has failed once against it.
  const failedStep = await eventually(async () => {
    const pending = (await handle.describe()).raw.pendingActivities ?? [];
    const db = pending.find((a) => a.activityType?.name === 'recordVerification' && (a.attempt ?? 0) >= 2);
    return db ? db : undefined;
  }, 90_000, 'recordVerification to fail against the outage');
  expect(failedStep.lastFailure?.message).toBeTruthy();
  const stillCut = OUTAGE_MS - (Date.now() - cutAt);
  if (stillCut > 0) await new Promise((r) => setTimeout(r, stillCut)); // the outage itself, not a wait for a condition
  await proxy.restore();

  const result = await handle.result();
  expect(result).toMatchObject({ outcome: 'active', attempts: 1 });
  expect(proxy.accepted()).toBeGreaterThan(acceptedBefore); // the worker reconnected through the restored proxy

  const device = await stack.db.device.findUniqueOrThrow({ where: { name } });
  expect(device).toMatchObject({ state: 'ACTIVE', lockedBy: null, lockedAt: null, lastError: null, driverName: 'redfish' });
  expect(device.verifiedAt).not.toBeNull();
  expect((device.capabilities as Record<string, unknown>).protocol).toBe('redfish');

  const events = await stack.db.operationEvent.findMany({ where: { deviceId: device.id }, orderBy: { id: 'asc' } });
  expect(events.map((e) => `${e.action}:${e.fromState ?? '-'}->${e.toState ?? '-'}`)).toEqual([
    'requested:-->ENROLLED',
    'verify:ENROLLED->VERIFYING',
    'verify_succeeded:VERIFYING->ACTIVE',
  ]);
  const keys = events.map((e) => e.idempotencyKey).filter((k): k is string => k !== null);
  expect(keys).toHaveLength(2);
  expect(new Set(keys).size).toBe(keys.length);

  // The history shows the retried step: it failed during the outage and succeeded after it.
  const history = await handle.fetchHistory();
  const started = (history.events ?? []).filter((e) => e.activityTaskStartedEventAttributes && (e.activityTaskStartedEventAttributes.attempt ?? 1) > 1);
  expect(started.length).toBeGreaterThanOrEqual(1);
}, 180_000);
