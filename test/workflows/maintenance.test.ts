import request from 'supertest';
import { createApp } from '../../src/api/app';
import { startServiceSimulator, type ServiceSimulator } from '../../simulators/services/server';
import { activeDevice, maintenance, registerService, untilMaintenance } from '../helpers/maintenance';
import { eventually, startTestStack, uniq, type TestStack } from '../helpers/stack';

/**
 * Maintenance end to end in one process tree: the API (supertest), a real worker on the real dev
 * server, PostgreSQL, and the service and device simulators over HTTP.
 */
let stack: TestStack;
let services: ServiceSimulator;
let app: ReturnType<typeof createApp>;

beforeAll(async () => {
  stack = await startTestStack();
  services = await startServiceSimulator({ port: 0 });
  app = createApp({
    db: stack.db,
    temporal: stack.temporal,
    taskQueue: stack.config.TEMPORAL_TASK_QUEUE,
    secrets: undefined,
    maintenanceTimings: { heartbeatTimeoutMs: 5_000, serviceStepMaxAttempts: 2, verifyMaxAttempts: 2, verifyInitialIntervalMs: 100, verifyTimeoutMs: 5_000 },
  });
});
afterAll(async () => {
  await services?.close();
  await stack?.close();
});

/** A device with one consuming compute service holding `workloads` workloads. */
async function setup(workloads: number, knobs: Record<string, unknown> = {}) {
  const simId = uniq('bmc');
  stack.sim.addDevice({ id: simId, kind: 'redfish' });
  const device = await activeDevice(stack.db, stack.sim.baseUrlFor(simId));
  const serviceId = uniq('svc');
  const deviceRef = `${device.name}-ref`;
  services.addService({ id: serviceId, kind: 'compute', host: 'h1', devices: { [deviceRef]: { workloads } }, ...knobs });
  await registerService(app, services.baseUrlFor(serviceId), device.name, deviceRef);
  return { device, simId, serviceId, deviceRef };
}

function expectEachMigratedOnce(serviceId: string, count: number) {
  const started = services.stats(serviceId).migrationsStarted;
  expect(Object.keys(started)).toHaveLength(count);
  expect(Object.values(started).every((n) => n === 1)).toBe(true);
}

test('happy path: cordon, drain 300 workloads, hold, resume re-verifies and uncordons', async () => {
  const { device, simId, serviceId, deviceRef } = await setup(300);
  const started = await request(app)
    .post(`/v1/devices/${device.name}/maintenance`)
    .send({ reason: 'replace DIMM B2', concurrency: 25, drainTimeout: '2m' })
    .expect(202);
  expect(started.body.operation.workflowId).toBe(`maintenance-${device.name}-1`);

  const held = await untilMaintenance(app, device.name, (m) => m.phase === 'in_maintenance');
  expect(held).toMatchObject({
    status: 'RUNNING',
    device: { state: 'MAINTENANCE', maintenanceReason: 'replace DIMM B2' },
    drain: { total: 300, migrated: 300, pending: 0, migrating: 0 },
    remaining: [],
  });
  expect(services.workloadsOn(serviceId, deviceRef)).toHaveLength(0);
  expectEachMigratedOnce(serviceId, 300);
  expect(services.deviceStatus(serviceId, deviceRef)).toMatchObject({ status: 'disabled', disabled_reason: 'replace DIMM B2' });
  const consumers = (await request(app).get(`/v1/devices/${device.name}/services`).expect(200)).body.items;
  expect(consumers[0]).toMatchObject({ cordoned: true, cordonReason: 'replace DIMM B2' });

  const verifiesBefore = stack.sim.requestLog.count(simId);
  await request(app).post(`/v1/devices/${device.name}/maintenance/resume`).send({}).expect(202);
  const done = await untilMaintenance(app, device.name, (m) => m.status === 'COMPLETED');
  expect(done.device).toMatchObject({ state: 'ACTIVE', maintenanceReason: null });
  expect(stack.sim.requestLog.count(simId)).toBeGreaterThan(verifiesBefore); // the driver was re-verified
  expect(services.deviceStatus(serviceId, deviceRef).status).toBe('enabled');
  const after = await stack.db.device.findUniqueOrThrow({ where: { id: device.id } });
  expect(after.lockedBy).toBeNull();
  const items = (await request(app).get(`/v1/devices/${device.name}/events`).expect(200)).body.items;
  // The state changes, in order; the operator's resume decision is a row of its own (no states).
  const changes = items.filter((e: any) => e.action !== 'resume' || e.fromState !== null).map((e: any) => `${e.fromState}->${e.toState}`);
  expect(changes).toEqual(['ACTIVE->null', 'ACTIVE->DRAINING', 'DRAINING->MAINTENANCE', 'MAINTENANCE->RESUMING', 'RESUMING->ACTIVE']);
  expect(items.filter((e: any) => e.action === 'resume' && e.fromState === null)).toEqual([expect.objectContaining({ outcome: 'accepted', workflowId: expect.stringMatching(/^maintenance-/) })]);
});

