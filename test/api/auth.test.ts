import { WorkflowNotFoundError } from '@temporalio/client';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import request from 'supertest';
import { createApp } from '../../src/api/app';
import { expressRoutes } from '../../src/api/express-routes';
import { findRoute, ROUTES, type RouteSpec } from '../../src/api/routes';
import { ROLES, roleSatisfies, type Role } from '../../src/auth/roles';
import { createTokenStore, parseTokenList, readTokenFile, sha256, tokenStoreFromConfig } from '../../src/auth/tokens';
import { ConfigError, loadConfig } from '../../src/config';
import { createLogger } from '../../src/log';
import { eventually, FAST_ONBOARD, startTestStack, uniq, type TestStack } from '../helpers/stack';

const TOKENS = {
  reader: 'rdr-0123456789abcdef-token',
  operator: 'op-alice-0123456789abcdef',
  operator2: 'op-bob-0123456789abcdef00',
  admin: 'adm-0123456789abcdef-token',
  revoked: 'revoked-mallory-0123456789',
};
const TOKEN_FOR: Record<Role, string> = { reader: TOKENS.reader, operator: TOKENS.operator, admin: TOKENS.admin };
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

let stack: TestStack;
let app: ReturnType<typeof createApp>;
const logLines: string[] = [];

beforeAll(async () => {
  stack = await startTestStack();
  const config = loadConfig({
    API_TOKENS: `reader:reader:${TOKENS.reader},alice:operator:${TOKENS.operator},bob:operator:${TOKENS.operator2},root:admin:${TOKENS.admin},mallory:admin:${TOKENS.revoked}`,
    API_TOKENS_REVOKED: 'mallory',
  });
  app = createApp({
    db: stack.db,
    temporal: stack.temporal,
    taskQueue: stack.config.TEMPORAL_TASK_QUEUE,
    onboardTimings: FAST_ONBOARD,
    auth: tokenStoreFromConfig(config),
    log: createLogger('api', 'debug', (line) => void logLines.push(line)),
  });
  stack.sim.addDevice({ id: 'auth-rf', kind: 'redfish', credentials: { username: 'u', password: 'auth-secret-1' } });
  stack.writeSecrets({ 'auth-good': { username: 'u', password: 'auth-secret-1' }, 'auth-bad': { username: 'u', password: 'wrong' } });
});
afterAll(async () => {
  await stack?.close();
});

/** A concrete request for a route row, aimed at things that do not exist, so allowed calls change nothing. */
function concrete(route: RouteSpec): string {
  return route.path.replace(':workflowId', 'onboard-auth-no-such-run').replace(/:[A-Za-z]+/g, 'auth-no-such-thing');
}
function send(route: RouteSpec, headers: Record<string, string>) {
  const r = request(app)[route.method](concrete(route)).set(headers);
  return route.method === 'get' ? r : r.send({});
}

describe('the role table', () => {
  it('has exactly one row per route Express serves, and nothing else', () => {
    const served = expressRoutes(app).map((r) => `${r.method.toUpperCase()} ${r.path}`).sort();
    const table = ROUTES.map((r) => `${r.method.toUpperCase()} ${r.path}`).sort();
    expect(new Set(table).size).toBe(table.length);
    expect(served).toEqual(table);
  });

  it('finds each row for its own concrete path (routing and the table agree)', () => {
    for (const route of ROUTES) expect(findRoute(route.method, concrete(route))).toBe(route);
    expect(findRoute('HEAD', '/v1/devices')?.access).toBe('reader');
    expect(findRoute('GET', '/V1/Devices/')?.path).toBe('/v1/devices');
    expect(findRoute('PUT', '/v1/devices')).toBeUndefined();
  });

  it('keeps deletes of resources and registrations admin-only, and reads reader', () => {
    for (const route of ROUTES) {
      if (route.method === 'get') expect(['public', 'reader']).toContain(route.access);
    }
    expect(findRoute('POST', '/v1/services')?.access).toBe('admin');
    expect(findRoute('POST', '/v1/podmanagers')?.access).toBe('admin');
    expect(findRoute('DELETE', '/v1/podmanagers/x')?.access).toBe('admin');
  });
});

