import { startServiceSimulator, type ServiceSimulator, type SimServiceConfig } from '../../simulators/services/server';

let sim: ServiceSimulator;

beforeAll(async () => {
  sim = await startServiceSimulator({
    services: [
      { id: 'nova-a', kind: 'compute', host: 'compute-a', devices: { 'hv-1': { workloads: 5 } } },
      { id: 'cinder-a', kind: 'volume', host: 'storage-a', token: 'tok-secret-a', devices: { 'arr-1': { workloads: 2 } } },
    ],
  });
});
afterAll(() => sim.close());

interface Reply {
  status: number;
  headers: Headers;
  body: any;
}

async function send(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? headers : { 'Content-Type': 'application/json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

const admin = (method: string, path: string, body?: unknown) => send(method, `${sim.url}/_sim${path}`, body);

/** A call on a service's API, relative to its base URL. */
const svc = (id: string, method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
  send(method, `${sim.baseUrlFor(id)}${path}`, body, headers);

const migrate = (id: string, workload: string, from: string, key?: string) =>
  svc(id, 'POST', `/workloads/${workload}/migrate`, { from_device: from }, key === undefined ? {} : { 'Idempotency-Key': key });

let n = 0;
/** A fresh service of its own for one test, with `count` workloads on device "dev". */
function fresh(knobs: Partial<SimServiceConfig> = {}, count = 3): string {
  const id = `svc-${++n}`;
  sim.addService({ id, kind: 'compute', host: `host-${n}`, devices: { dev: { workloads: count } }, ...knobs });
  return id;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(5);
  }
}

describe('admin API', () => {
  test('lists services with base URL and device summary, never the token', async () => {
    const { status, body } = await admin('GET', '/services');
    expect(status).toBe(200);
    const byId = Object.fromEntries(body.services.map((s: any) => [s.id, s]));
    expect(byId['nova-a']).toMatchObject({
      kind: 'compute',
      host: 'compute-a',
      auth: null,
      baseUrl: `${sim.url}/s/nova-a`,
      migrationMs: 20,
      latencyMs: 0,
      budget: {},
      stuck: [],
      devices: { 'hv-1': { status: 'enabled', disabled_reason: null, workloads: 5 } },
    });
    expect(byId['cinder-a'].auth).toBe('token');
    expect(JSON.stringify(body)).not.toContain('tok-secret-a');
  });

  test('creates a service with generated and described workloads, then refuses the same id', async () => {
    const created = await admin('POST', '/services', {
      id: 'cinder-new',
      kind: 'volume',
      host: 'storage-9',
      migrationMs: 5,
      budget: { maxInFlight: 2 },
      devices: { 'arr-9': { workloads: [{ id: 'vol-x', name: 'db-data' }, {}] }, 'arr-10': { workloads: 2 } },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id: 'cinder-new', migrationMs: 5, budget: { maxInFlight: 2 } });
    expect(sim.workloadsOn('cinder-new', 'arr-9')).toEqual([
      { id: 'vol-x', name: 'db-data', kind: 'volume', state: 'active', device: 'arr-9', last_error: null },
      { id: 'cinder-new-arr-9-w1', name: 'volume-0001', kind: 'volume', state: 'active', device: 'arr-9', last_error: null },
    ]);
    expect(sim.workloadsOn('cinder-new', 'arr-10').map((w) => w.id)).toEqual(['cinder-new-arr-10-w1', 'cinder-new-arr-10-w2']);
    const again = await admin('POST', '/services', { id: 'cinder-new', kind: 'compute', host: 'x' });
    expect(again).toMatchObject({ status: 409, body: { error: { code: 'conflict' } } });
  });

  test.each([
    ['no kind', { id: 'x1', host: 'h' }, 'kind'],
    ['unknown kind', { id: 'x2', kind: 'toaster', host: 'h' }, 'kind'],
    ['no host', { id: 'x3', kind: 'compute' }, 'host'],
    ['failRate above 1', { id: 'x4', kind: 'compute', host: 'h', failRate: 1.5 }, 'failRate'],
    ['negative migrationMs', { id: 'x5', kind: 'compute', host: 'h', migrationMs: -1 }, 'migrationMs'],
    ['id with a slash', { id: 'a/b', kind: 'compute', host: 'h' }, 'id'],
    ['unknown knob', { id: 'x6', kind: 'compute', host: 'h', explode: true }, ''],
    ['unknown budget field', { id: 'x7', kind: 'compute', host: 'h', budget: { maxInflight: 1 } }, 'budget'],
    ['fractional maxInFlight', { id: 'x8', kind: 'compute', host: 'h', budget: { maxInFlight: 1.5 } }, 'budget.maxInFlight'],
    ['bad workloads', { id: 'x9', kind: 'compute', host: 'h', devices: { d: { workloads: -1 } } }, 'devices.d.workloads'],
    ['token with a space', { id: 'x10', kind: 'compute', host: 'h', token: 'a b' }, 'token'],
  ])('POST with %s: 400 naming the field', async (_name, input, field) => {
    const { status, body } = await admin('POST', '/services', input);
    expect(status).toBe(400);
    expect(body.error.code).toBe('validation_error');
    if (field) expect(body.error.issues.map((i: any) => i.path)).toContain(field);
    expect((await admin('GET', `/services/${encodeURIComponent((input as any).id)}`)).status).toBe(404);
  });

  test('POST with duplicate workload ids creates nothing', async () => {
    const res = await admin('POST', '/services', {
      id: 'dup',
      kind: 'compute',
      host: 'h',
      devices: { a: { workloads: [{ id: 'w' }] }, b: { workloads: [{ id: 'w' }] } },
    });
    expect(res.status).toBe(409);
    expect((await admin('GET', '/services/dup')).status).toBe(404);
  });

  test('POST with a body that is not JSON: 400 invalid_json', async () => {
    const { status, body } = await admin('POST', '/services', '{"id": ');
    expect(status).toBe(400);
    expect(body.error.code).toBe('invalid_json');
  });

  test('PATCH validates and applies knobs; a token can be set and removed', async () => {
    const id = fresh();
    expect((await admin('PATCH', `/services/${id}`, { latencyMs: 'slow' })).status).toBe(400);
    expect((await admin('PATCH', `/services/${id}`, { kind: 'volume' })).status).toBe(400);
    expect((await admin('PATCH', '/services/ghost', { latencyMs: 1 })).status).toBe(404);
    const ok = await admin('PATCH', `/services/${id}`, { migrationMs: 7, stuck: ['w9'], token: 't0k' });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ migrationMs: 7, stuck: ['w9'], auth: 'token' });
    expect((await admin('PATCH', `/services/${id}`, { token: null })).body.auth).toBeNull();
    expect(() => sim.updateService(id, { failRate: 2 })).toThrow();
    expect(() => sim.updateService('ghost', { failRate: 0 })).toThrow(/no simulated service/);
  });

  test('adds workloads to a device, continuing the generated numbering', async () => {
    const id = fresh({}, 2);
    const added = await admin('POST', `/services/${id}/workloads`, { device: 'dev', workloads: 2 });
    expect(added.status).toBe(201);
    expect(added.body.added.map((w: any) => w.id)).toEqual([`${id}-dev-w3`, `${id}-dev-w4`]);
    expect(sim.addWorkloads(id, 'other', [{ id: 'special', kind: 'volume' }])).toMatchObject([{ id: 'special', kind: 'volume', device: 'other' }]);
    expect((await admin('POST', `/services/${id}/workloads`, { device: 'dev', workloads: [{ id: 'special' }] })).status).toBe(409);
    expect((await admin('POST', `/services/${id}/workloads`, { device: 'd/x', workloads: 1 })).status).toBe(400);
    expect((await admin('POST', '/services/ghost/workloads', { device: 'dev', workloads: 1 })).status).toBe(404);
    expect(sim.workloadsOn(id, 'dev')).toHaveLength(4);
  });

  test('DELETE removes the service: its base URL answers 404', async () => {
    const id = fresh();
    expect((await svc(id, 'GET', '/')).status).toBe(200);
    expect((await admin('DELETE', `/services/${id}`)).status).toBe(204);
    expect(await svc(id, 'GET', '/')).toMatchObject({ status: 404, body: { error: { code: 'unknown_service' } } });
    expect((await admin('DELETE', `/services/${id}`)).status).toBe(404);
  });
});