test('a budget that refuses with 429 for a while is waited out; every workload still moves once', async () => {
  const { device, serviceId } = await setup(40, { budget: { refuseFirst: 25, retryAfterMs: 50 } });
  await request(app).post(`/v1/devices/${device.id}/maintenance`).send({ reason: 'firmware update', concurrency: 5 }).expect(202);
  const held = await untilMaintenance(app, device.id, (m) => m.phase === 'in_maintenance');
  expect(held.drain).toMatchObject({ total: 40, migrated: 40 });
  expect(services.stats(serviceId).refused429).toBe(25);
  expectEachMigratedOnce(serviceId, 40);
  await request(app).post(`/v1/devices/${device.id}/maintenance/resume`).send({}).expect(202);
  await untilMaintenance(app, device.id, (m) => m.status === 'COMPLETED');
});

test('a stuck workload hits the deadline: DRAIN_FAILED with what is left, cordon kept; retry after the fix finishes', async () => {
  const { device, serviceId, deviceRef } = await setup(10);
  const stuck = `${serviceId}-${deviceRef}-w3`;
  services.updateService(serviceId, { stuck: [stuck] });
  await request(app).post(`/v1/devices/${device.name}/maintenance`).send({ reason: 'rack move', drainTimeout: 2, concurrency: 4 }).expect(202);
  const failed = await untilMaintenance(app, device.name, (m) => m.phase === 'drain_failed');
  expect(failed.device.state).toBe('DRAIN_FAILED');
  expect(failed.drain).toMatchObject({ total: 10, migrated: 9 });
  expect(failed.remaining).toEqual([expect.objectContaining({ workload: stuck, reason: expect.stringMatching(/migration failed/) })]);
  expect(failed.lastError).toMatch(/1 of 10 workloads/);
  expect(services.deviceStatus(serviceId, deviceRef).status).toBe('disabled'); // documented: the cordon stays
  expect(services.stats(serviceId).migrationsStarted[stuck]).toBeGreaterThan(1); // retried until the deadline

  // Resume is allowed from DRAIN_FAILED, but the operator fixes the workload and retries the drain instead.
  services.updateService(serviceId, { stuck: [] });
  await request(app).post(`/v1/devices/${device.name}/maintenance/retry`).send({ drainTimeout: '30s' }).expect(202);
  const held = await untilMaintenance(app, device.name, (m) => m.phase === 'in_maintenance');
  expect(held.drain).toMatchObject({ total: 10, migrated: 10, attempt: 2 });
  await request(app).post(`/v1/devices/${device.name}/maintenance/resume`).send({}).expect(202);
  await untilMaintenance(app, device.name, (m) => m.status === 'COMPLETED');
  expect(services.deviceStatus(serviceId, deviceRef).status).toBe('enabled');
});