describe('role matrix over every route', () => {
  const cases = ROUTES.flatMap((route) => ROLES.map((role) => [`${route.method.toUpperCase()} ${route.path}`, role, route] as const));
  it.each(cases)('%s as %s', async (_name, role, route) => {
    const res = await send(route, bearer(TOKEN_FOR[role]));
    expect(res.status).not.toBe(401);
    if (roleSatisfies(role, route.access)) {
      expect(res.status).not.toBe(403);
    } else {
      expect(res.status).toBe(403);
      expect(res.body.error).toMatchObject({ code: 'forbidden', details: { requiredRole: route.access, role } });
      expect(res.body.error.message).toContain(`needs role ${route.access}`);
    }
  });

  it.each(ROUTES.map((r) => [`${r.method.toUpperCase()} ${r.path}`, r] as const))('%s without a token', async (_name, route) => {
    const res = await send(route, {});
    if (route.access === 'public') {
      expect(res.status).not.toBe(401);
    } else {
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('unauthenticated');
      expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="device-lifecycle"/);
    }
  });
});

describe('401', () => {
  const bad: [string, string | undefined][] = [
    ['missing', undefined],
    ['empty', ''],
    ['scheme only', 'Bearer'],
    ['scheme and a space', 'Bearer '],
    ['another scheme', 'Basic x'],
    ['basic with a valid token', `Basic ${TOKENS.admin}`],
    ['two tokens', 'Bearer a b'],
    ['two valid tokens', `Bearer ${TOKENS.admin} ${TOKENS.admin}`],
    ['unknown token', 'Bearer not-a-configured-token-0000'],
    ['a token with a character too many', `Bearer ${TOKENS.admin}x`],
    ['revoked token', `Bearer ${TOKENS.revoked}`],
    ['the sha256 of a token', `Bearer ${sha256(TOKENS.admin).toString('hex')}`],
  ];
  it.each(bad)('%s', async (_name, header) => {
    const req = request(app).get('/v1/devices');
    const res = await (header === undefined ? req : req.set('authorization', header));
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('unauthenticated');
    expect(res.headers['www-authenticate']).toMatch(/^Bearer /);
    expect(JSON.stringify(res.body)).not.toContain(TOKENS.admin);
  });

  it('accepts the scheme in any case', async () => {
    await request(app).get('/v1/drivers').set('authorization', `bearer ${TOKENS.reader}`).expect(200);
  });

  it('a path no route serves still needs a token, then 404s', async () => {
    await request(app).get('/v1/nope').expect(401);
    const res = await request(app).get('/v1/nope').set(bearer(TOKENS.reader)).expect(404);
    expect(res.body.error.code).toBe('route_not_found');
  });

  it('authentication comes before the body: a malformed body without a token is 401, not 400', async () => {
    await request(app).post('/v1/devices').set('content-type', 'application/json').send('{not json').expect(401);
  });

  it('/health stays open', async () => {
    expect((await request(app).get('/health')).status).toBe(200);
  });
});