describe('service API', () => {
  test('describes itself; unknown paths answer 404', async () => {
    expect(await svc('nova-a', 'GET', '/')).toMatchObject({ status: 200, body: { id: 'nova-a', kind: 'compute', host: 'compute-a' } });
    expect((await svc('nova-a', 'GET', '/nothing/here')).status).toBe(404);
    expect((await svc('nova-a', 'GET', '/workloads/ghost')).body.error.code).toBe('unknown_workload');
  });

  test('cordon and uncordon are idempotent and recorded once per change', async () => {
    const id = fresh();
    expect(await svc(id, 'GET', '/devices/dev/status')).toMatchObject({ status: 200, body: { device: 'dev', status: 'enabled', disabled_reason: null } });
    for (let i = 0; i < 2; i++) {
      const res = await svc(id, 'PUT', '/devices/dev/status', { status: 'disabled', disabled_reason: 'maintenance: fan swap' });
      expect(res).toMatchObject({ status: 200, body: { device: 'dev', status: 'disabled', disabled_reason: 'maintenance: fan swap' } });
    }
    expect((await svc(id, 'GET', '/devices/dev/status')).body.status).toBe('disabled');
    for (let i = 0; i < 2; i++) {
      expect((await svc(id, 'PUT', '/devices/dev/status', { status: 'enabled' })).body).toEqual({ device: 'dev', status: 'enabled', disabled_reason: null });
    }
    expect(sim.stats(id).statusChanges.map((c) => [c.device, c.status, c.reason])).toEqual([
      ['dev', 'disabled', 'maintenance: fan swap'],
      ['dev', 'enabled', null],
    ]);
    // A device the service has no workloads on can be cordoned too.
    expect((await svc(id, 'PUT', '/devices/elsewhere/status', { status: 'disabled', disabled_reason: 'x' })).status).toBe(200);
    expect(sim.deviceStatus(id, 'elsewhere').status).toBe('disabled');
  });

  test.each([
    ['disabling without a reason', { status: 'disabled' }, 'disabled_reason'],
    ['disabling with a blank reason', { status: 'disabled', disabled_reason: '  ' }, 'disabled_reason'],
    ['a reason over 255 characters', { status: 'disabled', disabled_reason: 'x'.repeat(256) }, 'disabled_reason'],
    ['enabling with a reason', { status: 'enabled', disabled_reason: 'why' }, 'disabled_reason'],
    ['an unknown status', { status: 'paused' }, 'status'],
  ])('status PUT with %s: 400', async (_name, body, field) => {
    const res = await svc('nova-a', 'PUT', '/devices/hv-1/status', body);
    expect(res.status).toBe(400);
    expect(res.body.error.issues.map((i: any) => i.path)).toContain(field);
  });

  test('a migration: 202 migrating, still listed on the source, then lands on the target after migrationMs', async () => {
    const id = fresh({ migrationMs: 80 });
    const wid = `${id}-dev-w1`;
    const started = Date.now();
    const res = await migrate(id, wid, 'dev', 'k-1');
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ id: wid, state: 'migrating', device: 'dev' });
    const listed = await svc(id, 'GET', '/devices/dev/workloads');
    expect(listed.body.workloads.find((w: any) => w.id === wid)).toMatchObject({ state: 'migrating', device: 'dev' });
    expect(sim.stats(id).inFlight).toBe(1);

    await until(() => sim.getWorkload(id, wid)?.state === 'active');
    expect(Date.now() - started).toBeGreaterThanOrEqual(75);
    expect((await svc(id, 'GET', `/workloads/${wid}`)).body).toMatchObject({ state: 'active', device: 'dev-target', last_error: null });
    expect((await svc(id, 'GET', '/devices/dev/workloads')).body.workloads.map((w: any) => w.id)).not.toContain(wid);
    expect((await svc(id, 'GET', '/devices/dev-target/workloads')).body.workloads.map((w: any) => w.id)).toEqual([wid]);
    // No longer on the source: nothing to do, whatever the key.
    expect(await migrate(id, wid, 'dev', 'k-other')).toMatchObject({ status: 200, body: { device: 'dev-target' } });
    expect(sim.stats(id)).toMatchObject({ migrationsStarted: { [wid]: 1 }, migrationsLanded: 1, inFlight: 0, migrateRequests: 2 });
  });

  test('a configured target is where migrations from that device land', async () => {
    const id = fresh({ targets: { dev: 'spare-7' } });
    await migrate(id, `${id}-dev-w1`, 'dev', 'k');
    await until(() => sim.getWorkload(id, `${id}-dev-w1`)?.device === 'spare-7');
  });

  test('the same idempotency key twice starts one migration (202 while running, 200 after)', async () => {
    const id = fresh({ migrationMs: 60 });
    const wid = `${id}-dev-w2`;
    const [a, b] = await Promise.all([migrate(id, wid, 'dev', 'key-A'), migrate(id, wid, 'dev', 'key-A')]);
    expect([a.status, b.status]).toEqual([202, 202]);
    await until(() => sim.getWorkload(id, wid)?.device === 'dev-target');
    expect(await migrate(id, wid, 'dev', 'key-A')).toMatchObject({ status: 200, body: { device: 'dev-target', state: 'active' } });
    expect(sim.stats(id).migrationsStarted).toEqual({ [wid]: 1 });
  });

  test('another key while a migration runs joins it instead of starting a second', async () => {
    const id = fresh({ migrationMs: 60 });
    const wid = `${id}-dev-w1`;
    expect((await migrate(id, wid, 'dev', 'first')).status).toBe(202);
    expect((await migrate(id, wid, 'dev', 'second')).status).toBe(202);
    await until(() => sim.getWorkload(id, wid)?.state === 'active');
    expect(sim.stats(id).migrationsStarted).toEqual({ [wid]: 1 });
  });

  test('a key reused for another workload or another operation: 422', async () => {
    const id = fresh();
    expect((await migrate(id, `${id}-dev-w1`, 'dev', 'same')).status).toBe(202);
    expect(await migrate(id, `${id}-dev-w2`, 'dev', 'same')).toMatchObject({ status: 422, body: { error: { code: 'idempotency_key_reused' } } });
    expect((await svc(id, 'POST', `/workloads/${id}-dev-w1/stop`, undefined, { 'Idempotency-Key': 'same' })).status).toBe(422);
  });

  test('migrate needs an Idempotency-Key and a valid body; unknown workloads are 404', async () => {
    const id = fresh();
    expect(await migrate(id, `${id}-dev-w1`, 'dev')).toMatchObject({ status: 400, body: { error: { code: 'idempotency_key_required' } } });
    expect((await svc(id, 'POST', `/workloads/${id}-dev-w1/migrate`, {}, { 'Idempotency-Key': 'k' })).status).toBe(400);
    expect((await svc(id, 'POST', `/workloads/${id}-dev-w1/migrate`, { from_device: 'dev', extra: 1 }, { 'Idempotency-Key': 'k' })).status).toBe(400);
    expect((await migrate(id, 'ghost', 'dev', 'k')).status).toBe(404);
    expect(sim.stats(id).migrationsStarted).toEqual({});
  });

  test('a stuck workload goes migrating, then back to active on the same device with last_error; each new key is an attempt', async () => {
    const id = fresh({ migrationMs: 15 });
    const wid = `${id}-dev-w1`;
    sim.updateService(id, { stuck: [wid] });
    for (const key of ['try-1', 'try-2']) {
      expect((await migrate(id, wid, 'dev', key)).body.state).toBe('migrating');
      await until(() => sim.getWorkload(id, wid)?.state === 'active');
      expect(sim.getWorkload(id, wid)).toMatchObject({ device: 'dev', last_error: expect.stringMatching(/^migration failed: /) });
      // The key that failed answers 200 with the workload; it does not start another attempt.
      expect((await migrate(id, wid, 'dev', key)).status).toBe(200);
    }
    await sleep(30);
    expect(sim.workloadsOn(id, 'dev').map((w) => w.id)).toContain(wid);
    expect(sim.stats(id)).toMatchObject({ migrationsStarted: { [wid]: 2 }, migrationsFailed: 2, migrationsLanded: 0 });
  });

  test('budget refuseFirst: the first N would-be migrations get 429 with Retry-After, then they start', async () => {
    const id = fresh({ budget: { refuseFirst: 2, retryAfterMs: 1500 } });
    for (let i = 0; i < 2; i++) {
      const res = await migrate(id, `${id}-dev-w1`, 'dev', `k-${i}`);
      expect(res.status).toBe(429);
      expect(res.headers.get('retry-after')).toBe('2');
      expect(res.body.error).toMatchObject({ code: 'budget_exceeded', retry_after_ms: 1500 });
    }
    expect((await migrate(id, `${id}-dev-w1`, 'dev', 'k-2')).status).toBe(202);
    expect(sim.stats(id)).toMatchObject({ refused429: 2, migrateRequests: 3, migrationsStarted: { [`${id}-dev-w1`]: 1 } });
  });

  test('budget maxInFlight: 429 while that many run, with the wait until a slot frees', async () => {
    const id = fresh({ migrationMs: 200, budget: { maxInFlight: 2 } }, 4);
    expect((await migrate(id, `${id}-dev-w1`, 'dev', 'a')).status).toBe(202);
    expect((await migrate(id, `${id}-dev-w2`, 'dev', 'b')).status).toBe(202);
    const refused = await migrate(id, `${id}-dev-w3`, 'dev', 'c');
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.body.error.retry_after_ms).toBeGreaterThan(0);
    expect(refused.body.error.retry_after_ms).toBeLessThanOrEqual(200);
    // A replay of a running migration's key is not refused: it starts nothing.
    expect((await migrate(id, `${id}-dev-w1`, 'dev', 'a')).status).toBe(202);
    await until(() => sim.stats(id).inFlight === 0);
    expect((await migrate(id, `${id}-dev-w3`, 'dev', 'c')).status).toBe(202);
  });

  test('budget refuseUntilMs: refused until then, Retry-After in whole seconds rounded up', async () => {
    const id = fresh({ budget: { refuseUntilMs: Date.now() + 2500 } });
    const res = await migrate(id, `${id}-dev-w1`, 'dev', 'k');
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('3');
    expect(res.body.error.retry_after_ms).toBeGreaterThan(2000);
    sim.updateService(id, { budget: {} });
    expect((await migrate(id, `${id}-dev-w1`, 'dev', 'k')).status).toBe(202);
  });

  test('stop: the workload leaves the device; idempotent; refused while migrating', async () => {
    const id = fresh({ migrationMs: 100 });
    const key = { 'Idempotency-Key': 's-1' };
    expect((await svc(id, 'POST', `/workloads/${id}-dev-w1/stop`)).status).toBe(400);
    const stopped = await svc(id, 'POST', `/workloads/${id}-dev-w1/stop`, undefined, key);
    expect(stopped).toMatchObject({ status: 200, body: { state: 'stopped', device: 'dev' } });
    expect((await svc(id, 'POST', `/workloads/${id}-dev-w1/stop`, undefined, key)).status).toBe(200);
    expect((await svc(id, 'POST', `/workloads/${id}-dev-w1/stop`, undefined, { 'Idempotency-Key': 's-2' })).status).toBe(200);
    expect(sim.workloadsOn(id, 'dev').map((w) => w.id)).toEqual([`${id}-dev-w2`, `${id}-dev-w3`]);
    expect(sim.stats(id).stops).toBe(1);
    // Migrating a stopped workload: nothing to do.
    expect((await migrate(id, `${id}-dev-w1`, 'dev', 'm')).status).toBe(200);

    await migrate(id, `${id}-dev-w2`, 'dev', 'm-2');
    const busy = await svc(id, 'POST', `/workloads/${id}-dev-w2/stop`, undefined, { 'Idempotency-Key': 's-3' });
    expect(busy).toMatchObject({ status: 409, body: { error: { code: 'workload_busy' } } });
  });

  test('a workload in error cannot be migrated (409), only stopped', async () => {
    const id = fresh({}, 0);
    sim.addWorkloads(id, 'dev', [{ id: 'broken', state: 'error' }]);
    expect(sim.getWorkload(id, 'broken')).toMatchObject({ state: 'error', last_error: expect.any(String) });
    expect(await migrate(id, 'broken', 'dev', 'k')).toMatchObject({ status: 409, body: { error: { code: 'workload_in_error' } } });
    expect(sim.stats(id).migrationsStarted).toEqual({});
    expect((await svc(id, 'POST', '/workloads/broken/stop', undefined, { 'Idempotency-Key': 's' })).body.state).toBe('stopped');
    expect(sim.workloadsOn(id, 'dev')).toEqual([]);
  });

  test('token: every service route needs X-Auth-Token', async () => {
    const base = sim.baseUrlFor('cinder-a');
    for (const [method, path] of [
      ['GET', '/'],
      ['GET', '/devices/arr-1/workloads'],
      ['GET', '/nothing'],
    ] as const) {
      const res = await fetch(`${base}${path}`, { method });
      expect(res.status).toBe(401);
      expect(JSON.stringify(await res.json())).not.toContain('tok-secret-a');
      expect((await fetch(`${base}${path}`, { method, headers: { 'X-Auth-Token': 'tok-secret-b' } })).status).toBe(401);
    }
    const ok = await svc('cinder-a', 'GET', '/devices/arr-1/workloads', undefined, { 'X-Auth-Token': 'tok-secret-a' });
    expect(ok.status).toBe(200);
    expect(ok.body.workloads).toHaveLength(2);
    expect(ok.body.workloads[0].kind).toBe('volume');
  });

  test('lists 1,000 workloads on one device', async () => {
    const id = fresh({}, 1000);
    const res = await svc(id, 'GET', '/devices/dev/workloads');
    expect(res.status).toBe(200);
    expect(res.body.workloads).toHaveLength(1000);
    expect(new Set(res.body.workloads.map((w: any) => w.id)).size).toBe(1000);
    expect(res.body.workloads[999]).toEqual({
      id: `${id}-dev-w1000`,
      name: 'instance-1000',
      kind: 'instance',
      state: 'active',
      device: 'dev',
      last_error: null,
    });
  });

  test('50 concurrent migrations of 20 ms each all land, each started once', async () => {
    const id = fresh({ migrationMs: 20 }, 1000);
    const ids = Array.from({ length: 50 }, (_, i) => `${id}-dev-w${i + 1}`);
    const answers = await Promise.all(ids.map((w) => migrate(id, w, 'dev', `drain/${w}/0`)));
    expect(answers.every((a) => a.status === 202)).toBe(true);
    expect(sim.stats(id).inFlight).toBeGreaterThan(0);
    await until(() => sim.stats(id).inFlight === 0);
    expect(sim.workloadsOn(id, 'dev')).toHaveLength(950);
    expect(sim.workloadsOn(id, 'dev-target')).toHaveLength(50);
    expect(Object.values(sim.stats(id).migrationsStarted)).toEqual(Array(50).fill(1));
  });
});