test('cancel mid-drain rolls the cordon back and returns the device to ACTIVE', async () => {
  const { device, serviceId, deviceRef } = await setup(60, { migrationMs: 150 });
  await request(app).post(`/v1/devices/${device.name}/maintenance`).send({ reason: 'cancel me', concurrency: 2 }).expect(202);
  await untilMaintenance(app, device.name, (m) => m.phase === 'draining' && m.drain.migrated >= 4);
  await request(app).delete(`/v1/devices/${device.name}/maintenance`).expect(202);
  const cancelled = await untilMaintenance(app, device.name, (m) => m.status !== 'RUNNING');
  expect(cancelled).toMatchObject({ status: 'CANCELLED', phase: 'rolled_back', device: { state: 'ACTIVE', maintenanceReason: null } });
  expect(cancelled.drain.migrated).toBeLessThan(60);
  expect(services.deviceStatus(serviceId, deviceRef).status).toBe('enabled');
  const after = await stack.db.device.findUniqueOrThrow({ where: { id: device.id } });
  expect(after.lockedBy).toBeNull();
});

test('resume whose re-verification fails holds the device in MAINTENANCE; a second resume succeeds', async () => {
  const { device, simId } = await setup(3);
  await request(app).post(`/v1/devices/${device.name}/maintenance`).send({ reason: 'bios reflash' }).expect(202);
  await untilMaintenance(app, device.name, (m) => m.phase === 'in_maintenance');
  stack.sim.updateDevice(simId, { down: true });
  await request(app).post(`/v1/devices/${device.name}/maintenance/resume`).send({}).expect(202);
  const failed = await untilMaintenance(app, device.name, (m) => m.phase === 'resume_failed');
  expect(failed.device).toMatchObject({ state: 'MAINTENANCE', lastError: expect.stringMatching(/redfish/) });
  stack.sim.updateDevice(simId, { down: false });
  await request(app).post(`/v1/devices/${device.name}/maintenance/resume`).send({}).expect(202);
  const done = await untilMaintenance(app, device.name, (m) => m.status === 'COMPLETED');
  expect(done.device).toMatchObject({ state: 'ACTIVE', lastError: null });
});

test('the maximum hold resumes by itself', async () => {
  const { device } = await setup(2);
  await request(app).post(`/v1/devices/${device.name}/maintenance`).send({ reason: 'short window', maxHold: '1s' }).expect(202);
  const done = await untilMaintenance(app, device.name, (m) => m.status === 'COMPLETED');
  expect(done.device.state).toBe('ACTIVE');
});

test('one operation per device: a second maintenance, or an onboarding of its name, is 409 naming the running one', async () => {
  const { device } = await setup(30, { migrationMs: 200 });
  await request(app).post(`/v1/devices/${device.name}/maintenance`).send({ reason: 'first', concurrency: 1 }).expect(202);
  const second = await request(app).post(`/v1/devices/${device.name}/maintenance`).send({ reason: 'second' }).expect(409);
  expect(second.body.error).toMatchObject({ code: 'operation_in_progress', details: { operation: { workflowId: `maintenance-${device.name}-1` } } });
  const onboard = await request(app)
    .post('/v1/devices')
    .send({ name: device.name, type: 'HYPERVISOR', vendor: 'Contoso', endpoint: device.endpoint })
    .expect(409);
  expect(onboard.body.error.details.operation.workflowId).toBe(`maintenance-${device.name}-1`);
  // Concurrent requests on an idle device: exactly one wins.
  await request(app).delete(`/v1/devices/${device.name}/maintenance`).expect(202);
  await untilMaintenance(app, device.name, (m) => m.status !== 'RUNNING' && m.device.state === 'ACTIVE');
  await eventually(async () => ((await stack.db.device.findUniqueOrThrow({ where: { id: device.id } })).lockedBy === null ? true : undefined));
  const results = await Promise.all(
    Array.from({ length: 8 }, () => request(app).post(`/v1/devices/${device.name}/maintenance`).send({ reason: 'race' })),
  );
  expect(results.map((r) => r.status).sort()).toEqual([202, 409, 409, 409, 409, 409, 409, 409]);
  await request(app).delete(`/v1/devices/${device.name}/maintenance`).expect(202);
});

