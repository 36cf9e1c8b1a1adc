import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServiceClient, ServiceClientError, type ServiceClient } from '../../src/integrations/service-client';
import { freePort } from '../helpers/temporal-server';
import { startServiceSimulator, type ServiceSimulator, type SimServiceConfig } from '../../simulators/services/server';

const TOKEN = 'svc-tok-7f3a9c1e';

let sim: ServiceSimulator;

beforeAll(async () => {
  sim = await startServiceSimulator();
});
afterAll(() => sim.close());

let n = 0;
/** A fresh service (3 workloads on device "dev") and a client for it. */
function fresh(knobs: Partial<SimServiceConfig> = {}, clientOpts: { token?: string; timeoutMs?: number } = {}): { id: string; client: ServiceClient } {
  const id = `cs-${++n}`;
  sim.addService({ id, kind: 'compute', host: `host-${n}`, devices: { dev: { workloads: 3 } }, ...knobs });
  return { id, client: createServiceClient({ baseUrl: sim.baseUrlFor(id), timeoutMs: clientOpts.timeoutMs ?? 2000, ...clientOpts }) };
}

/** The ServiceClientError a promise rejects with (fails the test if it resolves or throws something else). */
async function failure(p: Promise<unknown>): Promise<ServiceClientError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ServiceClientError);
  return err as ServiceClientError;
}


describe('methods against the simulator', () => {
  test('describe', async () => {
    const { id, client } = fresh();
    expect(await client.describe()).toEqual({ id, kind: 'compute', host: `host-${n}` });
    expect(client.baseUrl).toBe(sim.baseUrlFor(id));
  });

  test('a base URL with a trailing slash works the same', async () => {
    const { id } = fresh();
    const client = createServiceClient({ baseUrl: `${sim.baseUrlFor(id)}/`, timeoutMs: 1000 });
    expect((await client.describe()).id).toBe(id);
  });

  test('setDeviceStatus and getDeviceStatus: cordon with a reason, uncordon, both idempotent', async () => {
    const { id, client } = fresh();
    expect(await client.getDeviceStatus('dev')).toEqual({ device: 'dev', status: 'enabled', disabled_reason: null });
    expect(await client.setDeviceStatus('dev', 'disabled', 'maintenance-dev-1: PSU swap')).toEqual({
      device: 'dev',
      status: 'disabled',
      disabled_reason: 'maintenance-dev-1: PSU swap',
    });
    await client.setDeviceStatus('dev', 'disabled', 'maintenance-dev-1: PSU swap');
    expect((await client.getDeviceStatus('dev')).status).toBe('disabled');
    expect(await client.setDeviceStatus('dev', 'enabled')).toEqual({ device: 'dev', status: 'enabled', disabled_reason: null });
    await client.setDeviceStatus('dev', 'enabled');
    expect(sim.stats(id).statusChanges.map((c) => c.status)).toEqual(['disabled', 'enabled']);
  });

  test('setDeviceStatus disabled without a reason: the service refuses (protocol, 400)', async () => {
    const { client } = fresh();
    const err = await failure(client.setDeviceStatus('dev', 'disabled'));
    expect(err).toMatchObject({ kind: 'protocol', status: 400, code: 'validation_error' });
  });

  test('listWorkloads and getWorkload (undefined for an unknown workload)', async () => {
    const { id, client } = fresh();
    const list = await client.listWorkloads('dev');
    expect(list.map((w) => w.id)).toEqual([`${id}-dev-w1`, `${id}-dev-w2`, `${id}-dev-w3`]);
    expect(list[0]).toEqual({ id: `${id}-dev-w1`, name: 'instance-0001', kind: 'instance', state: 'active', device: 'dev', last_error: null });
    expect(await client.listWorkloads('empty-device')).toEqual([]);
    expect(await client.getWorkload(`${id}-dev-w2`)).toEqual(list[1]);
    expect(await client.getWorkload('no-such-workload')).toBeUndefined();
  });

  test('migrateWorkload: accepted, then the workload lands; a resent key starts nothing', async () => {
    // Long enough that the resend surely lands while the first migration runs, even on a loaded machine.
    const { id, client } = fresh({ migrationMs: 1_000 });
    const wid = `${id}-dev-w1`;
    const first = await client.migrateWorkload(wid, 'dev', 'drain-1/w1/0');
    expect(first).toEqual({ accepted: true, workload: expect.objectContaining({ id: wid, state: 'migrating', device: 'dev' }) });
    expect((await client.migrateWorkload(wid, 'dev', 'drain-1/w1/0')).accepted).toBe(true);
    await until(async () => (await client.getWorkload(wid))?.state === 'active');
    expect(await client.getWorkload(wid)).toMatchObject({ state: 'active', device: 'dev-target' });
    const replay = await client.migrateWorkload(wid, 'dev', 'drain-1/w1/0');
    expect(replay).toEqual({ accepted: false, workload: expect.objectContaining({ device: 'dev-target' }) });
    expect(sim.stats(id).migrationsStarted).toEqual({ [wid]: 1 });
  });

  test('migrateWorkload of a stuck workload: the failure shows in last_error', async () => {
    const { id, client } = fresh({ migrationMs: 10 });
    const wid = `${id}-dev-w1`;
    sim.updateService(id, { stuck: [wid] });
    expect((await client.migrateWorkload(wid, 'dev', 'a-0')).accepted).toBe(true);
    await until(async () => (await client.getWorkload(wid))?.state === 'active');
    expect(await client.getWorkload(wid)).toMatchObject({ state: 'active', device: 'dev', last_error: expect.stringMatching(/^migration failed/) });
  });

  test('stopWorkload: stopped and off the device; repeatable', async () => {
    const { id, client } = fresh();
    const wid = `${id}-dev-w3`;
    expect(await client.stopWorkload(wid, 'stop-1')).toMatchObject({ id: wid, state: 'stopped' });
    expect(await client.stopWorkload(wid, 'stop-1')).toMatchObject({ state: 'stopped' });
    expect((await client.listWorkloads('dev')).map((w) => w.id)).not.toContain(wid);
  });

  test('ids and device refs are path-encoded', async () => {
    const { client } = fresh();
    // A ref the service refuses (validation) must arrive as one path segment, not a traversal.
    const err = await failure(client.listWorkloads('a/../../x'));
    expect(err).toMatchObject({ kind: 'protocol', status: 400 });
  });
});

