import { startDeviceSimulator, type DeviceSimulator } from '../../simulators/devices/server';

let sim: DeviceSimulator;
const auth = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

beforeAll(async () => {
  sim = await startDeviceSimulator({
    devices: [
      { id: 'rf-a', kind: 'redfish', credentials: { username: 'admin', password: 'pw-a' } },
      { id: 'nb-a', kind: 'hypervisor-cluster', credentials: { username: 'admin', password: 'pw-n' } },
      { id: 'st-a', kind: 'storage-array', credentials: { username: 'admin', password: 'pw-s' } },
    ],
  });
});
afterAll(() => sim.close());

async function admin(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${sim.url}/_sim${path}`, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

describe('admin API', () => {
  test('lists the seeded devices with their base URLs, never the password', async () => {
    const { status, body } = await admin('GET', '/devices');
    expect(status).toBe(200);
    expect(body.devices.map((d: any) => [d.id, d.kind, d.baseUrl, d.auth])).toEqual([
      ['rf-a', 'redfish', `${sim.url}/d/rf-a`, { username: 'admin' }],
      ['nb-a', 'hypervisor-cluster', `${sim.url}/d/nb-a`, { username: 'admin' }],
      ['st-a', 'storage-array', `${sim.url}/d/st-a`, { username: 'admin' }],
    ]);
    expect(JSON.stringify(body)).not.toMatch(/pw-[ans]/);
  });

  test('adds a device with defaults filled in, then refuses the same id', async () => {
    const created = await admin('POST', '/devices', { id: 'st-new', kind: 'storage-array', latencyMs: 5, facts: { model: 'AS-100' } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      id: 'st-new',
      latencyMs: 5,
      failRate: 0,
      down: false,
      auth: null,
      facts: { model: 'AS-100', firmware: '6.4.2', pools: [{ name: 'pool-a' }, { name: 'pool-b' }] },
    });
    const again = await admin('POST', '/devices', { id: 'st-new', kind: 'redfish' });
    expect(again).toMatchObject({ status: 409, body: { error: { code: 'conflict' } } });
  });

  test.each([
    ['no kind', { id: 'x1' }, ''],
    ['unknown kind', { id: 'x2', kind: 'toaster' }, 'kind'],
    ['failRate above 1', { id: 'x3', kind: 'redfish', failRate: 1.5 }, 'failRate'],
    ['negative latency', { id: 'x4', kind: 'redfish', latencyMs: -1 }, 'latencyMs'],
    ['id with a slash', { id: 'a/b', kind: 'redfish' }, 'id'],
    ['unknown knob', { id: 'x5', kind: 'redfish', explode: true }, ''],
    ['facts of another kind', { id: 'x6', kind: 'redfish', facts: { capacityBytes: 1 } }, 'facts'],
    ['credentials without password', { id: 'x7', kind: 'redfish', credentials: { username: 'u' } }, 'credentials.password'],
  ])('POST with %s: 400 naming the field', async (_name, input, field) => {
    const { status, body } = await admin('POST', '/devices', input);
    expect(status).toBe(400);
    expect(body.error.code).toBe('validation_error');
    if (field) expect(body.error.issues.map((i: any) => i.path)).toContain(field);
    expect((await admin('GET', `/devices/${encodeURIComponent((input as any).id)}`)).status).toBe(404);
  });

  test('POST with a body that is not JSON: 400 invalid_json', async () => {
    const { status, body } = await admin('POST', '/devices', '{"id": ');
    expect(status).toBe(400);
    expect(body.error.code).toBe('invalid_json');
  });

  test('PATCH validates against the device kind and applies knobs', async () => {
    expect((await admin('PATCH', '/devices/rf-a', { facts: { hosts: [] } })).status).toBe(400);
    expect((await admin('PATCH', '/devices/rf-a', { hang: 'yes' })).status).toBe(400);
    expect((await admin('PATCH', '/devices/ghost', { hang: true })).status).toBe(404);
    const ok = await admin('PATCH', '/devices/rf-a', { latencyMs: 7, facts: { systems: [{ model: 'Patched-1' }] } });
    expect(ok.status).toBe(200);
    expect(ok.body.latencyMs).toBe(7);
    expect(ok.body.facts.systems[0]).toMatchObject({ model: 'Patched-1', manufacturer: 'Contoso' });
    expect((await admin('PATCH', '/devices/rf-a', { latencyMs: 0 })).body.latencyMs).toBe(0);
  });

  test('counts requests per device and resets the count', async () => {
    await admin('DELETE', '/devices/st-a/requests');
    await fetch(`${sim.baseUrlFor('st-a')}/api/array`);
    await fetch(`${sim.baseUrlFor('st-a')}/api/array/space`, { headers: { 'X-Api-Key': 'admin:pw-s' } });
    const { status, body } = await admin('GET', '/devices/st-a/requests');
    expect(status).toBe(200);
    expect(body.count).toBe(2);
    expect(body.recent.map((r: any) => [r.method, r.path, r.outcome])).toEqual([
      ['GET', '/api/array', 401],
      ['GET', '/api/array/space', 200],
    ]);
    expect(sim.requestLog.count('st-a')).toBe(2);
    expect((await admin('GET', '/devices/ghost/requests')).status).toBe(404);
  });

  test('DELETE removes the device: its endpoint answers 404', async () => {
    await admin('POST', '/devices', { id: 'temp', kind: 'redfish' });
    expect((await fetch(`${sim.baseUrlFor('temp')}/redfish/v1/`)).status).toBe(200);
    expect((await admin('DELETE', '/devices/temp')).status).toBe(204);
    expect((await fetch(`${sim.baseUrlFor('temp')}/redfish/v1/`)).status).toBe(404);
    expect((await admin('DELETE', '/devices/temp')).status).toBe(404);
  });
});

describe('knobs', () => {
  let n = 0;
  const fresh = (knobs: Record<string, unknown>) => {
    const id = `k-${++n}`;
    sim.addDevice({ id, kind: 'redfish', ...knobs } as Parameters<DeviceSimulator['addDevice']>[0]);
    return `${sim.baseUrlFor(id)}/redfish/v1/`;
  };

  test('latencyMs delays the answer', async () => {
    const url = fresh({ latencyMs: 120 });
    const started = Date.now();
    expect((await fetch(url)).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(110);
  });

  test('failRate 1 always answers 503, failRate 0 never does', async () => {
    const failing = fresh({ failRate: 1 });
    const healthy = fresh({ failRate: 0 });
    const statuses = await Promise.all(
      Array.from({ length: 20 }, (_, i) => fetch(i % 2 ? failing : healthy).then((r) => r.status)),
    );
    expect(statuses).toEqual(Array.from({ length: 20 }, (_, i) => (i % 2 ? 503 : 200)));
  });

  test('down resets the connection without an answer', async () => {
    await expect(fetch(fresh({ down: true }))).rejects.toThrow(/fetch failed/);
  });

  test('hang never answers', async () => {
    const url = fresh({ hang: true });
    await expect(fetch(url, { signal: AbortSignal.timeout(150) })).rejects.toThrow(/aborted|timeout/i);
  });

  test('malformed answers 200 with invalid JSON', async () => {
    const res = await fetch(fresh({ malformed: true }));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    // Node's fetch builds its errors in another realm than jest's, so match by name, not constructor.
    await expect(res.json()).rejects.toMatchObject({ name: 'SyntaxError' });
  });

  test('a knob set through updateDevice takes effect on the next request, and clears', async () => {
    const url = fresh({});
    const id = `k-${n}`;
    sim.updateDevice(id, { failRate: 1 });
    expect((await fetch(url)).status).toBe(503);
    sim.updateDevice(id, { failRate: 0 });
    expect((await fetch(url)).status).toBe(200);
    expect(() => sim.updateDevice(id, { failRate: 2 })).toThrow();
    expect(() => sim.updateDevice('ghost', { failRate: 0 })).toThrow(/no simulated device/);
  });

  test('unknown device ids answer 404', async () => {
    const res = await fetch(`${sim.baseUrlFor('nobody')}/redfish/v1/`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: 'unknown_device', message: 'no simulated device "nobody"' } });
  });
});

describe('device kinds', () => {
  test('redfish: public service root with links, Basic auth on the rest with a Redfish error body', async () => {
    const base = `${sim.baseUrlFor('rf-a')}/redfish/v1`;
    const root = (await (await fetch(`${base}/`)).json()) as any;
    expect(root).toMatchObject({
      '@odata.id': '/redfish/v1/',
      RedfishVersion: '1.15.0',
      Systems: { '@odata.id': '/redfish/v1/Systems' },
      Chassis: { '@odata.id': '/redfish/v1/Chassis' },
      Managers: { '@odata.id': '/redfish/v1/Managers' },
    });
    expect(root.UUID).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-8[0-9a-f]{3}-[0-9a-f]{12}$/);

    const denied = await fetch(`${base}/Systems`);
    expect(denied.status).toBe(401);
    expect(denied.headers.get('www-authenticate')).toBe('Basic realm="Redfish"');
    expect(((await denied.json()) as any).error['@Message.ExtendedInfo'][0].MessageId).toBe('Base.1.15.NoValidSession');
    expect((await fetch(`${base}/Systems`, { headers: { Authorization: auth('admin', 'nope') } })).status).toBe(401);

    const headers = { Authorization: auth('admin', 'pw-a') };
    const systems = await (await fetch(`${base}/Systems`, { headers })).json();
    expect(systems).toMatchObject({ Members: [{ '@odata.id': '/redfish/v1/Systems/1' }], 'Members@odata.count': 1 });
    const system = await (await fetch(`${base}/Systems/1`, { headers })).json();
    expect(system).toMatchObject({
      Manufacturer: 'Contoso',
      PowerState: 'On',
      Status: { State: 'Enabled', Health: 'OK' },
      ProcessorSummary: { Count: 2 },
      MemorySummary: { TotalSystemMemoryGiB: 512 },
    });
    const chassis = await (await fetch(`${base}/Chassis/1`, { headers })).json();
    expect(chassis).toMatchObject({ ChassisType: 'RackMount', Manufacturer: 'Contoso' });
    expect((await fetch(`${base}/Systems/9`, { headers })).status).toBe(404);
  });

  test('hypervisor cluster: session with Basic auth, cluster with the token', async () => {
    const base = `${sim.baseUrlFor('nb-a')}/api/v1`;
    expect((await fetch(`${base}/sessions`, { method: 'POST' })).status).toBe(401);
    expect((await fetch(`${base}/sessions`, { method: 'POST', headers: { Authorization: auth('admin', 'x') } })).status).toBe(401);
    const session = await fetch(`${base}/sessions`, { method: 'POST', headers: { Authorization: auth('admin', 'pw-n') } });
    expect(session.status).toBe(201);
    const { token } = (await session.json()) as { token: string };
    const cluster = await (await fetch(`${base}/cluster`, { headers: { 'X-Auth-Token': token } })).json();
    expect(cluster).toEqual({
      name: 'nb-a-cluster',
      product: 'Nimbus Cluster Manager',
      version: '8.2.1',
      hypervisor: 'kvm',
      hosts: [1, 2, 3].map((i) => ({ name: `node-${i}`, cpus: 64, memoryGiB: 512, state: 'up' })),
    });
    // New credentials end the sessions opened with the old ones.
    sim.updateDevice('nb-a', { credentials: { username: 'admin', password: 'pw-n2' } });
    expect((await fetch(`${base}/cluster`, { headers: { 'X-Auth-Token': token } })).status).toBe(401);
    sim.updateDevice('nb-a', { credentials: { username: 'admin', password: 'pw-n' } });
  });

  test('storage array: X-Api-Key on every resource', async () => {
    const base = `${sim.baseUrlFor('st-a')}/api/array`;
    const headers = { 'X-Api-Key': 'admin:pw-s' };
    expect((await fetch(base, { headers: { 'X-Api-Key': 'admin:bad' } })).status).toBe(401);
    expect(await (await fetch(base, { headers })).json()).toEqual({ name: 'st-a', model: 'AS-9200', serial: 'AS9200-ST-A', firmware: '6.4.2' });
    expect(await (await fetch(`${base}/space`, { headers })).json()).toEqual({ capacityBytes: 50 * 1024 ** 4, usedBytes: 20 * 1024 ** 4 });
    const pools = (await (await fetch(`${base}/pools`, { headers })).json()) as any;
    expect(pools.total).toBe(2);
    expect(pools.items[0]).toEqual({ name: 'pool-a', sizeBytes: 25 * 1024 ** 4, usedBytes: 10 * 1024 ** 4 });
    // Credentials removed: no key needed.
    sim.updateDevice('st-a', { credentials: null });
    expect((await fetch(base)).status).toBe(200);
    sim.updateDevice('st-a', { credentials: { username: 'admin', password: 'pw-s' } });
  });
});

test('close() returns even with a request hanging', async () => {
  const other = await startDeviceSimulator({ devices: [{ id: 'h', kind: 'redfish', hang: true }] });
  const pending = fetch(`${other.baseUrlFor('h')}/redfish/v1/`).catch((e: Error) => e);
  await new Promise((r) => setTimeout(r, 50));
  await other.close();
  expect(await pending).toMatchObject({ name: 'TypeError', message: 'fetch failed' });
});
