import type { Server } from 'node:http';
import { Client as PgClient } from 'pg';
import { migrate } from '../../src/db/migrate';
import { createApp } from '../../src/api/app';
import { activeDevice } from '../helpers/maintenance';
import { FAST_ONBOARD, startTestStack, type TestStack } from '../helpers/stack';

/**
 * Thousands of generated malformed requests (seeded, so a failure reproduces) against every
 * mutating route, over real HTTP to one listening app with the real database and dev server.
 * Every input is invalid by construction (wrong JSON, wrong types, missing or unknown fields, bad
 * ids), so the contract is: never a 5xx, never a 2xx, always `{error: {code, message}}`, and not
 * one row added, removed or changed in any table.
 */
const SEED = Number(process.env.FUZZ_SEED ?? 20_251_121);
const REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 3_000);
const PARALLEL = 8;

let stack: TestStack;
let server: Server;
let base: string;
const serverErrors: unknown[] = [];

/** mulberry32: a tiny seeded PRNG, enough to make cases reproducible. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  return { next, int, pick, chance: (p: number) => next() < p };
}
type Rng = ReturnType<typeof prng>;

const NASTY_STRINGS = [
  '', ' ', '\u0000', 'null', 'undefined', 'true', '0', '-1', '1e309', 'NaN', '__proto__', 'constructor',
  "'; DROP TABLE devices; --", '../../etc/passwd', '%00', '%2e%2e%2f', '<script>alert(1)</script>', '${jndi:ldap://x}',
  'Ünïcödé-名前-🚀', '\u202Eevil', '\uD800', 'a\nb\r\nc', '\t', 'http://', 'ftp://x', 'http://u:p@127.0.0.1:1/x', 'http://[::1', 'http://127.0.0.1:0',
  'SERVER', 'HYPERVISOR', 'attach', 'detach', '10m', '-5s', '99999999999h', 'PT1H',
];

function randomString(r: Rng): string {
  switch (r.int(5)) {
    case 0: return r.pick(NASTY_STRINGS);
    case 1: return 'x'.repeat(r.pick([64, 65, 256, 4_096, 70_000]));
    case 2: return Array.from({ length: r.int(40) }, () => String.fromCodePoint(r.int(0x2ffff))).join('');
    case 3: return Array.from({ length: r.int(20) }, () => String.fromCharCode(32 + r.int(95))).join('');
    default: return `${r.pick(['dev', 'svc', 'podm', 'n'])}-${r.int(1e6)}`;
  }
}

function randomValue(r: Rng, depth = 0): unknown {
  switch (r.int(depth > 2 ? 6 : 9)) {
    case 0: return null;
    case 1: return r.chance(0.5);
    case 2: return r.pick([0, -1, 1, 1.5, -0.0001, 2 ** 31, 2 ** 53 + 1, Number.MAX_VALUE, -Number.MAX_VALUE, 1e-300]);
    case 3:
    case 4:
    case 5: return randomString(r);
    case 6: return Array.from({ length: r.int(5) }, () => randomValue(r, depth + 1));
    default: return randomObject(r, depth + 1);
  }
}

function randomObject(r: Rng, depth = 0): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (let i = r.int(6); i > 0; i--) o[r.chance(0.3) ? r.pick(NASTY_STRINGS) || 'k' : randomString(r).slice(0, 30)] = randomValue(r, depth);
  return o;
}

/** Bodies a route would accept, each then broken on purpose (see `breakBody`). */
function validShapes(ctx: { deviceName: string; sim: string }): Record<string, () => Record<string, unknown>> {
  return {
    device: () => ({ name: 'fuzz-ok-1', type: 'SERVER', vendor: 'Contoso', endpoint: `${ctx.sim}?fuzz`, credentialsRef: 'none' }),
    maintenance: () => ({ reason: 'fuzz', drainTimeout: '10m', concurrency: 2, maxHold: '1h' }),
    retryDrain: () => ({ drainTimeout: '30s' }),
    service: () => ({ name: 'fuzz-svc', kind: 'COMPUTE', host: 'h.example', endpoint: 'http://127.0.0.1:9/s', devices: [{ device: ctx.deviceName, deviceRef: 'r' }] }),
    podm: () => ({ name: 'fuzz-podm', url: 'http://127.0.0.1:9/p', syncInterval: 60 }),
    refresh: () => ({ force: true }),
    action: () => ({ attach: { device_id: '00000000-0000-4000-8000-000000000000' } }),
    retry: () => ({ endpoint: `${ctx.sim}?r`, credentialsRef: 'x' }),
    abandon: () => ({ reason: 'fuzz' }),
    empty: () => ({}),
  };
}