describe('error kinds', () => {
  test('budget: 429 with retryAfterMs from the service', async () => {
    const { id, client } = fresh({ budget: { refuseFirst: 1, retryAfterMs: 250 } });
    const err = await failure(client.migrateWorkload(`${id}-dev-w1`, 'dev', 'k-0'));
    expect(err).toMatchObject({ kind: 'budget', status: 429, retryAfterMs: 250, retryable: true });
    expect(err.message).toMatch(/429 Too Many Requests.*disruption budget/);
    expect((await client.migrateWorkload(`${id}-dev-w1`, 'dev', 'k-1')).accepted).toBe(true);
  });

  test('budget: maxInFlight gives a retryAfterMs no longer than a migration', async () => {
    const { id, client } = fresh({ migrationMs: 300, budget: { maxInFlight: 1 } });
    await client.migrateWorkload(`${id}-dev-w1`, 'dev', 'a');
    const err = await failure(client.migrateWorkload(`${id}-dev-w2`, 'dev', 'b'));
    expect(err.kind).toBe('budget');
    expect(err.retryAfterMs).toBeGreaterThan(0);
    expect(err.retryAfterMs).toBeLessThanOrEqual(300);
  });

  test('budget: Retry-After header in seconds when the body has no retry_after_ms', async () => {
    const server = http.createServer((_req, res) => {
      res.writeHead(429, { 'Content-Type': 'application/json', 'Retry-After': '3' }).end('{"error": {"code": "busy", "message": "slow down"}}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const client = createServiceClient({ baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/svc`, timeoutMs: 1000 });
      const err = await failure(client.migrateWorkload('w', 'd', 'k'));
      expect(err).toMatchObject({ kind: 'budget', retryAfterMs: 3000, code: 'busy' });
      expect(err.message).toContain('service says: "slow down"');
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  test('unreachable: 503, connection reset, timeout, nothing listening', async () => {
    const flaky = fresh({ failRate: 1 });
    expect(await failure(flaky.client.describe())).toMatchObject({ kind: 'unreachable', status: 503, retryable: true });

    const down = fresh({ down: true });
    const reset = await failure(down.client.listWorkloads('dev'));
    expect(reset.kind).toBe('unreachable');
    expect(reset.status).toBeUndefined();

    const slow = fresh({ latencyMs: 1000 }, { timeoutMs: 100 });
    const started = Date.now();
    const timeout = await failure(slow.client.getWorkload('x'));
    expect(timeout.kind).toBe('unreachable');
    expect(timeout.message).toMatch(/timed out after 100 ms/);
    expect(Date.now() - started).toBeLessThan(900);

    const nobody = createServiceClient({ baseUrl: `http://127.0.0.1:${await freePort()}/s/x`, timeoutMs: 1000 });
    const refused = await failure(nobody.describe());
    expect(refused.kind).toBe('unreachable');
    expect(refused.message).toMatch(/ECONNREFUSED/);
  });

  test('rejected: no token, wrong token (401), and a workload busy migrating (409)', async () => {
    const { id, client: noToken } = fresh({ token: TOKEN, migrationMs: 200 });
    const missing = await failure(noToken.describe());
    expect(missing).toMatchObject({ kind: 'rejected', status: 401, retryable: false });
    expect(missing.message).toMatch(/requires a token and none was given/);

    const wrong = createServiceClient({ baseUrl: sim.baseUrlFor(id), token: 'not-the-token', timeoutMs: 1000 });
    expect(await failure(wrong.setDeviceStatus('dev', 'disabled', 'x'))).toMatchObject({ kind: 'rejected', status: 401 });

    const right = createServiceClient({ baseUrl: sim.baseUrlFor(id), token: TOKEN, timeoutMs: 1000 });
    expect((await right.describe()).id).toBe(id);
    await right.migrateWorkload(`${id}-dev-w1`, 'dev', 'm');
    expect(await failure(right.stopWorkload(`${id}-dev-w1`, 's'))).toMatchObject({ kind: 'rejected', status: 409, code: 'workload_busy' });
    sim.addWorkloads(id, 'dev', [{ id: `${id}-broken`, state: 'error' }]);
    expect(await failure(right.migrateWorkload(`${id}-broken`, 'dev', 'b'))).toMatchObject({ kind: 'rejected', status: 409, code: 'workload_in_error' });
  });

  test('not_found: unknown service, and getWorkload on an unknown service throws rather than answering undefined', async () => {
    const ghost = createServiceClient({ baseUrl: sim.baseUrlFor('no-such-service'), timeoutMs: 1000 });
    expect(await failure(ghost.describe())).toMatchObject({ kind: 'not_found', status: 404, code: 'unknown_service' });
    expect(await failure(ghost.getWorkload('w'))).toMatchObject({ kind: 'not_found', code: 'unknown_service' });
    const { client } = fresh();
    expect(await failure(client.migrateWorkload('no-such-workload', 'dev', 'k'))).toMatchObject({ kind: 'not_found', code: 'unknown_workload' });
  });

  test('protocol: a body that is not JSON, a shape that is not a service, a reused key, a redirect', async () => {
    const broken = fresh({ malformed: true });
    const notJson = await failure(broken.client.describe());
    expect(notJson).toMatchObject({ kind: 'protocol', status: 200 });
    expect(notJson.message).toMatch(/not JSON/);

    // The admin API answers JSON of another shape.
    const admin = createServiceClient({ baseUrl: `${sim.url}/_sim/services/${broken.id}/stats`, timeoutMs: 1000 });
    const shape = await failure(admin.describe());
    expect(shape).toMatchObject({ kind: 'protocol', status: 200 });
    expect(shape.message).toMatch(/answered an unexpected shape: id: .*; kind: .*; host: /);

    const { id, client } = fresh();
    await client.migrateWorkload(`${id}-dev-w1`, 'dev', 'same');
    expect(await failure(client.migrateWorkload(`${id}-dev-w2`, 'dev', 'same'))).toMatchObject({ kind: 'protocol', status: 422 });

    const server = http.createServer((_req, res) => res.writeHead(302, { Location: 'http://elsewhere.example/' }).end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const redirected = createServiceClient({ baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, timeoutMs: 1000 });
      expect((await failure(redirected.describe())).message).toMatch(/302 Found \(a redirect\)/);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  test('protocol: bad configuration is refused up front', () => {
    expect(() => createServiceClient({ baseUrl: 'not a url', timeoutMs: 1000 })).toThrow(ServiceClientError);
    expect(() => createServiceClient({ baseUrl: 'ftp://host/s/x', timeoutMs: 1000 })).toThrow(/http:\/\/ or https:\/\//);
    expect(() => createServiceClient({ baseUrl: 'http://user:pw@host/s/x', timeoutMs: 1000 })).toThrow(/embeds credentials/);
    expect(() => createServiceClient({ baseUrl: 'http://host/s/x', token: 'two words', timeoutMs: 1000 })).toThrow(/printable ASCII/);
    expect(() => createServiceClient({ baseUrl: 'http://host/s/x', timeoutMs: 0 })).toThrow(/timeoutMs/);
  });
});

test('the token never appears in an error message, even when the service echoes it', async () => {
  const echo = http.createServer((req, res) => {
    const token = String(req.headers['x-auth-token']);
    res.writeHead(Number(req.url?.split('/').pop()), { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ error: { code: 'echo', message: `token ${token} is not welcome here` } }));
  });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  const messages: string[] = [];
  try {
    const echoing = createServiceClient({ baseUrl: `http://127.0.0.1:${(echo.address() as AddressInfo).port}`, token: TOKEN, timeoutMs: 1000 });
    for (const status of ['401', '403', '404', '409', '418', '429', '503']) {
      const err = await failure(echoing.getWorkload(status));
      messages.push(err.message);
      expect(err.message).toContain('is not welcome here');
    }
  } finally {
    echo.closeAllConnections();
    await new Promise((r) => echo.close(r));
  }

  const { id } = fresh({ token: TOKEN, latencyMs: 500 });
  const base = sim.baseUrlFor(id);
  const nobody = `http://127.0.0.1:${await freePort()}`;
  const cases: Array<() => Promise<unknown>> = [
    () => createServiceClient({ baseUrl: base, token: `${TOKEN}x`, timeoutMs: 2000 }).describe(),
    () => createServiceClient({ baseUrl: base, token: TOKEN, timeoutMs: 50 }).describe(),
    () => createServiceClient({ baseUrl: nobody, token: TOKEN, timeoutMs: 1000 }).describe(),
  ];
  for (const run of cases) messages.push((await failure(run())).message);
  expect(() => createServiceClient({ baseUrl: `http://u:${TOKEN}@h/`, token: TOKEN, timeoutMs: 1 })).toThrow(/embeds credentials/);
  try {
    createServiceClient({ baseUrl: `http://u:${TOKEN}@h/`, token: TOKEN, timeoutMs: 1 });
  } catch (err) {
    messages.push((err as Error).message);
  }
  expect(messages).toHaveLength(11);
  for (const m of messages) expect(m).not.toContain(TOKEN);
});

/** Polls until the check holds (5 s at most): no fixed sleeps racing a loaded machine. */
async function until(check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached within 5 s');
    await new Promise((r) => setTimeout(r, 10));
  }
}