describe('bad input changes nothing', () => {
  test.each([
    ['no reason', {}, 'reason'],
    ['a reason too short', { reason: 'x' }, 'reason'],
    ['a negative drain timeout', { reason: 'valid reason', drainTimeout: -5 }, 'drainTimeout'],
    ['a drain timeout that is not a duration', { reason: 'valid reason', drainTimeout: 'soon' }, 'drainTimeout'],
    ['zero concurrency', { reason: 'valid reason', concurrency: 0 }, 'concurrency'],
    ['an unknown field', { reason: 'valid reason', force: true }, 'force'],
  ])('%s is 400 naming the field', async (_label, body, field) => {
    const { device } = await setup(1);
    const res = await request(app).post(`/v1/devices/${device.name}/maintenance`).send(body).expect(400);
    expect(res.body.error.code).toBe('validation_failed');
    expect(res.body.error.message).toContain(field);
    const after = await stack.db.device.findUniqueOrThrow({ where: { id: device.id } });
    expect(after).toMatchObject({ state: 'ACTIVE', lockedBy: null, maintenanceSeq: 0 });
  });

  test('unknown device, wrong state, nothing to resume or cancel', async () => {
    expect((await request(app).post('/v1/devices/no-such-device/maintenance').send({ reason: 'valid reason' }).expect(404)).body.error.code).toBe('device_not_found');
    const enrolled = await stack.db.device.create({ data: { name: uniq('new'), type: 'SERVER', vendor: 'v', endpoint: `http://127.0.0.1:1/${uniq('x')}` } });
    const wrong = await request(app).post(`/v1/devices/${enrolled.name}/maintenance`).send({ reason: 'valid reason' }).expect(409);
    expect(wrong.body.error).toMatchObject({ code: 'invalid_state', details: { state: 'ENROLLED', allowed: ['ACTIVE'] } });
    expect(await stack.db.device.findUniqueOrThrow({ where: { id: enrolled.id } })).toMatchObject({ state: 'ENROLLED', lockedBy: null, maintenanceSeq: 0 });
    expect((await request(app).post(`/v1/devices/${enrolled.name}/maintenance/resume`).send({}).expect(404)).body.error.code).toBe('maintenance of device_not_found');
    expect((await request(app).get(`/v1/devices/${enrolled.name}/maintenance`).expect(404)).body.error.code).toBe('maintenance of device_not_found');
    expect((await request(app).delete(`/v1/devices/${enrolled.name}/maintenance`).expect(404)).body.error.code).toBe('maintenance of device_not_found');
  });

  test('resume while draining is 409 and the drain goes on', async () => {
    const { device } = await setup(20, { migrationMs: 100 });
    await request(app).post(`/v1/devices/${device.name}/maintenance`).send({ reason: 'valid reason', concurrency: 1 }).expect(202);
    await untilMaintenance(app, device.name, (m) => m.phase === 'draining');
    const res = await request(app).post(`/v1/devices/${device.name}/maintenance/resume`).send({}).expect(409);
    expect(res.body.error.code).toBe('not_resumable');
    const retry = await request(app).post(`/v1/devices/${device.name}/maintenance/retry`).send({}).expect(409);
    expect(retry.body.error.code).toBe('not_retryable');
    await request(app).delete(`/v1/devices/${device.name}/maintenance`).expect(202);
    await untilMaintenance(app, device.name, (m) => m.status !== 'RUNNING');
  });
});

