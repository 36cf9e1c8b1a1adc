import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import request from 'supertest';
import { createApp } from '../../src/api/app';
import { closedEndpoint, eventually, FAST_ONBOARD, startTestStack, uniq, type TestStack } from '../helpers/stack';

let stack: TestStack;
let app: ReturnType<typeof createApp>;
beforeAll(async () => {
  stack = await startTestStack();
  app = createApp({ db: stack.db, temporal: stack.temporal, taskQueue: stack.config.TEMPORAL_TASK_QUEUE, onboardTimings: FAST_ONBOARD });
  stack.sim.addDevice({ id: 'api-rf', kind: 'redfish', credentials: { username: 'u', password: 'api-secret-1' } });
  stack.sim.addDevice({ id: 'api-acme', kind: 'storage-array', credentials: { username: 'u', password: 'api-secret-2' }, facts: { model: 'AS-9000' } });
  stack.writeSecrets({ 'rf-good': { username: 'u', password: 'api-secret-1' }, 'acme-good': { username: 'u', password: 'api-secret-2' }, bad: { username: 'u', password: 'nope' } });
});
afterAll(async () => {
  await stack?.close();
});

const redfishDevice = (overrides: Record<string, unknown> = {}) => ({
  name: uniq('srv'),
  type: 'SERVER',
  vendor: 'Contoso',
  endpoint: `${stack.sim.baseUrlFor('api-rf')}?n=${uniq('e')}`,
  credentialsRef: 'rf-good',
  ...overrides,
});

async function operation(workflowId: string) {
  return (await request(app).get(`/v1/operations/${workflowId}`).expect(200)).body;
}

async function untilOperation(workflowId: string, predicate: (op: Record<string, any>) => boolean) {
  return eventually(async () => {
    const op = await operation(workflowId);
    return predicate(op) ? op : undefined;
  }, 30_000, `operation ${workflowId}`);
}

test('POST /v1/devices answers 202 with the device and its operation; the run makes it ACTIVE', async () => {
  const body = redfishDevice();
  const res = await request(app).post('/v1/devices').send(body).expect(202);
  expect(res.body.device).toMatchObject({ name: body.name, state: 'ENROLLED', credentialsRef: 'rf-good' });
  expect(res.body.device.currentOperation.workflowId).toBe(`onboard-${body.name}`);
  expect(res.body.operation).toMatchObject({ workflowId: `onboard-${body.name}`, type: 'onboard' });
  expect(res.headers.location).toBe(`/v1/devices/${res.body.device.id}`);

  const op = await untilOperation(res.body.operation.workflowId, (o) => o.status === 'COMPLETED');
  expect(op).toMatchObject({ type: 'onboard', step: 'activate', attempts: 1, lastError: null });
  expect(op.result).toMatchObject({ outcome: 'active', driver: 'redfish' });

  const device = (await request(app).get(`/v1/devices/${res.body.device.id}`).expect(200)).body;
  expect(device).toMatchObject({ state: 'ACTIVE', driver: 'redfish', currentOperation: null, lastError: null });
  expect(device.capabilities.protocol).toBe('redfish');
  // By name too.
  expect((await request(app).get(`/v1/devices/${body.name}`).expect(200)).body.id).toBe(device.id);
  // Never the secret.
  expect(JSON.stringify(device)).not.toContain('api-secret-1');

  const events = (await request(app).get(`/v1/devices/${body.name}/events`).expect(200)).body.items;
  expect(events.map((e: { action: string }) => e.action)).toEqual(['requested', 'verify', 'verify_succeeded']);
});

test('the requested driver is used when compatible; a vendor driver is chosen by vendor and model', async () => {
  const name = uniq('arr');
  const res = await request(app)
    .post('/v1/devices')
    .send({ name, type: 'STORAGE', vendor: 'Acme Storage', model: 'AS-9000', endpoint: stack.sim.baseUrlFor('api-acme'), credentialsRef: 'acme-good' })
    .expect(202);
  const op = await untilOperation(res.body.operation.workflowId, (o) => o.status === 'COMPLETED');
  expect(op.result.driver).toBe('acme-array');
  const device = (await request(app).get(`/v1/devices/${name}`).expect(200)).body;
  expect(device.capacity.capacityGiB).toBeGreaterThan(0);
});