describe('nothing changes on 401 or 403', () => {
  it('POST /v1/devices: no device, no event, no run', async () => {
    const name = uniq('auth-deny');
    const body = { name, type: 'SERVER', vendor: 'Contoso', endpoint: `${stack.sim.baseUrlFor('auth-rf')}?n=${name}`, credentialsRef: 'auth-good' };
    await request(app).post('/v1/devices').send(body).expect(401);
    await request(app).post('/v1/devices').set(bearer(TOKENS.revoked)).send(body).expect(401);
    await request(app).post('/v1/devices').set(bearer(TOKENS.reader)).send(body).expect(403);
    expect(await stack.db.device.findUnique({ where: { name } })).toBeNull();
    expect(await stack.db.operationEvent.count({ where: { workflowId: `onboard-${name}` } })).toBe(0);
    await expect(stack.temporal.workflow.getHandle(`onboard-${name}`).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
  });

  it('POST /v1/services and /v1/podmanagers as an operator create nothing', async () => {
    const service = uniq('auth-svc');
    await request(app)
      .post('/v1/services')
      .set(bearer(TOKENS.operator))
      .send({ name: service, kind: 'COMPUTE', host: 'h1', endpoint: `http://127.0.0.1:1/${service}` })
      .expect(403);
    expect(await stack.db.service.findUnique({ where: { name: service } })).toBeNull();
    const podm = uniq('auth-podm');
    await request(app).post('/v1/podmanagers').set(bearer(TOKENS.operator)).send({ name: podm, url: `http://127.0.0.1:1/${podm}` }).expect(403);
    expect(await stack.db.podManager.findUnique({ where: { name: podm } })).toBeNull();
  });

  it('DELETE /v1/podmanagers/{id}: refused for reader and operator (row untouched), done for admin', async () => {
    const podm = await stack.db.podManager.create({ data: { name: uniq('auth-del'), url: `http://127.0.0.1:1/${uniq('u')}`, syncIntervalMs: 60_000 } });
    await request(app).delete(`/v1/podmanagers/${podm.id}`).expect(401);
    await request(app).delete(`/v1/podmanagers/${podm.id}`).set(bearer(TOKENS.reader)).expect(403);
    await request(app).delete(`/v1/podmanagers/${podm.id}`).set(bearer(TOKENS.operator)).expect(403);
    expect((await stack.db.podManager.findUniqueOrThrow({ where: { id: podm.id } })).deletedAt).toBeNull();
    await request(app).delete(`/v1/podmanagers/${podm.id}`).set(bearer(TOKENS.admin)).expect(200);
    expect((await stack.db.podManager.findUniqueOrThrow({ where: { id: podm.id } })).deletedAt).not.toBeNull();
  });
});

describe('audit: the token name is the actor', () => {
  it('an onboarding requested by alice records user:alice on every event', async () => {
    const name = uniq('auth-audit');
    const res = await request(app)
      .post('/v1/devices')
      .set(bearer(TOKENS.operator))
      .send({ name, type: 'SERVER', vendor: 'Contoso', endpoint: `${stack.sim.baseUrlFor('auth-rf')}?n=${name}`, credentialsRef: 'auth-good' })
      .expect(202);
    const workflowId = res.body.operation.workflowId;
    await eventually(async () => {
      const op = await request(app).get(`/v1/operations/${workflowId}`).set(bearer(TOKENS.reader));
      return op.body.status === 'COMPLETED' ? true : undefined;
    }, 30_000, workflowId);
    const events = await stack.db.operationEvent.findMany({ where: { workflowId }, orderBy: { id: 'asc' } });
    expect(events.map((e) => [e.action, e.actor])).toEqual([
      ['requested', 'user:alice'],
      ['verify', 'user:alice'],
      ['verify_succeeded', 'user:alice'],
    ]);
    // The same through the API.
    const listed = await request(app).get(`/v1/devices/${name}/events`).set(bearer(TOKENS.reader)).expect(200);
    expect(listed.body.items.every((e: { actor: string }) => e.actor === 'user:alice')).toBe(true);
  });

  it('a decision by another operator is recorded under their name', async () => {
    const name = uniq('auth-abandon');
    const res = await request(app)
      .post('/v1/devices')
      .set(bearer(TOKENS.operator))
      .send({ name, type: 'SERVER', vendor: 'Contoso', endpoint: `${stack.sim.baseUrlFor('auth-rf')}?n=${name}`, credentialsRef: 'auth-bad' })
      .expect(202);
    const workflowId = res.body.operation.workflowId;
    await eventually(async () => {
      const op = await request(app).get(`/v1/operations/${workflowId}`).set(bearer(TOKENS.reader));
      return op.body.progress?.status === 'waiting_for_operator' ? true : undefined;
    }, 30_000, workflowId);
    await request(app).post(`/v1/operations/${workflowId}/abandon`).set(bearer(TOKENS.reader)).send({ reason: 'no' }).expect(403);
    await request(app).post(`/v1/operations/${workflowId}/abandon`).set(bearer(TOKENS.operator2)).send({ reason: 'auth test' }).expect(202);
    const abandoned = await eventually(
      async () => (await stack.db.operationEvent.findFirst({ where: { workflowId, toState: 'ABANDONED' } })) ?? undefined,
      20_000,
      'abandon event',
    );
    expect(abandoned.actor).toBe('user:bob');
    const requested = await stack.db.operationEvent.findFirstOrThrow({ where: { workflowId, action: 'requested' } });
    expect(requested.actor).toBe('user:alice');
  });
});

describe('request log', () => {
  it('one JSON line per request, with method, path, status, duration, request id and actor; never a token or a body', async () => {
    const marker = 'body-marker-never-logged';
    const before = logLines.length;
    await request(app).get('/v1/drivers?x=query-marker').set(bearer(TOKENS.reader)).set('x-request-id', 'req-auth-1').expect(400).catch(() => undefined);
    await request(app).get('/v1/drivers').set(bearer(TOKENS.reader)).set('x-request-id', 'req-auth-2').expect(200);
    await request(app).post('/v1/devices').set(bearer(TOKENS.operator)).send({ name: marker }).expect(400);
    await request(app).post('/v1/devices').set(bearer(TOKENS.revoked)).send({ name: marker }).expect(401);
    await request(app).get('/v1/devices').set('authorization', `Basic ${TOKENS.admin}`).expect(401);
    const lines = logLines.slice(before).map((l) => JSON.parse(l));
    const requests = lines.filter((l) => l.msg === 'request');
    expect(requests).toHaveLength(5);
    expect(requests[1]).toMatchObject({ component: 'api', level: 'info', method: 'GET', path: '/v1/drivers', status: 200, requestId: 'req-auth-2', actor: 'user:reader' });
    expect(typeof requests[1].durationMs).toBe('number');
    expect(requests[2]).toMatchObject({ method: 'POST', path: '/v1/devices', status: 400, actor: 'user:alice' });
    expect(requests[3]).toMatchObject({ status: 401 });
    expect(requests[3].actor).toBeUndefined();
    const text = logLines.join('\n');
    for (const token of Object.values(TOKENS)) expect(text).not.toContain(token);
    expect(text).not.toContain(marker);
    expect(text).not.toContain('query-marker');
    expect(text.toLowerCase()).not.toContain('authorization');
  });

  it('a request id that is not a plain token is replaced', async () => {
    const res = await request(app).get('/v1/drivers').set(bearer(TOKENS.reader)).set('x-request-id', 'bad id\twith "quotes"').expect(200);
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('token configuration', () => {
  it('parses name:role:token and keeps only digests', () => {
    const entries = parseTokenList(`a:reader:${TOKENS.reader}, b:admin:${TOKENS.admin}`);
    expect(entries.map((e) => [e.name, e.role])).toEqual([
      ['a', 'reader'],
      ['b', 'admin'],
    ]);
    expect(JSON.stringify(entries)).not.toContain(TOKENS.reader);
    expect(createTokenStore(entries).verify(TOKENS.admin)).toEqual({ name: 'b', role: 'admin' });
    // Only RFC 6750 token characters: a token that a Bearer header could not carry is refused.
    expect(() => parseTokenList(`b:admin:${'x'.repeat(16)}:with-colon`)).toThrow(/may hold only/);
  });

  it.each([
    ['a:reader', /name:role:token/],
    ['a:root:0123456789abcdefXYZ', /role "root"/],
    ['a:reader:short', /at least 16/],
    ['bad name!:reader:0123456789abcdefXYZ', /name/],
  ])('API_TOKENS=%p is a configuration error naming the variable, never echoing the token', (value, message) => {
    let error: unknown;
    try {
      loadConfig({ API_TOKENS: value });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues[0]).toMatchObject({ variable: 'API_TOKENS', message: expect.stringMatching(message) });
    expect((error as ConfigError).message).not.toContain('0123456789abcdefXYZ');
  });

  it('duplicate names or values are refused', () => {
    expect(() => tokenStoreFromConfig(loadConfig({ API_TOKENS: `a:reader:${TOKENS.reader},a:admin:${TOKENS.admin}` }))).toThrow(/twice/);
    expect(() => tokenStoreFromConfig(loadConfig({ API_TOKENS: `a:reader:${TOKENS.reader},b:admin:${TOKENS.reader}` }))).toThrow(/same value/);
  });

  it('reads a token file with tokens or their sha256, and revokes by name', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dl-tokens-'));
    const file = path.join(dir, 'tokens.json');
    writeFileSync(
      file,
      JSON.stringify([
        { name: 'ci', role: 'operator', token: TOKENS.operator },
        { name: 'ops', role: 'admin', sha256: sha256(TOKENS.admin).toString('hex') },
      ]),
    );
    expect(readTokenFile(file).map((e) => e.name)).toEqual(['ci', 'ops']);
    const store = tokenStoreFromConfig(loadConfig({ API_TOKENS_FILE: file, API_TOKENS: `r:reader:${TOKENS.reader}`, API_TOKENS_REVOKED: 'ci' }));
    expect(store.names).toEqual(['r', 'ops']);
    expect(store.verify(TOKENS.admin)).toEqual({ name: 'ops', role: 'admin' });
    expect(store.verify(TOKENS.operator)).toBeUndefined();
    writeFileSync(file, JSON.stringify([{ name: 'x', role: 'admin', token: TOKENS.admin, sha256: 'ab' }]));
    expect(() => readTokenFile(file)).toThrow(/exactly one/);
  });

  it('src/server.ts refuses to start without a token: exit 2 naming API_TOKENS', async () => {
    const root = path.resolve(__dirname, '../..');
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, API_TOKENS_FILE: '', DATABASE_URL: stack.config.DATABASE_URL };
    const run = (extra: NodeJS.ProcessEnv) =>
      promisify(execFile)(path.join(root, 'node_modules/.bin/tsx'), ['src/server.ts'], { cwd: root, env: { ...env, ...extra }, timeout: 30_000 }).then(
        () => ({ code: 0, stderr: '' }),
        (err: { code?: number; stderr?: string }) => ({ code: err.code, stderr: err.stderr ?? '' }),
      );
    const none = await run({});
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/\bAPI_TOKENS\b/);
    const allRevoked = await run({ API_TOKENS: `x:admin:${TOKENS.admin}`, API_TOKENS_REVOKED: 'x' });
    expect(allRevoked.code).toBe(2);
    expect(allRevoked.stderr).not.toContain(TOKENS.admin);
  });
});
