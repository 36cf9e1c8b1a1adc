import { startPodmSimulator, type PodmSimulator, type SimPodmConfig } from '../../simulators/podm/server';

let sim: PodmSimulator;

beforeAll(async () => {
  sim = await startPodmSimulator({
    podms: [
      { id: 'podm-a', nodes: 4, resources: 40, attachedFraction: 0.25 },
      { id: 'podm-auth', credentials: { username: 'admin', password: 'pw-secret-a' }, nodes: 1, resources: 3 },
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

/** A call on a pod manager's Redfish API, relative to its base URL. */
const podm = (id: string, method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
  send(method, `${sim.baseUrlFor(id)}${path}`, body, headers);

const basic = (user: string, pass: string) => ({ Authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` });

let n = 0;
/** A fresh pod manager of its own for one test: nodes "1" and "2", a drive and an NVMe endpoint, free. */
function fresh(knobs: Partial<SimPodmConfig> = {}): string {
  const id = `pm-${++n}`;
  sim.addPodm({
    id,
    nodes: 2,
    resources: [
      { id: 'd1', type: 'storage' },
      { id: 'e1', type: 'nvme' },
    ],
    actionDelayMs: 0,
    ...knobs,
  });
  return id;
}

const D1 = '/redfish/v1/Chassis/pool-1/Drives/d1';
const E1 = '/redfish/v1/Fabrics/PCIe/Endpoints/e1';

/** POST the action a node advertises (read from the node, as a client must). */
async function act(id: string, nodeId: string, op: 'attach' | 'detach', resourceUri: string, extra: Record<string, unknown> = {}): Promise<Reply> {
  const node = (await podm(id, 'GET', `/redfish/v1/Nodes/${nodeId}`)).body;
  const key = Object.keys(node.Actions).find((k) => k.toLowerCase().includes(op));
  return send('POST', `${sim.baseUrlFor(id)}${node.Actions[key!].target}`, { Resource: { '@odata.id': resourceUri }, ...extra });
}

/** Every member of PooledResources, following nextLink. */
async function readAll(id: string, top?: number): Promise<{ members: any[]; pages: number; count: number }> {
  let path = `/redfish/v1/PooledResources${top ? `?$top=${top}` : ''}`;
  const members: any[] = [];
  let pages = 0;
  let count = -1;
  for (;;) {
    const { status, body } = await podm(id, 'GET', path);
    expect(status).toBe(200);
    pages++;
    count = body['Members@odata.count'];
    members.push(...body.Members);
    if (!body['Members@odata.nextLink']) break;
    path = body['Members@odata.nextLink'];
  }
  return { members, pages, count };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(5);
  }
}

describe('admin API', () => {
  test('lists pod managers with base URL, knobs and a summary, never the credentials', async () => {
    const { status, body } = await admin('GET', '/podms');
    expect(status).toBe(200);
    const byId = Object.fromEntries(body.podms.map((p: any) => [p.id, p]));
    expect(byId['podm-a']).toMatchObject({
      baseUrl: `${sim.url}/p/podm-a`,
      auth: null,
      seed: 1,
      latencyMs: 0,
      failRate: 0,
      partial: null,
      empty: false,
      actionDelayMs: 20,
      failActions: null,
      legacyActions: false,
      maxPageSize: 1000,
      nodes: ['1', '2', '3', '4'],
      resources: { total: 40 },
    });
    const byType = byId['podm-a'].resources.byType;
    expect(byType.storage + byType.nvme + byType.nic + byType.gpu).toBe(40);
    expect(byId['podm-a'].resources.attached).toBeGreaterThan(0);
    expect(byId['podm-auth'].auth).toBe('basic');
    expect(JSON.stringify(body)).not.toContain('pw-secret-a');
  });

  test('creates a pod manager with described nodes and resources, then refuses the same id', async () => {
    const created = await admin('POST', '/podms', {
      id: 'pm-created',
      nodes: [{ id: 'n-a', name: 'web-1' }, { state: 'Allocated' }],
      resources: [
        { id: 'gpu-x', type: 'gpu', poolId: 'rack-9', node: 'n-a', vendor: 'NVIDIA', model: 'A100-PCIE-40GB', capacityGiB: 40 },
        { type: 'nic', speedMbps: 10000 },
        { type: 'fpga', state: 'Disabled', health: 'Warning' },
      ],
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id: 'pm-created', nodes: ['n-a', '1'], pools: ['pool-1', 'rack-9'], resources: { total: 3, attached: 1 } });
    expect(sim.getResource('pm-created', 'gpu-x')).toMatchObject({
      uri: '/redfish/v1/Chassis/rack-9/PCIeDevices/gpu-x',
      nodeId: 'n-a',
      targetNodeId: 'n-a',
      capacityGiB: 40,
    });
    // Described resources without an id take generated ones: <prefix>-<n>.
    expect(sim.getResource('pm-created', 'nic-1')).toMatchObject({ type: 'nic', speedMbps: 10000, nodeId: null });
    expect(sim.getResource('pm-created', 'fpga-2')).toMatchObject({ state: 'Disabled', health: 'Warning' });
    expect(sim.getNode('pm-created', '1')).toMatchObject({ state: 'Allocated', attached: [] });
    expect(sim.getNode('pm-created', 'n-a')?.attached).toEqual(['gpu-x']);

    const again = await admin('POST', '/podms', { id: 'pm-created' });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('conflict');
  });

  test.each([
    ['an unknown field', { id: 'x1', bogus: true }, ''],
    ['a bad id', { id: '../x' }, 'id'],
    ['failRate above 1', { id: 'x2', failRate: 2 }, 'failRate'],
    ['an unknown partial mode', { id: 'x3', partial: 'some' }, 'partial'],
    ['a negative resource count', { id: 'x4', resources: -1 }, 'resources'],
    ['a resource of an unknown type', { id: 'x5', resources: [{ type: 'tape' }] }, 'resources.0.type'],
    ['a node spec with an unknown field', { id: 'x9', nodes: [{ id: 'a', cpus: 4 }] }, 'nodes.0'],
    ['a user name with a colon', { id: 'x6', credentials: { username: 'a:b', password: 'p' } }, 'credentials.username'],
    ['failActions without a mode', { id: 'x7', failActions: { times: 1 } }, 'failActions.mode'],
    ['a zero maxPageSize', { id: 'x8', maxPageSize: 0 }, 'maxPageSize'],
  ])('POST with %s: 400 naming the field', async (_what, body, path) => {
    const { status, body: answer } = await admin('POST', '/podms', body);
    expect(status).toBe(400);
    expect(answer.error.code).toBe('validation_error');
    expect(answer.error.issues.map((i: any) => i.path)).toContain(path);
    expect(sim.getPodm((body as { id: string }).id)).toBeUndefined();
  });

  test('POST naming an unknown node or a duplicate resource creates nothing; a body that is not JSON is 400', async () => {
    const unknownNode = await admin('POST', '/podms', { id: 'x-node', nodes: 1, resources: [{ type: 'gpu', node: '7' }] });
    expect(unknownNode.status).toBe(400);
    expect(unknownNode.body.error).toMatchObject({ code: 'invalid_reference', message: expect.stringContaining('node "7"') });
    const dup = await admin('POST', '/podms', { id: 'x-dup', resources: [{ id: 'r', type: 'gpu' }, { id: 'r', type: 'nic' }] });
    expect(dup.status).toBe(409);
    expect(sim.getPodm('x-node')).toBeUndefined();
    expect(sim.getPodm('x-dup')).toBeUndefined();
    const res = await fetch(`${sim.url}/_sim/podms`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"id": ' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error.code).toBe('invalid_json');
  });

  test('PATCH validates and applies knobs; credentials can be set and removed', async () => {
    const id = fresh();
    expect((await admin('PATCH', `/podms/${id}`, { latencyMs: -1 })).status).toBe(400);
    expect((await admin('PATCH', `/podms/${id}`, { seed: 3 })).status).toBe(400);
    const patched = await admin('PATCH', `/podms/${id}`, {
      legacyActions: true,
      partial: 'skipPage',
      failActions: { mode: 'afterApply', actions: ['detach'], times: 2 },
      credentials: { username: 'root', password: 'pw' },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ legacyActions: true, partial: 'skipPage', failActions: { mode: 'afterApply', times: 2 }, auth: 'basic' });
    const cleared = await admin('PATCH', `/podms/${id}`, { partial: null, failActions: null, credentials: null });
    expect(cleared.body).toMatchObject({ partial: null, failActions: null, auth: null, legacyActions: true });
    expect((await admin('PATCH', '/podms/nope', {})).status).toBe(404);
  });

  test('adds resources (generated numbering continues) and nodes; vanishes a resource; moves one out of band', async () => {
    const id = fresh();
    const added = await admin('POST', `/podms/${id}/resources`, { resources: 3 });
    expect(added.status).toBe(201);
    // d1 and e1 took no generated index: generated ones are numbered 1..3.
    expect(added.body.added.map((r: any) => r.id.replace(/^[a-z]+-/, ''))).toEqual(['1', '2', '3']);
    expect((await admin('POST', `/podms/${id}/resources`, { resources: [{ id: 'd1', type: 'storage' }] })).status).toBe(409);
    expect((await admin('POST', `/podms/${id}/resources`, { resources: 'many' })).status).toBe(400);

    const nodes = await admin('POST', `/podms/${id}/nodes`, { nodes: 2 });
    expect(nodes.body.added.map((x: any) => x.id)).toEqual(['3', '4']);

    const moved = await admin('POST', `/podms/${id}/resources/d1/move`, { node: '3' });
    expect(moved.status).toBe(200);
    expect(moved.body).toMatchObject({ id: 'd1', nodeId: '3', targetNodeId: '3' });
    expect((await podm(id, 'GET', D1)).body.Links.ComposedNodes).toEqual([{ '@odata.id': '/redfish/v1/Nodes/3' }]);
    expect((await admin('POST', `/podms/${id}/resources/d1/move`, { node: '99' })).body.error.code).toBe('unknown_node');
    expect((await admin('POST', `/podms/${id}/resources/zz/move`, { node: null })).body.error.code).toBe('unknown_resource');

    expect((await admin('DELETE', `/podms/${id}/resources/d1`)).status).toBe(204);
    expect((await podm(id, 'GET', D1)).status).toBe(404);
    expect((await podm(id, 'GET', '/redfish/v1/Nodes/3')).body.Links.Drives).toEqual([]);
    expect((await admin('GET', `/podms/${id}/resources/d1`)).status).toBe(404);
    expect((await readAll(id)).count).toBe(4);
  });

  test('removing a node frees its resources', async () => {
    const id = fresh();
    sim.moveResource(id, 'e1', '2');
    expect((await admin('DELETE', `/podms/${id}/nodes/2`)).status).toBe(204);
    expect(sim.getResource(id, 'e1')).toMatchObject({ nodeId: null, targetNodeId: null });
    expect((await podm(id, 'GET', '/redfish/v1/Nodes/2')).status).toBe(404);
    expect((await admin('DELETE', `/podms/${id}/nodes/2`)).status).toBe(404);
  });

  test('DELETE removes the pod manager: its base URL answers 404', async () => {
    const id = fresh();
    expect((await admin('DELETE', `/podms/${id}`)).status).toBe(204);
    expect((await podm(id, 'GET', '/redfish/v1/')).status).toBe(404);
    expect((await admin('GET', `/podms/${id}`)).status).toBe(404);
  });

  test('generation is stable: the same seed gives the same resources, growing keeps the first ones', async () => {
    // Another simulator process stands for a restart: same id and seed.
    const other = await startPodmSimulator({ podms: [{ id: 'g-42', seed: 42, nodes: 3, resources: 60, attachedFraction: 0.5 }] });
    try {
      sim.addPodm({ id: 'g-42', seed: 42, nodes: 3, resources: 80, attachedFraction: 0.5 });
      sim.addPodm({ id: 'g-43', seed: 43, resources: 60 });
      const strip = (m: any) => ({ id: m.Id, uri: m['@odata.id'], serial: m.SerialNumber, model: m.Model, node: m.Links.ComposedNodes });
      const a = (await readAll('g-42')).members.map(strip);
      const res = await fetch(`${other.baseUrlFor('g-42')}/redfish/v1/PooledResources`);
      const b = ((await res.json()) as any).Members.map(strip);
      expect(a.slice(0, 60)).toEqual(b);
      const c = (await readAll('g-43')).members.map(strip);
      expect(c.map((m) => m.serial)).not.toEqual(b.map((m: any) => m.serial));
      expect(sim.getPodm('g-42')?.uuid).toBe(other.getPodm('g-42')?.uuid);
    } finally {
      await other.close();
    }
  });

  test('stats count requests and actions, and can be reset; stats of an unknown pod manager is 404', async () => {
    const id = fresh();
    await act(id, '1', 'attach', D1);
    const { body } = await admin('GET', `/podms/${id}/stats`);
    expect(body).toMatchObject({ requests: 2, attachCalls: 1, detachCalls: 0, attachesApplied: { d1: 1 }, nodeReads: 1 });
    expect(body.actions).toEqual([expect.objectContaining({ op: 'attach', nodeId: '1', resourceId: 'd1', status: 204, outcome: 'applied' })]);
    expect((await admin('DELETE', `/podms/${id}/stats`)).status).toBe(204);
    expect(sim.stats(id)).toMatchObject({ requests: 0, attachCalls: 0, attachesApplied: {}, actions: [] });
    expect((await admin('GET', '/podms/nope/stats')).status).toBe(404);
  });
});

describe('Redfish API', () => {
  test('service root links Chassis, Systems, Nodes and the PooledResources collection; every link resolves', async () => {
    const { status, headers, body } = await podm('podm-a', 'GET', '/redfish/v1/');
    expect(status).toBe(200);
    expect(headers.get('odata-version')).toBe('4.0');
    expect(body).toMatchObject({
      '@odata.id': '/redfish/v1/',
      RedfishVersion: expect.any(String),
      UUID: expect.stringMatching(/^[0-9a-f-]{36}$/),
      Chassis: { '@odata.id': '/redfish/v1/Chassis' },
      Systems: { '@odata.id': '/redfish/v1/Systems' },
      Nodes: { '@odata.id': '/redfish/v1/Nodes' },
      Oem: { Intel_RackScale: { PooledResources: { '@odata.id': '/redfish/v1/PooledResources' } } },
    });
    for (const link of ['/redfish/v1/Chassis', '/redfish/v1/Systems', '/redfish/v1/Nodes', '/redfish/v1/Fabrics', '/redfish/v1/PooledResources']) {
      const coll = await podm('podm-a', 'GET', link);
      expect(coll.status).toBe(200);
      expect(coll.body.Members.length).toBe(Math.min(coll.body['Members@odata.count'], 1000));
      const first = coll.body.Members[0]['@odata.id'];
      expect((await podm('podm-a', 'GET', first)).status).toBe(200);
    }
    expect((await podm('podm-a', 'GET', '/redfish')).body).toEqual({ v1: '/redfish/v1/' });
    expect((await podm('podm-a', 'GET', '/redfish/v1')).body['@odata.id']).toBe('/redfish/v1/');
  });

  test('resources of each type: URI, type, properties and their collections', async () => {
    const id = fresh();
    sim.addResources(id, [
      { id: 'n1', type: 'nic', poolId: 'pool-2' },
      { id: 'g1', type: 'gpu', poolId: 'pool-2' },
    ]);
    const drive = (await podm(id, 'GET', D1)).body;
    expect(drive).toMatchObject({
      '@odata.id': D1,
      '@odata.type': expect.stringMatching(/^#Drive\./),
      Id: 'd1',
      Manufacturer: expect.any(String),
      Model: expect.any(String),
      SerialNumber: expect.any(String),
      CapacityBytes: expect.any(Number),
      Protocol: 'SATA',
      Status: { State: 'Enabled', Health: 'OK' },
      Links: { ComposedNodes: [] },
      Oem: { Intel_RackScale: { ResourceType: 'Storage', PoolId: 'pool-1' } },
    });
    expect((await podm(id, 'GET', E1)).body.Oem.Intel_RackScale.ResourceType).toBe('NVMe');
    expect((await podm(id, 'GET', '/redfish/v1/Chassis/pool-2/NetworkAdapters/n1')).body).toMatchObject({ SpeedMbps: expect.any(Number), Oem: { Intel_RackScale: { ResourceType: 'NIC' } } });
    expect((await podm(id, 'GET', '/redfish/v1/Chassis/pool-2/PCIeDevices/g1')).body.Oem.Intel_RackScale.ResourceType).toBe('GPU');
    expect((await podm(id, 'GET', '/redfish/v1/Chassis/pool-1/Drives')).body.Members).toEqual([{ '@odata.id': D1 }]);
    expect((await podm(id, 'GET', '/redfish/v1/Fabrics/PCIe/Endpoints')).body.Members).toEqual([{ '@odata.id': E1 }]);
    expect((await podm(id, 'GET', '/redfish/v1/Chassis')).body.Members).toEqual([{ '@odata.id': '/redfish/v1/Chassis/pool-1' }, { '@odata.id': '/redfish/v1/Chassis/pool-2' }]);
    expect((await podm(id, 'GET', '/redfish/v1/Chassis/pool-1/Drives/nope')).status).toBe(404);
    const missing = await podm(id, 'GET', '/redfish/v1/Nothing');
    expect(missing.status).toBe(404);
    expect(missing.body.error['@Message.ExtendedInfo'][0].MessageId).toBe('Base.1.8.ResourceMissingAtURI');
  });

  test('PooledResources pages with $skip/$top, full members inline, nextLink and count; maxPageSize caps $top', async () => {
    const first = await podm('podm-a', 'GET', '/redfish/v1/PooledResources?$top=15');
    expect(first.body['Members@odata.count']).toBe(40);
    expect(first.body.Members).toHaveLength(15);
    expect(first.body.Members[0]).toMatchObject({ Id: expect.any(String), Status: expect.any(Object), Oem: expect.any(Object) });
    expect(first.body['Members@odata.nextLink']).toBe('/redfish/v1/PooledResources?$skip=15&$top=15');
    const { members, pages } = await readAll('podm-a', 15);
    expect(pages).toBe(3);
    expect(new Set(members.map((m) => m.Id)).size).toBe(40);
    const last = await podm('podm-a', 'GET', '/redfish/v1/PooledResources?$skip=30&$top=15');
    expect(last.body.Members).toHaveLength(10);
    expect(last.body['Members@odata.nextLink']).toBeUndefined();

    const id = fresh({ resources: 10, maxPageSize: 4 });
    const capped = await podm(id, 'GET', '/redfish/v1/PooledResources?$top=100');
    expect(capped.body.Members).toHaveLength(4);
    expect(capped.body['Members@odata.nextLink']).toBe('/redfish/v1/PooledResources?$skip=4&$top=4');
    for (const bad of ['$top=0', '$top=-1', '$skip=x', '$top=1.5']) {
      const r = await podm(id, 'GET', `/redfish/v1/PooledResources?${bad}`);
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe('Base.1.8.QueryParameterValueFormatError');
    }
  });

  test('Nodes: references by default, inline with $expand, paged', async () => {
    const refs = await podm('podm-a', 'GET', '/redfish/v1/Nodes');
    expect(refs.body).toMatchObject({ 'Members@odata.count': 4, Members: [{ '@odata.id': '/redfish/v1/Nodes/1' }, {}, {}, {}] });
    expect(Object.keys(refs.body.Members[0])).toEqual(['@odata.id']);
    const expanded = await podm('podm-a', 'GET', '/redfish/v1/Nodes?$expand=.($levels=1)&$top=3');
    expect(expanded.body.Members).toHaveLength(3);
    expect(expanded.body.Members[0]).toMatchObject({ Id: '1', ComposedNodeState: 'Assembled', Actions: expect.any(Object) });
    const next = await podm('podm-a', 'GET', expanded.body['Members@odata.nextLink']);
    expect(next.body.Members.map((m: any) => m.Id)).toEqual(['4']);
  });

  test('credentials: the service root is open, everything else needs HTTP Basic', async () => {
    expect((await podm('podm-auth', 'GET', '/redfish/v1/')).status).toBe(200);
    const none = await podm('podm-auth', 'GET', '/redfish/v1/Nodes');
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
    expect(none.body.error['@Message.ExtendedInfo'][0].MessageId).toBe('Base.1.8.NoValidSession');
    expect((await podm('podm-auth', 'GET', '/redfish/v1/Nodes', undefined, basic('admin', 'wrong'))).status).toBe(401);
    expect((await podm('podm-auth', 'GET', '/redfish/v1/Nodes', undefined, basic('Admin', 'pw-secret-a'))).status).toBe(401);
    expect((await podm('podm-auth', 'GET', '/redfish/v1/Nodes', undefined, { Authorization: 'Bearer pw-secret-a' })).status).toBe(401);
    expect((await podm('podm-auth', 'GET', '/redfish/v1/Nodes', undefined, basic('admin', 'pw-secret-a'))).status).toBe(200);
    expect((await podm('podm-auth', 'GET', '/redfish/v1/PooledResources', undefined, basic('admin', 'pw-secret-a'))).body['Members@odata.count']).toBe(3);
  });
});

describe('attach and detach', () => {
  test('a node advertises both actions with targets that are not the conventional path', async () => {
    const id = fresh();
    const node = (await podm(id, 'GET', '/redfish/v1/Nodes/1')).body;
    expect(Object.keys(node.Actions).sort()).toEqual(['#ComposedNode.AttachResource', '#ComposedNode.DetachResource']);
    const target = node.Actions['#ComposedNode.AttachResource'].target;
    expect(target).toMatch(/^\/redfish\/v1\/Nodes\/1\/Actions\/.+\/ComposedNode\.AttachResource$/);
    // A client that builds the conventional path instead of reading the target fails.
    const guessed = await send('POST', `${sim.baseUrlFor(id)}/redfish/v1/Nodes/1/Actions/ComposedNode.AttachResource`, { Resource: { '@odata.id': D1 } });
    expect(guessed.status).toBe(404);
    // Another pod manager's target (its random segment differs) fails too.
    const other = fresh();
    const foreign = (await podm(other, 'GET', '/redfish/v1/Nodes/1')).body.Actions['#ComposedNode.AttachResource'].target;
    expect(foreign).not.toBe(target);
    expect((await send('POST', `${sim.baseUrlFor(id)}${foreign}`, { Resource: { '@odata.id': D1 } })).status).toBe(404);
    expect(sim.stats(id).attachCalls).toBe(0);
  });

  test('attach: 204 at once, the change shows after actionDelayMs on both the resource and the node', async () => {
    // Long enough that the reads below surely come before the change shows, even on a loaded machine.
    const id = fresh({ actionDelayMs: 800 });
    const res = await act(id, '1', 'attach', D1);
    expect(res.status).toBe(204);
    expect(res.body).toBeUndefined();
    // Decided at once, shown later: reads still report it free.
    expect(sim.getResource(id, 'd1')).toMatchObject({ nodeId: null, targetNodeId: '1' });
    expect((await podm(id, 'GET', D1)).body.Links.ComposedNodes).toEqual([]);
    await until(async () => (await podm(id, 'GET', D1)).body.Links.ComposedNodes.length === 1);
    expect((await podm(id, 'GET', D1)).body.Links).toMatchObject({ ComposedNodes: [{ '@odata.id': '/redfish/v1/Nodes/1' }], 'ComposedNodes@odata.count': 1 });
    expect((await podm(id, 'GET', '/redfish/v1/Nodes/1')).body.Links.Drives).toEqual([{ '@odata.id': D1 }]);
    expect(sim.stats(id).attachesApplied).toEqual({ d1: 1 });
  });

  test('attach to the same node is idempotent; to another node 409; detach frees; detach of a free resource is 204', async () => {
    const id = fresh();
    expect((await act(id, '1', 'attach', E1)).status).toBe(204);
    expect((await act(id, '1', 'attach', E1)).status).toBe(204);
    const conflict = await act(id, '2', 'attach', E1);
    expect(conflict.status).toBe(409);
    expect(conflict.body.error['@Message.ExtendedInfo'][0]).toMatchObject({ MessageId: 'Base.1.8.ResourceInUse', Message: expect.stringContaining('node "1"') });
    expect((await act(id, '2', 'detach', E1)).status).toBe(409);
    expect(sim.getResource(id, 'e1')?.nodeId).toBe('1');
    expect((await act(id, '1', 'detach', E1)).status).toBe(204);
    expect(sim.getResource(id, 'e1')?.nodeId).toBeNull();
    expect((await act(id, '1', 'detach', E1)).status).toBe(204);
    expect((await act(id, '2', 'attach', E1)).status).toBe(204);
    const stats = sim.stats(id);
    expect(stats).toMatchObject({ attachCalls: 4, detachCalls: 3, attachesApplied: { e1: 2 }, detachesApplied: { e1: 1 }, conflicts: 2 });
    expect(stats.actions.map((a) => a.outcome)).toEqual(['applied', 'noop', 'conflict', 'conflict', 'applied', 'noop', 'applied']);
  });

  test('two concurrent attaches of one resource to two nodes: exactly one wins', async () => {
    const id = fresh({ actionDelayMs: 200 });
    const targets = await Promise.all(['1', '2'].map(async (nid) => (await podm(id, 'GET', `/redfish/v1/Nodes/${nid}`)).body.Actions['#ComposedNode.AttachResource'].target));
    const answers = await Promise.all(targets.map((t) => send('POST', `${sim.baseUrlFor(id)}${t}`, { Resource: { '@odata.id': D1 } })));
    expect(answers.map((a) => a.status).sort()).toEqual([204, 409]);
    expect(sim.stats(id).attachesApplied).toEqual({ d1: 1 });
  });

  test('the resource may be named by an absolute URI under the base URL; CapacityGiB and Protocol are recorded', async () => {
    const id = fresh();
    expect((await act(id, '1', 'attach', `${sim.baseUrlFor(id)}${D1}`, { CapacityGiB: 100, Protocol: 'NVMeOverFabrics' })).status).toBe(204);
    expect(sim.stats(id).actions[0]).toMatchObject({ resourceId: 'd1', capacityGiB: 100, protocol: 'NVMeOverFabrics' });
  });

  test('unknown resource or node: 404; a bad body: 400; other methods: 405', async () => {
    const id = fresh();
    const unknown = await act(id, '1', 'attach', '/redfish/v1/Chassis/pool-1/Drives/nope');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error['@Message.ExtendedInfo'][0].MessageId).toBe('Base.1.8.ResourceNotFound');
    const target = (await podm(id, 'GET', '/redfish/v1/Nodes/1')).body.Actions['#ComposedNode.AttachResource'].target as string;
    const ghostNode = target.replace('/Nodes/1/', '/Nodes/9/');
    expect((await send('POST', `${sim.baseUrlFor(id)}${ghostNode}`, { Resource: { '@odata.id': D1 } })).status).toBe(404);
    for (const body of [{}, { Resource: 'd1' }, { Resource: { '@odata.id': D1 }, Extra: 1 }, { Resource: { '@odata.id': D1 }, CapacityGiB: -5 }]) {
      const bad = await send('POST', `${sim.baseUrlFor(id)}${target}`, body);
      expect(bad.status).toBe(400);
      expect(bad.body.error.code).toBe('Base.1.8.PropertyValueFormatError');
    }
    const notJson = await fetch(`${sim.baseUrlFor(id)}${target}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{' });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as any).error.code).toBe('Base.1.8.MalformedJSON');
    expect((await podm(id, 'POST', '/redfish/v1/Nodes/1', {})).status).toBe(405);
    expect((await podm(id, 'DELETE', D1)).status).toBe(405);
    expect(sim.getResource(id, 'd1')?.targetNodeId).toBeNull();
  });

  test('legacyActions: AttachEndpoint / DetachEndpoint names and targets; the previous targets stop working', async () => {
    const id = fresh();
    const modern = (await podm(id, 'GET', '/redfish/v1/Nodes/1')).body.Actions['#ComposedNode.AttachResource'].target;
    sim.updatePodm(id, { legacyActions: true });
    const node = (await podm(id, 'GET', '/redfish/v1/Nodes/1')).body;
    expect(Object.keys(node.Actions).sort()).toEqual(['#ComposedNode.AttachEndpoint', '#ComposedNode.DetachEndpoint']);
    expect((await send('POST', `${sim.baseUrlFor(id)}${modern}`, { Resource: { '@odata.id': E1 } })).status).toBe(404);
    expect((await act(id, '1', 'attach', E1)).status).toBe(204);
    expect((await act(id, '1', 'detach', E1)).status).toBe(204);
    expect(sim.stats(id)).toMatchObject({ attachesApplied: { e1: 1 }, detachesApplied: { e1: 1 } });
  });

  test('failActions beforeApply: 500 and nothing changes', async () => {
    const id = fresh({ failActions: { mode: 'beforeApply' } });
    const res = await act(id, '1', 'attach', D1);
    expect(res.status).toBe(500);
    expect(res.body.error['@Message.ExtendedInfo'][0].MessageId).toBe('Base.1.8.InternalError');
    expect(sim.getResource(id, 'd1')).toMatchObject({ nodeId: null, targetNodeId: null });
    expect(sim.stats(id)).toMatchObject({ attachesApplied: {}, actionsFailed: 1 });
  });

  test('failActions afterApply, detach only, twice: the change happens, the answer is 500; then it stops failing', async () => {
    const id = fresh({ failActions: { mode: 'afterApply', actions: ['detach'], times: 2 } });
    expect((await act(id, '1', 'attach', D1)).status).toBe(204);
    expect((await act(id, '1', 'detach', D1)).status).toBe(500);
    expect(sim.getResource(id, 'd1')).toMatchObject({ nodeId: null, targetNodeId: null });
    // A retry finds it already free: nothing to change, but the knob still fails it once more.
    expect((await act(id, '1', 'detach', D1)).status).toBe(500);
    expect((await act(id, '1', 'detach', D1)).status).toBe(204);
    const stats = sim.stats(id);
    expect(stats).toMatchObject({ detachesApplied: { d1: 1 }, actionsFailed: 2 });
    expect(stats.actions.map((a) => a.outcome)).toEqual(['applied', 'failed_after_apply', 'failed_after_apply', 'noop']);
  });

  test('an out-of-band move overrides a change still waiting to show', async () => {
    const id = fresh({ actionDelayMs: 100 });
    expect((await act(id, '1', 'attach', D1)).status).toBe(204);
    sim.moveResource(id, 'd1', '2');
    // Same delay, later start: once e1's attach shows, d1's pending one has had its turn.
    expect((await act(id, '1', 'attach', E1)).status).toBe(204);
    await until(() => sim.getResource(id, 'e1')?.nodeId === '1');
    expect(sim.getResource(id, 'd1')).toMatchObject({ nodeId: '2', targetNodeId: '2' });
    expect(sim.getNode(id, '1')?.attached).toEqual(['e1']);
    expect(sim.getNode(id, '2')?.attached).toEqual(['d1']);
  });
});

describe('knobs', () => {
  test('latencyMs delays every answer', async () => {
    const id = fresh({ latencyMs: 150 });
    const started = Date.now();
    expect((await podm(id, 'GET', '/redfish/v1/')).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });

  test('failRate 1 answers 503 with Retry-After, and an action changes nothing', async () => {
    const id = fresh();
    const target = (await podm(id, 'GET', '/redfish/v1/Nodes/1')).body.Actions['#ComposedNode.AttachResource'].target;
    sim.updatePodm(id, { failRate: 1 });
    const res = await podm(id, 'GET', '/redfish/v1/');
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect((await send('POST', `${sim.baseUrlFor(id)}${target}`, { Resource: { '@odata.id': D1 } })).status).toBe(503);
    expect(sim.stats(id)).toMatchObject({ attachCalls: 0, attachesApplied: {} });
  });

  test('down resets the connection without an answer', async () => {
    const id = fresh({ down: true });
    await expect(fetch(`${sim.baseUrlFor(id)}/redfish/v1/`)).rejects.toThrow();
    expect(sim.stats(id).requests).toBe(1);
  });

  test('hang accepts the request and never answers', async () => {
    const id = fresh({ hang: true });
    const started = Date.now();
    await expect(fetch(`${sim.baseUrlFor(id)}/redfish/v1/`, { signal: AbortSignal.timeout(200) })).rejects.toThrow();
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(sim.stats(id).requests).toBe(1);
  });

  test('malformed answers 200 with a body that is not JSON', async () => {
    const id = fresh({ malformed: true });
    const res = await fetch(`${sim.baseUrlFor(id)}/redfish/v1/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    await expect(res.json()).rejects.toThrow();
  });

  test('empty: PooledResources answers 200 with no members and a count of 0 while resources exist', async () => {
    const id = fresh({ resources: 5, empty: true });
    const { status, body } = await podm(id, 'GET', '/redfish/v1/PooledResources');
    expect(status).toBe(200);
    expect(body).toMatchObject({ Members: [], 'Members@odata.count': 0 });
    expect(sim.getPodm(id)?.resources.total).toBe(5);
    expect((await podm(id, 'GET', '/redfish/v1/Nodes')).body['Members@odata.count']).toBe(2);
  });

  test.each([
    ['dropMember', 10 - 4, 4],
    ['skipPage', 10 - 3, 3],
    ['endEarly', 3, 1],
  ] as const)('partial %s: the pages hold fewer members than the count says', async (mode, expected, pages) => {
    const id = fresh({ resources: 10, partial: mode });
    const read = await readAll(id, 3);
    expect(read.count).toBe(10);
    expect(read.members).toHaveLength(expected);
    expect(read.pages).toBe(pages);
  });

  test('partial failPage: the first page answers, the next one 503', async () => {
    const id = fresh({ resources: 10, partial: 'failPage' });
    expect((await podm(id, 'GET', '/redfish/v1/PooledResources?$top=3')).status).toBe(200);
    expect((await podm(id, 'GET', '/redfish/v1/PooledResources?$skip=3&$top=3')).status).toBe(503);
  });
});

test('10,000 resources are generated and served fast, page by page', async () => {
  const t0 = performance.now();
  sim.addPodm({ id: 'big', seed: 7, nodes: 50, resources: 10_000, attachedFraction: 0.2 });
  const generated = performance.now() - t0;
  const t1 = performance.now();
  const { members, pages, count } = await readAll('big');
  const served = performance.now() - t1;
  console.log(`podm simulator: generated 10,000 resources in ${generated.toFixed(0)} ms; served them in ${pages} pages in ${served.toFixed(0)} ms`);
  expect(count).toBe(10_000);
  expect(pages).toBe(10);
  expect(new Set(members.map((m) => m['@odata.id'])).size).toBe(10_000);
  const types = new Set(members.map((m) => m.Oem.Intel_RackScale.ResourceType));
  expect([...types].sort()).toEqual(['GPU', 'NIC', 'NVMe', 'Storage']);
  const attached = members.filter((m) => m.Links.ComposedNodes.length === 1).length;
  expect(attached).toBeGreaterThan(1500);
  expect(attached).toBeLessThan(2500);
  // Timings are printed above for information; speed is measured by npm run bench, not asserted here.
});

test('close() returns with requests delayed or hanging and action effects pending', async () => {
  const other = await startPodmSimulator({ podms: [{ id: 'slow', latencyMs: 10_000, resources: 1, nodes: 1 }, { id: 'stuck', hang: true }] });
  const delayed = fetch(`${other.baseUrlFor('slow')}/redfish/v1/`);
  const hanging = fetch(`${other.baseUrlFor('stuck')}/redfish/v1/`);
  delayed.catch(() => undefined);
  hanging.catch(() => undefined);
  await until(() => other.stats('slow').requests === 1 && other.stats('stuck').requests === 1);
  const started = Date.now();
  await other.close();
  // Functional, not a speed check: close() must not wait out the 10 s latency or the hang.
  expect(Date.now() - started).toBeLessThan(5000);
  await expect(delayed).rejects.toThrow();
  await expect(hanging).rejects.toThrow();
});