test('rejected credentials: the operation waits, retry through the API with a corrected reference succeeds', async () => {
  const body = redfishDevice({ credentialsRef: 'bad' });
  const res = await request(app).post('/v1/devices').send(body).expect(202);
  const workflowId = res.body.operation.workflowId;
  const waiting = await untilOperation(workflowId, (o) => o.progress?.status === 'waiting_for_operator');
  expect(waiting.lastError).toMatch(/401|rejected/i);
  expect((await request(app).get(`/v1/devices/${body.name}`).expect(200)).body.state).toBe('VERIFY_FAILED');

  // A second onboarding of the same name, or of the same endpoint, is refused naming the running one.
  const again = await request(app).post('/v1/devices').send(body).expect(409);
  expect(again.body.error).toMatchObject({ code: 'operation_in_progress', details: { operation: { workflowId } } });
  const sameEndpoint = await request(app).post('/v1/devices').send({ ...body, name: uniq('other') }).expect(409);
  expect(sameEndpoint.body.error.code).toBe('operation_in_progress');

  // Bad corrections are refused before they reach the run.
  const unknownDriver = await request(app).post(`/v1/operations/${workflowId}/retry`).send({ driver: 'no-such-driver' }).expect(422);
  expect(unknownDriver.body.error.code).toBe('unknown_driver');
  const incompatible = await request(app).post(`/v1/operations/${workflowId}/retry`).send({ driver: 'acme-array' }).expect(422);
  expect(incompatible.body.error.code).toBe('incompatible_driver');

  const retried = await request(app).post(`/v1/operations/${workflowId}/retry`).send({ credentialsRef: 'rf-good' }).expect(202);
  expect(retried.body.attempt).toBe(2);
  const done = await untilOperation(workflowId, (o) => o.status === 'COMPLETED');
  expect(done.result).toMatchObject({ outcome: 'active', attempts: 2 });

  // Nothing left to decide.
  const late = await request(app).post(`/v1/operations/${workflowId}/retry`).send({}).expect(409);
  expect(late.body.error.code).toBe('operation_closed');
});

test('an unreachable device waits for an operator; abandon frees the name for a new onboarding', async () => {
  const body = { name: uniq('gone'), type: 'SERVER', vendor: 'Contoso', endpoint: await closedEndpoint() };
  const res = await request(app).post('/v1/devices').send(body).expect(202);
  const workflowId = res.body.operation.workflowId;
  const waiting = await untilOperation(workflowId, (o) => o.progress?.status === 'waiting_for_operator');
  expect(waiting.progress.lastErrorType).toBe('DeviceUnreachable');

  await request(app).post(`/v1/operations/${workflowId}/abandon`).send({ reason: 'decommissioned' }).expect(202);
  const done = await untilOperation(workflowId, (o) => o.status === 'COMPLETED');
  expect(done.result).toMatchObject({ outcome: 'abandoned', reason: 'decommissioned' });
  expect((await request(app).get(`/v1/devices/${body.name}`).expect(200)).body.state).toBe('ABANDONED');

  // Re-onboarding the abandoned name with a working endpoint enrols the same device again.
  const again = await request(app).post('/v1/devices').send({ ...body, endpoint: stack.sim.baseUrlFor('api-rf') + '?again', credentialsRef: 'rf-good' }).expect(202);
  expect(again.body.device.id).toBe(res.body.device.id);
  const second = await untilOperation(workflowId, (o) => o.status === 'COMPLETED' && o.runId !== done.runId);
  expect(second.result.outcome).toBe('active');
});

test('an operator decision on a run that is not waiting is 409 and changes nothing', async () => {
  stack.sim.addDevice({ id: 'api-slow', kind: 'redfish', latencyMs: 400 });
  const body = { name: uniq('slow'), type: 'SERVER', vendor: 'Contoso', endpoint: stack.sim.baseUrlFor('api-slow') };
  const res = await request(app).post('/v1/devices').send(body).expect(202);
  const refused = await request(app).post(`/v1/operations/${res.body.operation.workflowId}/abandon`).send({}).expect(409);
  expect(refused.body.error.code).toBe('not_waiting_for_operator');
  const done = await untilOperation(res.body.operation.workflowId, (o) => o.status === 'COMPLETED');
  expect(done.result.outcome).toBe('active');
});

test('cancel through the API abandons the device', async () => {
  const body = { ...redfishDevice(), credentialsRef: 'bad' };
  const res = await request(app).post('/v1/devices').send(body).expect(202);
  const workflowId = res.body.operation.workflowId;
  await untilOperation(workflowId, (o) => o.progress?.status === 'waiting_for_operator');
  await request(app).post(`/v1/operations/${workflowId}/cancel`).send({}).expect(202);
  const cancelled = await untilOperation(workflowId, (o) => o.status !== 'RUNNING');
  expect(cancelled).toMatchObject({ status: 'CANCELLED', progress: { status: 'abandoned' } });
  const device = await eventually(async () => {
    const d = (await request(app).get(`/v1/devices/${body.name}`)).body;
    return d.currentOperation === null ? d : undefined;
  });
  expect(device.state).toBe('ABANDONED');
});

