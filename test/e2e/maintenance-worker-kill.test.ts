import request from 'supertest';
import { createApp } from '../../src/api/app';
import { startServiceSimulator, type ServiceSimulator } from '../../simulators/services/server';
import { activeDevice, registerService, untilMaintenance } from '../helpers/maintenance';
import { workerProcesses } from '../helpers/processes';
import { startTestStack, uniq, type TestStack } from '../helpers/stack';

/**
 * The worker is a real process, killed with SIGKILL in the middle of a drain; a new worker
 * process takes over. The drain must finish and the service must have seen each workload's
 * migration started exactly once.
 */
let stack: TestStack;
let services: ServiceSimulator;
let workers: ReturnType<typeof workerProcesses> | undefined;

beforeAll(async () => {
  stack = await startTestStack({ worker: false });
  services = await startServiceSimulator({ port: 0 });
});
afterAll(async () => {
  await workers?.killAll();
  await services?.close();
  await stack?.close();
});

test('SIGKILL of the worker mid-drain: a new worker finishes it, each workload migrated once', async () => {
  const taskQueue = uniq('kill');
  workers = workerProcesses(taskQueue);
  const app = createApp({
    db: stack.db,
    temporal: stack.temporal,
    taskQueue,
    // A dead worker's drain is taken over after 2 s without a heartbeat.
    maintenanceTimings: { heartbeatTimeoutMs: 2_000 },
  });

  const simId = uniq('bmc');
  stack.sim.addDevice({ id: simId, kind: 'redfish' });
  const device = await activeDevice(stack.db, stack.sim.baseUrlFor(simId));
  const serviceId = uniq('svc');
  const deviceRef = `${device.name}-ref`;
  const total = 400;
  services.addService({ id: serviceId, kind: 'compute', host: 'h', migrationMs: 50, devices: { [deviceRef]: { workloads: total } } });
  await registerService(app, services.baseUrlFor(serviceId), device.name, deviceRef);

  const first = workers.start();
  await request(app).post(`/v1/devices/${device.name}/maintenance`).send({ reason: 'kill test', concurrency: 8 }).expect(202);
  const mid = await untilMaintenance(app, device.name, (m) => m.drain.migrated >= 80, 90_000);
  await first.stop('SIGKILL');
  const atKill = services.stats(serviceId);
  const startedAtKill = Object.keys(atKill.migrationsStarted).length;
  expect(mid.drain.migrated).toBeLessThan(total); // really in the middle
  expect(startedAtKill).toBeLessThan(total);

  workers.start();
  const held = await untilMaintenance(app, device.name, (m) => m.phase === 'in_maintenance', 120_000);
  expect(held.drain).toMatchObject({ total, migrated: total, pending: 0, migrating: 0 });
  expect(held.device.state).toBe('MAINTENANCE');
  expect(services.workloadsOn(serviceId, deviceRef)).toHaveLength(0);

  const started = services.stats(serviceId).migrationsStarted;
  expect(Object.keys(started)).toHaveLength(total);
  const twice = Object.entries(started).filter(([, n]) => n !== 1);
  expect(twice).toEqual([]);
  // One drain step for the workflow: the activity's retry on the new worker is invisible to it.
  const drainSteps = held.steps.filter((s: { name: string }) => s.name === 'drain');
  expect(drainSteps).toHaveLength(1);
  console.log(`worker-kill: killed at ${mid.drain.migrated}/${total} migrated (${startedAtKill} started); finished ${total}/${total}, each started once`);
}, 240_000);
