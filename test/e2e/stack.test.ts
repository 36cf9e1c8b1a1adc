import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startService, waitForService, type ServiceProcess } from '../helpers/processes';
import { closedEndpoint, eventually, uniq } from '../helpers/stack';
import { freePort } from '../helpers/temporal-server';

/**
 * The running stack over HTTP: the device simulator, the worker and the API as separate
 * processes (started as scripts/up starts them), against the real Temporal dev server and
 * PostgreSQL from global setup. Nothing here is in-process.
 */
let services: ServiceProcess[] = [];
let api: string;
let sim: string;
/** src/server.ts always requires a token: this one is an operator's. */
const API_TOKEN = `e2e-${uniq('op')}-0123456789abcdef`;

async function http(method: string, url: string, body?: unknown, token: string | null = API_TOKEN) {
  const res = await fetch(url, {
    method,
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(token && url.startsWith(api) ? { authorization: `Bearer ${token}` } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

beforeAll(async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dl-e2e-'));
  const secretsFile = path.join(dir, 'secrets.json');
  writeFileSync(secretsFile, JSON.stringify({ 'e2e-good': { username: 'admin', password: 'e2e-right' }, 'e2e-bad': { username: 'admin', password: 'e2e-wrong' } }));
  const [apiPort, simPort] = [await freePort(), await freePort()];
  const env = {
    TEMPORAL_TASK_QUEUE: uniq('e2e'),
    SECRETS_FILE: secretsFile,
    PORT: String(apiPort),
    DEVICE_SIM_PORT: String(simPort),
    ONBOARD_VERIFY_ATTEMPTS: '2',
    ONBOARD_VERIFY_BACKOFF_MS: '100',
    ONBOARD_VERIFY_TIMEOUT_MS: '5000',
    LOG_LEVEL: 'warn',
    API_TOKENS: `e2e:operator:${API_TOKEN}`,
  };
  const simulator = startService('device-simulator', 'simulators/devices/main.ts', env);
  const worker = startService('worker', 'src/worker.ts', env);
  const apiService = startService('api', 'src/server.ts', env);
  services = [apiService, worker, simulator];
  await waitForService(simulator, simPort);
  await waitForService(apiService, apiPort);
  api = `http://127.0.0.1:${apiPort}`;
  sim = `http://127.0.0.1:${simPort}`;
  const added = await http('POST', `${sim}/_sim/devices`, { id: 'e2e-bmc', kind: 'redfish', credentials: { username: 'admin', password: 'e2e-right' } });
  expect(added.status).toBeLessThan(300);
}, 120_000);

afterAll(async () => {
  for (const s of services) await s.stop();
});

afterEach(() => {
  const state = expect.getState();
  if (state.assertionCalls !== state.numPassingAsserts) {
    for (const s of services) console.log(`--- ${s.name} output ---\n${s.output()}`);
  }
});

async function untilOperation(workflowId: string, predicate: (op: any) => boolean) {
  return eventually(async () => {
    const op = await http('GET', `${api}/v1/operations/${workflowId}`);
    return op.status === 200 && predicate(op.body) ? op.body : undefined;
  }, 60_000, `operation ${workflowId}`);
}

test('health says the API reaches PostgreSQL and Temporal', async () => {
  const health = await http('GET', `${api}/health`, undefined, null);
  expect(health).toEqual({ status: 200, body: { status: 'ok', checks: { database: 'ok', temporal: 'ok' } } });
});

test('the API refuses a request without a token, and a registration the operator role may not make', async () => {
  expect((await http('GET', `${api}/v1/devices`, undefined, null)).status).toBe(401);
  const denied = await http('POST', `${api}/v1/services`, { name: uniq('e2e-svc'), kind: 'COMPUTE', host: 'h', endpoint: 'http://127.0.0.1:1' });
  expect(denied).toMatchObject({ status: 403, body: { error: { code: 'forbidden' } } });
});

test('a device that verifies is ACTIVE', async () => {
  const name = uniq('e2e-ok');
  const created = await http('POST', `${api}/v1/devices`, {
    name, type: 'SERVER', vendor: 'Contoso', endpoint: `${sim}/d/e2e-bmc`, credentialsRef: 'e2e-good',
  });
  expect(created.status).toBe(202);
  const op = await untilOperation(created.body.operation.workflowId, (o) => o.status === 'COMPLETED');
  expect(op.result.outcome).toBe('active');
  const device = await http('GET', `${api}/v1/devices/${name}`);
  expect(device.body).toMatchObject({ state: 'ACTIVE', driver: 'redfish', currentOperation: null });
  expect(device.body.capacity.memoryGiB).toBeGreaterThan(0);
  const events = await http('GET', `${api}/v1/devices/${name}/events`);
  expect(events.body.items.map((e: { actor: string }) => e.actor)).toEqual(['user:e2e', 'user:e2e', 'user:e2e']);
});

test('rejected credentials leave VERIFY_FAILED; a retry with the right reference makes it ACTIVE', async () => {
  await http('POST', `${sim}/_sim/devices`, { id: 'e2e-bmc-2', kind: 'redfish', credentials: { username: 'admin', password: 'e2e-right' } });
  const name = uniq('e2e-creds');
  const created = await http('POST', `${api}/v1/devices`, {
    name, type: 'SERVER', vendor: 'Contoso', endpoint: `${sim}/d/e2e-bmc-2`, credentialsRef: 'e2e-bad',
  });
  expect(created.status).toBe(202);
  const workflowId = created.body.operation.workflowId;
  const waiting = await untilOperation(workflowId, (o) => o.progress?.status === 'waiting_for_operator');
  expect(waiting.progress.lastErrorType).toBe('CredentialsRejected');
  expect((await http('GET', `${api}/v1/devices/${name}`)).body).toMatchObject({ state: 'VERIFY_FAILED', lastError: expect.stringMatching(/401/) });

  const retry = await http('POST', `${api}/v1/operations/${workflowId}/retry`, { credentialsRef: 'e2e-good' });
  expect(retry.status).toBe(202);
  const done = await untilOperation(workflowId, (o) => o.status === 'COMPLETED');
  expect(done.result).toMatchObject({ outcome: 'active', attempts: 2 });
  expect((await http('GET', `${api}/v1/devices/${name}`)).body.state).toBe('ACTIVE');
});

test('an unreachable device ends VERIFY_FAILED waiting for an operator, with the reason', async () => {
  const name = uniq('e2e-down');
  const created = await http('POST', `${api}/v1/devices`, { name, type: 'SERVER', vendor: 'Contoso', endpoint: await closedEndpoint() });
  expect(created.status).toBe(202);
  const waiting = await untilOperation(created.body.operation.workflowId, (o) => o.progress?.status === 'waiting_for_operator');
  expect(waiting.status).toBe('RUNNING');
  expect(waiting.progress.lastErrorType).toBe('DeviceUnreachable');
  const device = (await http('GET', `${api}/v1/devices/${name}`)).body;
  expect(device).toMatchObject({ state: 'VERIFY_FAILED', currentOperation: { workflowId: created.body.operation.workflowId } });
  expect(device.lastError).toMatch(/refused|connect/i);
  const abandon = await http('POST', `${api}/v1/operations/${created.body.operation.workflowId}/abandon`, { reason: 'e2e cleanup' });
  expect(abandon.status).toBe(202);
});