/** Makes a body invalid for sure: a wrong type on a field, a missing required field, or an unknown field. */
function breakBody(r: Rng, valid: Record<string, unknown>): Record<string, unknown> {
  const body = { ...valid };
  const keys = Object.keys(body);
  const mode = r.int(3);
  if (mode === 0 && keys.length) {
    const k = r.pick(keys);
    // A wrong type: never a string where a string is expected (a string could be valid).
    body[k] = typeof body[k] === 'string' ? r.pick([null, 42, true, [], {}, [randomString(r)]]) : r.pick([randomString(r), null, {}, [[]], -1.5]);
  } else if (mode === 1 && keys.length) {
    delete body[r.pick(keys)];
    body[`zz_${randomString(r).slice(0, 12)}`] = randomValue(r); // and an unknown field, so it cannot still be valid
  } else {
    body[r.pick(['__extra', 'admin', 'lockedBy', 'state', 'id', 'drop'])] = randomValue(r);
  }
  for (let i = r.int(3); i > 0; i--) body[`x${r.int(1e4)}`] = randomValue(r);
  return body;
}

/** Percent-encodes; a lone surrogate becomes the invalid UTF-8 bytes %ED%A0%80 (itself a good case). */
function enc(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    return '%ED%A0%80' + encodeURIComponent(s.replace(/[\uD800-\uDFFF]/g, ''));
  }
}

function randomId(r: Rng, realIds: string[]): string {
  const raw = r.pick([
    () => r.pick(realIds),
    () => '00000000-0000-0000-0000-000000000000',
    () => 'ffffffff-ffff-4fff-bfff-ffffffffffff',
    () => randomString(r).slice(0, 300),
    () => String(r.int(1e9)),
    () => 'a'.repeat(2_000),
    () => '..',
    () => 'onboard-' + randomString(r).slice(0, 40),
    () => 'maintenance-' + r.pick(realIds) + '-' + r.int(9),
  ])();
  return enc(raw || 'x');
}

function randomQuery(r: Rng): string {
  if (r.chance(0.6)) return '';
  const parts = Array.from({ length: 1 + r.int(4) }, () =>
    r.pick([
      () => `${enc(randomString(r).slice(0, 20))}=${enc(randomString(r).slice(0, 50))}`,
      () => 'a[b][c]=1&a[b][d]=2',
      () => '%zz=%',
      () => 'force=true&force=false',
      () => `limit=${r.pick(['-1', 'abc', '1e9', ''])}`,
    ])(),
  );
  return `?${parts.join('&')}`;
}

interface Case {
  method: 'POST' | 'DELETE';
  path: string;
  body?: string;
  contentType?: string;
}

function generate(r: Rng, ctx: { deviceName: string; deviceId: string; sim: string }): Case {
  const shapes = validShapes(ctx);
  const devId = () => randomId(r, [ctx.deviceName, ctx.deviceId]);
  const routes: [string, () => string, keyof typeof shapes][] = [
    ['POST', () => '/v1/devices', 'device'],
    ['POST', () => `/v1/devices/${devId()}/maintenance`, 'maintenance'],
    ['POST', () => `/v1/devices/${devId()}/maintenance/resume`, 'empty'],
    ['POST', () => `/v1/devices/${devId()}/maintenance/retry`, 'retryDrain'],
    ['POST', () => `/v1/devices/${devId()}/maintenance/cancel`, 'empty'],
    ['POST', () => '/v1/services', 'service'],
    ['POST', () => '/v1/podmanagers', 'podm'],
    ['POST', () => `/v1/podmanagers/${randomId(r, ['fuzz-podm', 'none'])}/refresh`, 'refresh'],
    ['POST', () => `/v1/nodes/${randomId(r, ['1', 'node-1'])}/action`, 'action'],
    ['POST', () => `/v1/operations/${randomId(r, [`onboard-${ctx.deviceName}`])}/retry`, 'retry'],
    ['POST', () => `/v1/operations/${randomId(r, [`onboard-${ctx.deviceName}`])}/abandon`, 'abandon'],
    ['POST', () => `/v1/operations/${randomId(r, [`onboard-${ctx.deviceName}`])}/cancel`, 'empty'],
  ];
  const [method, path, shape] = r.pick(routes);
  const url = path() + randomQuery(r);
  const kind = r.int(10);
  let body: string;
  let contentType = 'application/json';
  if (kind === 0) body = r.pick(['{', '{"a":', '[1,2', 'nul', "{'a':1}", '{"a":1}}', '\u0000', '{"__proto__":{"x":1}}garbage', '']);
  else if (kind === 1) body = JSON.stringify(randomValue(r)); // any JSON at all (a scalar, an array...)
  else if (kind === 2) body = JSON.stringify(randomObject(r));
  else if (kind === 3) {
    body = JSON.stringify(breakBody(r, shapes[shape]()));
    contentType = r.pick(['text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=utf-16', 'application/json; charset=latin1', '']);
  } else body = JSON.stringify(breakBody(r, shapes[shape]()));
  // Routes that take no fields still receive garbage bodies; an empty object could be valid, so never send one there.
  if (shape === 'empty' && (body === '{}' || body === '')) body = JSON.stringify({ unexpected: randomValue(r) });
  return { method: method as 'POST', path: url, body, contentType };
}

