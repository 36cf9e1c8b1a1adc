import request from 'supertest';
import { createApp } from '../../src/api/app';
import { startPodmSimulator, type PodmSimulator } from '../../simulators/podm/server';
import { startServiceSimulator, type ServiceSimulator } from '../../simulators/services/server';
import { activeDevice, registerService, untilMaintenance } from '../helpers/maintenance';
import { untilOperationDone } from '../helpers/pooled';
import { workerProcesses } from '../helpers/processes';
import { eventually, startTestStack, uniq, type TestStack } from '../helpers/stack';

/**
 * Every workflow type in flight at once while the worker process is SIGKILLed again and again
 * (at whatever point each run happens to be: in an activity, between tasks, or in a workflow
 * task), a fresh worker started each time. All runs finish, and every side effect happened once:
 * one onboarding per device with no duplicated audit rows, each workload migrated once, one
 * attachment, one applied sync.
 */
let stack: TestStack;
let services: ServiceSimulator;
let podms: PodmSimulator;
let workers: ReturnType<typeof workerProcesses> | undefined;

beforeAll(async () => {
  stack = await startTestStack({ worker: false });
  services = await startServiceSimulator({ port: 0 });
  podms = await startPodmSimulator({ port: 0 });
});
afterAll(async () => {
  await workers?.killAll();
  await podms?.close();
  await services?.close();
  await stack?.close();
});

test('repeated SIGKILL of the worker with every workflow type in flight: all finish, side effects once', async () => {
  const taskQueue = uniq('chaos');
  const chaos = workerProcesses(taskQueue, 'error');
  workers = chaos;
  const app = createApp({
    db: stack.db,
    temporal: stack.temporal,
    taskQueue,
    onboardTimings: { verifyTimeoutMs: 10_000, verifyMaxAttempts: 10, verifyInitialIntervalMs: 200 },
    maintenanceTimings: { heartbeatTimeoutMs: 2_000 },
    podmSyncTimings: { heartbeatTimeoutMs: 2_000, syncMaxAttempts: 10 },
    pooledActionTimings: { heartbeatTimeoutMs: 2_000, confirmTimeoutMs: 60_000, podmMaxAttempts: 10 },
  });

  // Onboarding against a slow device.
  const bmc = uniq('bmc');
  stack.sim.addDevice({ id: bmc, kind: 'redfish', latencyMs: 400 });
  const onboardName = uniq('chaos-onboard');
  // Maintenance with a drain that takes a few seconds.
  const hostBmc = uniq('bmc');
  stack.sim.addDevice({ id: hostBmc, kind: 'redfish' });
  const host = await activeDevice(stack.db, stack.sim.baseUrlFor(hostBmc));
  const svc = uniq('svc');
  const deviceRef = `${host.name}-ref`;
  services.addService({ id: svc, kind: 'compute', host: 'h', migrationMs: 100, devices: { [deviceRef]: { workloads: 120 } } });
  await registerService(app, services.baseUrlFor(svc), host.name, deviceRef);
  // A pod manager that answers slowly, and an attach the pod manager shows late.
  const podmId = uniq('podm');
  podms.addPodm({ id: podmId, seed: 5, resources: 400, nodes: 2, attachedFraction: 0, latencyMs: 150, maxPageSize: 50, actionDelayMs: 1_500 });

  chaos.start();
  const onboard = await request(app).post('/v1/devices').send({ name: onboardName, type: 'SERVER', vendor: 'Contoso', endpoint: stack.sim.baseUrlFor(bmc) }).expect(202);
  await request(app).post(`/v1/devices/${host.name}/maintenance`).send({ reason: 'chaos', concurrency: 4 }).expect(202);
  const reg = await request(app).post('/v1/podmanagers').send({ name: podmId, url: podms.baseUrlFor(podmId), syncInterval: '1h' }).expect(201);
  const podm = reg.body.podmanager.id;
  await eventually(async () => ((await stack.db.podManager.findUniqueOrThrow({ where: { id: podm } })).lastSyncStatus === 'ok' ? true : undefined), 120_000, 'first sync');
  const node = await stack.db.composedNode.findFirstOrThrow({ where: { podmId: podm, nodeId: '1' } });
  const pooled = await stack.db.pooledDevice.findFirstOrThrow({ where: { podmId: podm } });
  const attach = await request(app).post(`/v1/nodes/${node.id}/action`).send({ attach: { device_id: pooled.id } }).expect(202);
  const refresh = request(app).post(`/v1/podmanagers/${podmId}/refresh`).send({}).then((r) => r);

  // Kill the worker four times, 1.2 s apart, starting a fresh one after each kill.
  for (let i = 0; i < 4; i++) {
    await new Promise((r) => setTimeout(r, 1_200));
    await chaos.current()!.stop('SIGKILL');
    chaos.start();
  }

  const onboarded = await untilOperationDone(app, onboard.body.operation.workflowId, 120_000);
  expect(onboarded).toMatchObject({ status: 'COMPLETED', result: { outcome: 'active' } });
  const events = await stack.db.operationEvent.findMany({ where: { device: { name: onboardName } }, orderBy: { id: 'asc' } });
  expect(events.map((e) => e.action)).toEqual(['requested', 'verify', 'verify_succeeded']);

  const held = await untilMaintenance(app, host.name, (m) => m.phase === 'in_maintenance', 120_000);
  expect(held.drain).toMatchObject({ total: 120, migrated: 120 });
  const started = services.stats(svc).migrationsStarted;
  expect(Object.keys(started)).toHaveLength(120);
  expect(Object.entries(started).filter(([, n]) => n !== 1)).toEqual([]);

  const attached = await untilOperationDone(app, attach.body.operation.workflowId, 120_000);
  expect(attached).toMatchObject({ status: 'COMPLETED', result: { outcome: 'attached' } });
  expect(podms.stats(podmId).attachesApplied[pooled.resourceId]).toBe(1);
  expect(await stack.db.pooledDevice.findUniqueOrThrow({ where: { id: pooled.id } })).toMatchObject({ nodeId: '1', lockedBy: null });

  const refreshed = await refresh;
  expect(refreshed.status).toBe(200);
  expect(refreshed.body.result).toMatchObject({ status: 'ok', total: 400, added: 0, vanished: 0 });
  expect(await stack.db.pooledDevice.count({ where: { podmId: podm } })).toBe(400);

  await request(app).post(`/v1/devices/${host.name}/maintenance/resume`).send({}).expect(202);
  await untilMaintenance(app, host.name, (m) => m.status === 'COMPLETED', 120_000);
  await request(app).delete(`/v1/podmanagers/${podmId}`).expect(200);
}, 300_000);
