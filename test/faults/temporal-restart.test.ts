import { Client, Connection } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { createApp } from '../../src/api/app';
import type { Db } from '../../src/db/client';
import { createWorker } from '../../src/worker-setup';
import { startServiceSimulator, type ServiceSimulator } from '../../simulators/services/server';
import { activeDevice, registerService, untilMaintenance } from '../helpers/maintenance';
import { eventually, FAST_ONBOARD, startTestStack, uniq, type TestStack } from '../helpers/stack';
import { freePort, startDevServer, type DevServer } from '../helpers/temporal-server';

/**
 * Temporal itself restarts while runs are in flight: a dev server of this file's own, keeping its
 * state in a SQLite file, is stopped (SIGTERM) and started again on the same file and port. The
 * same worker and client reconnect by themselves and every run carries on from where it was.
 */
let stack: TestStack;
let services: ServiceSimulator;
let server: DevServer;
let dir: string;
let port: number;
let connection: Connection;
let temporal: Client;
let worker: Worker;
let workerDb: Db;
let running: Promise<void>;
let app: ReturnType<typeof createApp>;

beforeAll(async () => {
  stack = await startTestStack({ worker: false });
  services = await startServiceSimulator({ port: 0 });
  dir = mkdtempSync(path.join(tmpdir(), 'dl-temporal-restart-'));
  port = await freePort();
  server = await startDevServer({ dbFile: path.join(dir, 'temporal.db'), port });
  const config = { ...stack.config, TEMPORAL_ADDRESS: server.address };
  connection = await Connection.connect({ address: server.address });
  temporal = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  const handle = await createWorker(config, { workflowBundlePath: process.env.TEST_WORKFLOW_BUNDLE });
  worker = handle.worker;
  workerDb = handle.db;
  running = worker.run();
  app = createApp({
    db: stack.db,
    temporal,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    onboardTimings: FAST_ONBOARD,
    maintenanceTimings: { heartbeatTimeoutMs: 10_000, serviceStepMaxAttempts: 5, verifyMaxAttempts: 3, verifyInitialIntervalMs: 100, verifyTimeoutMs: 5_000 },
  });
}, 90_000);
afterAll(async () => {
  if (worker) {
    worker.shutdown();
    await running;
  }
  await workerDb?.$disconnect();
  await connection?.close();
  await server?.stop();
  await services?.close();
  await stack?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 60_000);

async function maintained(workloads: number, knobs: Record<string, unknown> = {}) {
  const simId = uniq('bmc');
  stack.sim.addDevice({ id: simId, kind: 'redfish' });
  const device = await activeDevice(stack.db, stack.sim.baseUrlFor(simId));
  const svc = uniq('svc');
  services.addService({ id: svc, kind: 'compute', host: 'h1', devices: { ref: { workloads } }, ...knobs });
  await registerService(app, services.baseUrlFor(svc), device.name, 'ref');
  return { device, svc };
}

test('a maintenance holding, an onboarding waiting for its operator and a slow drain all survive a Temporal restart', async () => {
  // 1. A maintenance holding in MAINTENANCE.
  const held = await maintained(5);
  const heldStart = await request(app).post(`/v1/devices/${held.device.name}/maintenance`).send({ reason: 'held across restart', concurrency: 5 }).expect(202);
  await untilMaintenance(app, held.device.name, (m) => m.phase === 'in_maintenance', 30_000);

  // 2. An onboarding waiting for an operator (credentials rejected).
  stack.sim.addDevice({ id: 'tr-rf', kind: 'redfish', credentials: { username: 'u', password: 'right' } });
  stack.writeSecrets({ wrong: { username: 'u', password: 'nope' }, right: { username: 'u', password: 'right' } });
  const name = uniq('tr-onb');
  const onb = await request(app).post('/v1/devices').send({ name, type: 'SERVER', vendor: 'Contoso', endpoint: stack.sim.baseUrlFor('tr-rf'), credentialsRef: 'wrong' }).expect(202);
  const onboardId = onb.body.operation.workflowId as string;
  await eventually(async () => {
    const op = (await request(app).get(`/v1/operations/${onboardId}`)).body;
    return op.progress?.status === 'waiting_for_operator' ? op : undefined;
  }, 30_000, 'onboarding to wait for an operator');

  // 3. A slow drain: 12 workloads of 400 ms, one at a time (about 5 s), still draining at the restart.
  const slow = await maintained(12, { migrationMs: 400 });
  const slowStart = await request(app).post(`/v1/devices/${slow.device.name}/maintenance`).send({ reason: 'slow drain', concurrency: 1, drainTimeout: '2m' }).expect(202);
  await untilMaintenance(app, slow.device.name, (m) => m.phase === 'draining' && m.drain.migrated >= 1, 30_000);

  // Restart Temporal on the same file and port.
  await server.stop();
  expect(server.process.exitCode !== null || server.process.signalCode !== null).toBe(true);
  await expect(temporal.workflow.getHandle(onboardId).describe()).rejects.toThrow(); // really down
  server = await startDevServer({ dbFile: path.join(dir, 'temporal.db'), port });

  // Same client, same worker: the state on file says where each run is.
  // (Until the server answers, the API says 503 temporal_unavailable: wait for a 200.)
  const heldAfter = await eventually(async () => {
    const res = await request(app).get(`/v1/devices/${held.device.name}/maintenance`);
    return res.status === 200 ? res.body : undefined;
  }, 60_000, 'Temporal back');
  expect(heldAfter).toMatchObject({ status: 'RUNNING', phase: 'in_maintenance' });
  expect((await request(app).get(`/v1/operations/${onboardId}`).expect(200)).body.progress.status).toBe('waiting_for_operator');

  // The slow drain finishes, every workload moved exactly once.
  const drained = await untilMaintenance(app, slow.device.name, (m) => m.phase === 'in_maintenance', 60_000);
  expect(drained.drain).toMatchObject({ total: 12, migrated: 12 });
  const startedMigrations = services.stats(slow.svc).migrationsStarted;
  expect(Object.keys(startedMigrations)).toHaveLength(12);
  expect(Object.values(startedMigrations).every((n) => n === 1)).toBe(true);

  // Operators act after the restart, and every run completes.
  await request(app).post(`/v1/devices/${held.device.name}/maintenance/resume`).send({}).expect(202);
  await request(app).post(`/v1/devices/${slow.device.name}/maintenance/resume`).send({}).expect(202);
  await request(app).post(`/v1/operations/${onboardId}/retry`).send({ credentialsRef: 'right' }).expect(202);
  for (const id of [heldStart.body.operation.workflowId, slowStart.body.operation.workflowId, onboardId]) {
    const description = await eventually(async () => {
      const d = await temporal.workflow.getHandle(id).describe();
      return d.status.name === 'RUNNING' ? undefined : d;
    }, 60_000, `${id} to complete`);
    expect({ id, status: description.status.name }).toEqual({ id, status: 'COMPLETED' });
  }
  for (const deviceName of [held.device.name, slow.device.name, name]) {
    expect(await stack.db.device.findUniqueOrThrow({ where: { name: deviceName } })).toMatchObject({ state: 'ACTIVE', lockedBy: null });
  }
}, 120_000);