async function tableCounts(): Promise<Record<string, string>> {
  const tables = await stack.db.$queryRawUnsafe<{ table_name: string }[]>(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name`,
  );
  const out: Record<string, string> = {};
  for (const { table_name } of tables) {
    // Count and a checksum of every row, so an update shows too, not only an insert or delete.
    const [row] = await stack.db.$queryRawUnsafe<{ n: bigint; h: string | null }[]>(
      `SELECT count(*) AS n, md5(string_agg(md5(t::text), '' ORDER BY md5(t::text))) AS h FROM "${table_name}" t`,
    );
    out[table_name] = `${row!.n} ${row!.h ?? '-'}`;
  }
  return out;
}

// A database of this file's own: the run's shared one changes under other test files at the same time.
let ownDb: { admin: string; name: string; previous?: string } | undefined;
async function adminQuery(sql: string) {
  const admin = new PgClient({ connectionString: ownDb!.admin });
  await admin.connect();
  try {
    await admin.query(sql);
  } finally {
    await admin.end();
  }
}

beforeAll(async () => {
  const shared = new URL(process.env.DATABASE_URL!);
  const mine = new URL(shared.toString());
  mine.pathname = `/${shared.pathname.slice(1)}_fuzz`.slice(0, 63);
  const admin = new URL(shared.toString());
  admin.pathname = '/postgres';
  ownDb = { admin: admin.toString(), name: mine.pathname.slice(1), previous: process.env.DATABASE_URL };
  await adminQuery(`DROP DATABASE IF EXISTS "${ownDb.name}" WITH (FORCE)`);
  await adminQuery(`CREATE DATABASE "${ownDb.name}"`);
  await migrate(mine.toString());
  process.env.DATABASE_URL = mine.toString();
  stack = await startTestStack({ worker: false });
  const app = createApp({
    db: stack.db,
    temporal: stack.temporal,
    taskQueue: stack.config.TEMPORAL_TASK_QUEUE,
    onboardTimings: FAST_ONBOARD,
    log: (entry) => {
      if (entry.level === 'error') serverErrors.push(entry);
    },
  });
  server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(async () => {
  await new Promise((r) => server?.close(r));
  await stack?.close();
  if (ownDb) {
    process.env.DATABASE_URL = ownDb.previous;
    await adminQuery(`DROP DATABASE IF EXISTS "${ownDb.name}" WITH (FORCE)`);
  }
});

test(`${REQUESTS} malformed requests across every mutating route (seed ${SEED}): no 5xx, no 2xx, one error shape, no row changed`, async () => {
  stack.sim.addDevice({ id: 'fuzz-rf', kind: 'redfish' });
  const device = await activeDevice(stack.db, stack.sim.baseUrlFor('fuzz-rf'));
  const ctx = { deviceName: device.name, deviceId: device.id, sim: stack.sim.baseUrlFor('fuzz-rf') };
  const before = await tableCounts();
  expect(Object.keys(before)).toEqual(expect.arrayContaining(['devices', 'operation_events']));

  const r = prng(SEED);
  const cases = Array.from({ length: REQUESTS }, () => generate(r, ctx));
  const bad: unknown[] = [];
  const statuses: Record<number, number> = {};
  let next = 0;
  await Promise.all(
    Array.from({ length: PARALLEL }, async () => {
      while (next < cases.length) {
        const i = next++;
        const c = cases[i]!;
        const res = await fetch(base + c.path, { method: c.method, headers: c.contentType ? { 'content-type': c.contentType } : {}, body: c.body });
        const text = await res.text();
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        let parsed: any;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }
        const shapeOk = parsed && typeof parsed.error?.code === 'string' && parsed.error.code.length > 0 && typeof parsed.error.message === 'string';
        if (res.status >= 500 || res.status < 400 || !shapeOk) {
          bad.push({ case: i, status: res.status, method: c.method, path: c.path.slice(0, 200), body: c.body?.slice(0, 300), answer: text.slice(0, 300) });
        }
      }
    }),
  );
  // Every route family was reached with a 4xx other than 404 route_not_found at least once (the fuzz really hit handlers).
  expect(statuses[400]).toBeGreaterThan(REQUESTS / 10);
  expect(bad.slice(0, 10)).toEqual([]);
  expect(serverErrors.slice(0, 5)).toEqual([]);
  expect(await tableCounts()).toEqual(before);
}, 120_000);

/**
 * Found by the fuzz above (seed 20251121): a pod manager id with a NUL byte reached a PostgreSQL
 * text comparison (22021 invalid byte sequence) and answered 500. Ids now refuse control
 * characters at validation.
 */
test('a NUL byte in a pod manager id is a 4xx, not a 500', async () => {
  for (const path of ['/v1/podmanagers/%00/refresh', '/v1/podmanagers/a%00b']) {
    const res = await fetch(base + path, { method: path.endsWith('refresh') ? 'POST' : 'GET', headers: { 'content-type': 'application/json' }, body: path.endsWith('refresh') ? '{}' : undefined });
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect({ path, status: res.status, code: body.error.code }).toEqual({ path, status: 400, code: 'validation_failed' });
    expect(body.error.message).toMatch(/id: must not contain control characters/);
  }
});