describe('bad input changes nothing', () => {
  async function expectNothingCreated(name: string) {
    expect(await stack.db.device.count({ where: { name } })).toBe(0);
    await expect(stack.temporal.workflow.getHandle(`onboard-${name}`).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
  }

  test('malformed JSON is 400 malformed_json', async () => {
    const name = uniq('bad');
    const res = await request(app).post('/v1/devices').set('content-type', 'application/json').send(`{"name":"${name}",`).expect(400);
    expect(res.body.error.code).toBe('malformed_json');
    await expectNothingCreated(name);
  });

  test.each([
    ['missing fields', (n: string) => ({ name: n }), ['type', 'vendor', 'endpoint']],
    ['wrong types', (n: string) => ({ name: n, type: 'SERVER', vendor: 42, endpoint: 'http://x' }), ['vendor']],
    ['unknown type', (n: string) => ({ name: n, type: 'TOASTER', vendor: 'v', endpoint: 'http://x' }), ['type']],
    ['bad name', (_n: string) => ({ name: 'Bad Name!', type: 'SERVER', vendor: 'v', endpoint: 'http://x' }), ['name']],
    ['endpoint not a URL', (n: string) => ({ name: n, type: 'SERVER', vendor: 'v', endpoint: 'not a url' }), ['endpoint']],
    ['credentials in the URL', (n: string) => ({ name: n, type: 'SERVER', vendor: 'v', endpoint: 'http://root:pw@10.0.0.1' }), ['endpoint']],
    ['a secret as credentialsRef', (n: string) => ({ name: n, type: 'SERVER', vendor: 'v', endpoint: 'http://x', credentialsRef: 'p@ss word' }), ['credentialsRef']],
    ['unknown field', (n: string) => ({ name: n, type: 'SERVER', vendor: 'v', endpoint: 'http://x', password: 'x' }), ['password']],
  ])('%s is 400 validation_failed naming the field', async (_label, make, fields) => {
    const name = uniq('bad');
    const res = await request(app).post('/v1/devices').send(make(name)).expect(400);
    expect(res.body.error.code).toBe('validation_failed');
    for (const field of fields) expect(res.body.error.message).toContain(field);
    await expectNothingCreated(name);
  });

  test('an unknown driver is 422 unknown_driver; an incompatible one 422 incompatible_driver', async () => {
    const a = redfishDevice({ driver: 'no-such-driver' });
    expect((await request(app).post('/v1/devices').send(a).expect(422)).body.error.code).toBe('unknown_driver');
    await expectNothingCreated(a.name);
    const b = redfishDevice({ driver: 'nimbus-cluster' });
    const res = await request(app).post('/v1/devices').send(b).expect(422);
    expect(res.body.error).toMatchObject({ code: 'incompatible_driver', details: { driver: 'nimbus-cluster' } });
    await expectNothingCreated(b.name);
  });

  test('an oversized body is 413 payload_too_large', async () => {
    const big = redfishDevice({ vendor: 'x'.repeat(100_000) });
    const res = await request(app).post('/v1/devices').send(big).expect(413);
    expect(res.body.error.code).toBe('payload_too_large');
    await expectNothingCreated(big.name);
  });

  test('bad list filters, unknown ids and routes are clear 4xx', async () => {
    expect((await request(app).get('/v1/devices?state=SLEEPING').expect(400)).body.error.message).toContain('state');
    expect((await request(app).get('/v1/devices?limit=0').expect(400)).body.error.message).toContain('limit');
    expect((await request(app).get('/v1/devices?colour=red').expect(400)).body.error.message).toContain('colour');
    expect((await request(app).get('/v1/devices/no-such-device').expect(404)).body.error.code).toBe('device_not_found');
    expect((await request(app).get('/v1/devices/00000000-0000-4000-8000-000000000000').expect(404)).body.error.code).toBe('device_not_found');
    expect((await request(app).get('/v1/operations/onboard-nothing-here').expect(404)).body.error.code).toBe('operation_not_found');
    expect((await request(app).post('/v1/operations/onboard-nothing-here/retry').send({}).expect(404)).body.error.code).toBe('operation_not_found');
    expect((await request(app).post('/v1/operations/x/retry').send({ password: 1 }).expect(400)).body.error.message).toContain('password');
    expect((await request(app).get('/v1/nope').expect(404)).body.error.code).toBe('route_not_found');
  });

  test('Temporal unreachable at start: 503, and the enrolled row is taken back', async () => {
    const connection = Connection.lazy({ address: (await closedEndpoint()).replace('http://', '') });
    const downApp = createApp({ db: stack.db, temporal: new Client({ connection }), taskQueue: 'unused' });
    const body = redfishDevice();
    const res = await request(downApp).post('/v1/devices').send(body).expect(503);
    expect(res.body.error.code).toBe('temporal_unavailable');
    expect(await stack.db.device.count({ where: { name: body.name } })).toBe(0);
    await connection.close().catch(() => undefined);
  }, 90_000);
});

test('list filters by state and type, with paging', async () => {
  const res = await request(app).get('/v1/devices?state=ACTIVE&type=SERVER&limit=2').expect(200);
  expect(res.body.limit).toBe(2);
  expect(res.body.items.length).toBeLessThanOrEqual(2);
  expect(res.body.total).toBeGreaterThanOrEqual(res.body.items.length);
  for (const d of res.body.items) expect(d).toMatchObject({ state: 'ACTIVE', type: 'SERVER' });
});

test('GET /v1/drivers lists the shipped drivers; /health reports both dependencies', async () => {
  const drivers = (await request(app).get('/v1/drivers').expect(200)).body.items.map((d: { name: string }) => d.name);
  expect(drivers).toEqual(expect.arrayContaining(['redfish', 'nimbus-cluster', 'acme-array']));
  expect((await request(app).get('/health').expect(200)).body).toEqual({ status: 'ok', checks: { database: 'ok', temporal: 'ok' } });
});