describe('knobs', () => {
  test('latencyMs delays every answer', async () => {
    const id = fresh({ latencyMs: 120 });
    const started = Date.now();
    expect((await svc(id, 'GET', '/')).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(110);
  });

  test('failRate 1 always answers 503 and starts nothing', async () => {
    const id = fresh({ failRate: 1 });
    const res = await migrate(id, `${id}-dev-w1`, 'dev', 'k');
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(sim.getWorkload(id, `${id}-dev-w1`)?.state).toBe('active');
    sim.updateService(id, { failRate: 0 });
    expect((await svc(id, 'GET', '/')).status).toBe(200);
  });

  test('down resets the connection without an answer', async () => {
    const id = fresh({ down: true });
    await expect(fetch(sim.baseUrlFor(id))).rejects.toThrow(/fetch failed/);
  });

  test('malformed answers 200 with a body that is not JSON', async () => {
    const id = fresh({ malformed: true });
    const res = await fetch(sim.baseUrlFor(id));
    expect(res.status).toBe(200);
    await expect(res.json()).rejects.toMatchObject({ name: 'SyntaxError' });
  });
});

test('stats can be reset; admin stats of an unknown service is 404', async () => {
  const id = fresh();
  await migrate(id, `${id}-dev-w1`, 'dev', 'k');
  expect((await admin('GET', `/services/${id}/stats`)).body.migrateRequests).toBe(1);
  expect((await admin('DELETE', `/services/${id}/stats`)).status).toBe(204);
  expect((await admin('GET', `/services/${id}/stats`)).body).toMatchObject({ migrateRequests: 0, migrationsStarted: {}, statusChanges: [] });
  expect((await admin('GET', '/services/ghost/stats')).status).toBe(404);
});

test('close() returns with requests delayed and migrations running', async () => {
  const other = await startServiceSimulator({
    services: [{ id: 's', kind: 'compute', host: 'h', migrationMs: 10_000, devices: { d: { workloads: 1 } } }],
  });
  const started202 = await fetch(`${other.baseUrlFor('s')}/workloads/s-d-w1/migrate`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'Idempotency-Key': 'k' },
    body: JSON.stringify({ from_device: 'd' }),
  });
  expect(started202.status).toBe(202);
  expect(other.stats('s').inFlight).toBe(1);
  other.updateService('s', { latencyMs: 10_000 });
  const pending = fetch(other.baseUrlFor('s')).catch((e: Error) => e);
  await sleep(50);
  const started = Date.now();
  await other.close();
  // Functional, not a speed check: close() must not wait for the held requests to end.
  expect(Date.now() - started).toBeLessThan(5000);
  expect(await pending).toMatchObject({ name: 'TypeError', message: 'fetch failed' });
});