test('services and a device\'s live workloads are listed', async () => {
  const { device, serviceId } = await setup(5);
  const workloads = (await request(app).get(`/v1/devices/${device.name}/workloads`).expect(200)).body;
  expect(workloads.complete).toBe(true);
  expect(workloads.items).toHaveLength(5);
  expect(workloads.items[0]).toMatchObject({ state: 'active', kind: 'instance' });
  const list = (await request(app).get('/v1/services').expect(200)).body.items;
  expect(list.some((s: any) => s.endpoint === services.baseUrlFor(serviceId))).toBe(true);
  expect((await request(app).post('/v1/services').send({ name: 'x', kind: 'TOASTER' }).expect(400)).body.error.message).toMatch(/kind/);
  const dup = (await request(app).get(`/v1/devices/${device.name}/services`).expect(200)).body.items[0];
  expect(dup.cordoned).toBe(false);
});

test('GET /v1/operations works for a maintenance run too', async () => {
  const { device } = await setup(2);
  const res = await request(app).post(`/v1/devices/${device.name}/maintenance`).send({ reason: 'ops view' }).expect(202);
  const op = await eventually(async () => {
    const o = (await request(app).get(`/v1/operations/${res.body.operation.workflowId}`).expect(200)).body;
    return o.progress?.phase === 'in_maintenance' ? o : undefined;
  });
  expect(op).toMatchObject({ type: 'maintenance', status: 'RUNNING', attempts: 1 });
  await request(app).post(`/v1/devices/${device.name}/maintenance/resume`).send({}).expect(202);
  await untilMaintenance(app, device.name, (m) => m.status === 'COMPLETED');
});

test('maintenance status shows drained/total while the drain runs', async () => {
  const { device } = await setup(40, { migrationMs: 60 });
  await request(app).post(`/v1/devices/${device.name}/maintenance`).send({ reason: 'progress', concurrency: 2 }).expect(202);
  const mid = await untilMaintenance(app, device.name, (m) => m.phase === 'draining' && m.drain.migrated > 0 && m.drain.migrated < 40);
  expect(mid.drain.total).toBe(40);
  expect(mid.remaining.length).toBeGreaterThan(0);
  const held = await untilMaintenance(app, device.name, (m) => m.phase === 'in_maintenance');
  expect(held.drain.migrated).toBe(40);
  await request(app).post(`/v1/devices/${device.name}/maintenance/resume`).send({}).expect(202);
  await untilMaintenance(app, device.name, (m) => m.status === 'COMPLETED');
  expect((await maintenance(app, device.name)).device.state).toBe('ACTIVE');
});

test('a flaky service (30% 503s) is retried: the drain completes, each workload migrated once', async () => {
  const { device, serviceId } = await setup(40);
  await request(app).post(`/v1/devices/${device.name}/maintenance`).send({ reason: 'flaky service', concurrency: 5 }).expect(202);
  services.updateService(serviceId, { failRate: 0.3 });
  const held = await untilMaintenance(app, device.name, (m) => m.phase === 'in_maintenance' || m.phase === 'rolled_back', 45_000);
  services.updateService(serviceId, { failRate: 0 });
  expect(held.phase).toBe('in_maintenance');
  expect(held.drain).toMatchObject({ total: 40, migrated: 40 });
  expectEachMigratedOnce(serviceId, 40);
  await request(app).post(`/v1/devices/${device.name}/maintenance/resume`).send({}).expect(202);
  await untilMaintenance(app, device.name, (m) => m.status === 'COMPLETED');
});

test('a service answering malformed JSON: the maintenance aborts with the reason and the device stays ACTIVE', async () => {
  const { device, serviceId, deviceRef } = await setup(3, { malformed: true });
  await request(app).post(`/v1/devices/${device.name}/maintenance`).send({ reason: 'broken service' }).expect(202);
  const done = await untilMaintenance(app, device.name, (m) => m.status !== 'RUNNING');
  expect(done).toMatchObject({ status: 'COMPLETED', phase: 'rolled_back', device: { state: 'ACTIVE', maintenanceReason: null } });
  expect(done.device.lastError).toMatch(/not (valid )?JSON/i);
  services.updateService(serviceId, { malformed: false });
  expect(services.deviceStatus(serviceId, deviceRef).status).toBe('enabled');
  expect((await stack.db.device.findUniqueOrThrow({ where: { id: device.id } })).lockedBy).toBeNull();
});
