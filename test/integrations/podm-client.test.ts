import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createPodmClient, PodmClientError, type PodmClient } from '../../src/integrations/podm-client';
import { freePort } from '../helpers/temporal-server';
import { startPodmSimulator, type PodmSimulator, type SimPodmConfig } from '../../simulators/podm/server';

const USER = 'podm-admin';
const PASSWORD = 'pw-7f3a9c1e-secret';

let sim: PodmSimulator;

beforeAll(async () => {
  sim = await startPodmSimulator();
});
afterAll(() => sim.close());

const D1 = '/redfish/v1/Chassis/pool-1/Drives/d1';
const E1 = '/redfish/v1/Fabrics/PCIe/Endpoints/e1';

let n = 0;
/** A fresh pod manager (nodes "1" and "2"; a free drive d1 and NVMe endpoint e1) and a client for it. */
function fresh(
  knobs: Partial<SimPodmConfig> = {},
  clientOpts: { timeoutMs?: number; pageSize?: number; credentials?: { username: string; password: string } } = {},
): { id: string; client: PodmClient } {
  const id = `pc-${++n}`;
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
  return { id, client: createPodmClient({ baseUrl: sim.baseUrlFor(id), timeoutMs: clientOpts.timeoutMs ?? 2000, ...clientOpts }) };
}

/** The PodmClientError a promise rejects with (fails the test if it resolves or throws something else). */
async function failure(p: Promise<unknown>): Promise<PodmClientError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PodmClientError);
  return err as PodmClientError;
}

/** Polls until the check holds (5 s at most): no fixed sleeps racing a loaded machine. */
async function until(check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached within 5 s');
    await new Promise((r) => setTimeout(r, 10));
  }
}

interface Fake {
  url: string;
  /** Paths requested, in order. */
  paths: string[];
  close(): Promise<void>;
}

/** A hand-written pod manager answering `routes[path]` (path with query, relative to the origin) as JSON, 404 otherwise. */
async function fakePodm(routes: Record<string, unknown | ((req: http.IncomingMessage) => [number, unknown])>): Promise<Fake> {
  const paths: string[] = [];
  const server = http.createServer((req, res) => {
    paths.push(req.url ?? '');
    const route = routes[decodeURIComponent(req.url ?? '')];
    const [status, body] = route === undefined ? [404, { error: { code: 'Base.1.8.ResourceMissingAtURI', message: 'nothing here' } }] : typeof route === 'function' ? route(req) : [200, route];
    // A string body is sent as is (to answer something that is not JSON).
    res.writeHead(status, { 'Content-Type': 'application/json' }).end(body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    paths,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

const ROOT = { '@odata.id': '/redfish/v1/', Nodes: { '@odata.id': '/redfish/v1/Nodes' }, Oem: { Intel_RackScale: { PooledResources: { '@odata.id': '/redfish/v1/PooledResources' } } } };
const drive = (id: string) => ({ '@odata.id': `/redfish/v1/Chassis/c/Drives/${id}`, Id: id, Oem: { Intel_RackScale: { ResourceType: 'Storage' } } });

describe('methods against the simulator', () => {
  test('serviceRoot: name, UUID, version and the links, relative to the base URL', async () => {
    const { id, client } = fresh();
    expect(await client.serviceRoot()).toEqual({
      uri: '/redfish/v1/',
      name: `Pod Manager ${id}`,
      uuid: sim.getPodm(id)!.uuid,
      redfishVersion: '1.1.0',
      links: { chassis: '/redfish/v1/Chassis', systems: '/redfish/v1/Systems', nodes: '/redfish/v1/Nodes', pooledResources: '/redfish/v1/PooledResources' },
    });
    expect(client.baseUrl).toBe(sim.baseUrlFor(id));
    const slash = createPodmClient({ baseUrl: `${sim.baseUrlFor(id)}/`, timeoutMs: 1000 });
    expect((await slash.serviceRoot()).uuid).toBe(sim.getPodm(id)!.uuid);
  });

  test('listPooledResources: every type mapped, properties normalized, attachment read; complete', async () => {
    const { id, client } = fresh({
      resources: [
        { id: 'd1', type: 'storage', poolId: 'pool-1', vendor: 'Intel', model: 'SSDSC2KB960G8', serialNumber: 'BTYF1', capacityGiB: 894, protocol: 'SATA' },
        { id: 'e1', type: 'nvme', node: '2', capacityGiB: 1490 },
        { id: 'n1', type: 'nic', poolId: 'pool-2', speedMbps: 25000 },
        { id: 'g1', type: 'gpu', capacityGiB: 40, health: 'Warning' },
        { id: 'f1', type: 'fpga', state: 'Disabled' },
      ],
    });
    const { resources, complete } = await client.listPooledResources();
    expect(complete).toBe(true);
    expect(resources.map((r) => [r.resourceId, r.type])).toEqual([
      ['d1', 'storage'],
      ['e1', 'nvme'],
      ['n1', 'nic'],
      ['g1', 'gpu'],
      ['f1', 'other'],
    ]);
    expect(resources[0]).toEqual({
      resourceId: 'd1',
      uri: D1,
      type: 'storage',
      name: 'd1',
      state: 'Enabled',
      poolId: 'pool-1',
      nodeUri: null,
      nodeId: null,
      properties: {
        vendor: 'Intel',
        model: 'SSDSC2KB960G8',
        serialNumber: 'BTYF1',
        health: 'OK',
        capacityGiB: 894,
        protocol: 'SATA',
        mediaType: 'SSD',
        redfishType: '#Drive.v1_4_0.Drive',
      },
    });
    expect(resources[1]).toMatchObject({ uri: E1, nodeUri: '/redfish/v1/Nodes/2', nodeId: '2', properties: { capacityGiB: 1490, protocol: 'NVMe' } });
    expect(resources[2]).toMatchObject({ poolId: 'pool-2', properties: { speedMbps: 25000 } });
    expect(resources[3]).toMatchObject({ properties: { memoryGiB: 40, health: 'Warning' } });
    expect(resources[4]).toMatchObject({ state: 'Disabled' });
    expect(sim.stats(id).pooledPages).toBe(1);
  });

  test('listPooledResources follows the pages: pageSize asks, the pod manager may cap lower', async () => {
    const small = fresh({ resources: 25 }, { pageSize: 10 });
    expect((await small.client.listPooledResources()).resources).toHaveLength(25);
    expect(sim.stats(small.id).pooledPages).toBe(3);
    const capped = fresh({ resources: 25, maxPageSize: 4 }, { pageSize: 1000 });
    expect((await capped.client.listPooledResources()).resources).toHaveLength(25);
    expect(sim.stats(capped.id).pooledPages).toBe(7);
  });

  test('getResource: by relative or absolute URI; unknown is not_found; outside the base URL is refused unsent', async () => {
    const { id, client } = fresh();
    expect(await client.getResource(D1)).toMatchObject({ resourceId: 'd1', uri: D1, type: 'storage', nodeId: null });
    expect((await client.getResource(`${sim.baseUrlFor(id)}${E1}`)).uri).toBe(E1);
    expect(await failure(client.getResource('/redfish/v1/Chassis/pool-1/Drives/nope'))).toMatchObject({ kind: 'not_found', status: 404, retryable: false });
    const before = sim.stats(id).requests;
    expect(await failure(client.getResource('http://elsewhere.example/redfish/v1/x'))).toMatchObject({ kind: 'protocol' });
    expect(await failure(client.getResource('/../../_sim/podms'))).toMatchObject({ kind: 'protocol' });
    expect(sim.stats(id).requests).toBe(before);
  });

  test('getNode and listNodes: state, attached resources, advertised actions; listNodes reads every page', async () => {
    const { id, client } = fresh({ nodes: [{ id: 'web-1', name: 'web 1', state: 'Allocated' }, { id: 'web-2' }, {}, {}, {}], maxPageSize: 2 });
    sim.moveResource(id, 'd1', 'web-1');
    sim.moveResource(id, 'e1', 'web-1');
    const node = await client.getNode('web-1');
    expect(node).toEqual({
      id: 'web-1',
      uri: '/redfish/v1/Nodes/web-1',
      name: 'web 1',
      state: 'Allocated',
      attached: [D1, E1],
      actions: {
        attach: { name: '#ComposedNode.AttachResource', target: sim.getNode(id, 'web-1')!.actions.attach.target },
        detach: { name: '#ComposedNode.DetachResource', target: sim.getNode(id, 'web-1')!.actions.detach.target },
      },
    });
    const nodes = await client.listNodes();
    expect(nodes.map((x) => x.id)).toEqual(['web-1', 'web-2', '1', '2', '3']);
    expect(nodes[0]).toEqual(node);
    // Inline through $expand: one request per page, none per node.
    expect(sim.stats(id).nodeReads).toBe(1);
    expect(await failure(client.getNode('nope'))).toMatchObject({ kind: 'not_found' });
  });

  test('listNodes of a pod manager without $expand reads each referenced node', async () => {
    const node = (id: string) => ({ '@odata.id': `/redfish/v1/Nodes/${id}`, Id: id, ComposedNodeState: 'Assembled', Links: { Drives: [] }, Actions: {} });
    const fake = await fakePodm({
      '/redfish/v1/Nodes?$expand=.($levels=1)': { 'Members@odata.count': 3, Members: ['a', 'b', 'c'].map((x) => ({ '@odata.id': `/redfish/v1/Nodes/${x}` })) },
      '/redfish/v1/Nodes/a': node('a'),
      '/redfish/v1/Nodes/b': node('b'),
      '/redfish/v1/Nodes/c': node('c'),
    });
    try {
      const nodes = await createPodmClient({ baseUrl: fake.url, timeoutMs: 1000 }).listNodes();
      expect(nodes.map((x) => [x.id, x.state, x.actions])).toEqual([
        ['a', 'Assembled', {}],
        ['b', 'Assembled', {}],
        ['c', 'Assembled', {}],
      ]);
    } finally {
      await fake.close();
    }
  });

  test('attach then detach: 204, and the change shows after the pod manager applies it', async () => {
    const { id, client } = fresh({ actionDelayMs: 200 });
    const attached = await client.attach('1', D1);
    expect(attached).toEqual({ action: '#ComposedNode.AttachResource', target: sim.getNode(id, '1')!.actions.attach.target, status: 204 });
    await until(async () => (await client.getNode('1')).attached.includes(D1));
    expect(await client.getResource(D1)).toMatchObject({ nodeId: '1', nodeUri: '/redfish/v1/Nodes/1' });

    expect((await client.detach('1', D1)).action).toBe('#ComposedNode.DetachResource');
    await until(async () => (await client.getResource(D1)).nodeId === null);
    expect((await client.getNode('1')).attached).toEqual([]);
    expect(sim.stats(id)).toMatchObject({ attachesApplied: { d1: 1 }, detachesApplied: { d1: 1 } });
  });

  test('attach: idempotent on the same node, conflict on another; detach of a free resource succeeds; options are sent', async () => {
    const { id, client } = fresh();
    await client.attach('1', E1, { capacityGiB: 100, protocol: 'NVMeOverFabrics' });
    await client.attach('1', E1);
    const conflict = await failure(client.attach('2', E1));
    expect(conflict).toMatchObject({ kind: 'conflict', status: 409, code: 'Base.1.8.ResourceInUse', retryable: false });
    expect(conflict.message).toMatch(/409 Conflict.*pod manager says: "resource "e1" is attached to node "1"/);
    expect(await failure(client.detach('2', E1))).toMatchObject({ kind: 'conflict' });
    await client.detach('1', E1);
    await client.detach('1', E1);
    expect(sim.stats(id).actions.map((a) => [a.op, a.outcome])).toEqual([
      ['attach', 'applied'],
      ['attach', 'noop'],
      ['attach', 'conflict'],
      ['detach', 'conflict'],
      ['detach', 'applied'],
      ['detach', 'noop'],
    ]);
    expect(sim.stats(id).actions[0]).toMatchObject({ capacityGiB: 100, protocol: 'NVMeOverFabrics' });
  });

  test('attach of an unknown resource or to an unknown node: not_found', async () => {
    const { client } = fresh();
    expect(await failure(client.attach('1', '/redfish/v1/Chassis/pool-1/Drives/nope'))).toMatchObject({ kind: 'not_found', code: 'Base.1.8.ResourceNotFound' });
    expect(await failure(client.attach('9', D1))).toMatchObject({ kind: 'not_found' });
  });

  test('legacy action names: read from the node at each call, so a pod manager that switches is followed', async () => {
    const { id, client } = fresh({ legacyActions: true });
    expect((await client.getNode('1')).actions.attach?.name).toBe('#ComposedNode.AttachEndpoint');
    expect((await client.attach('1', D1)).action).toBe('#ComposedNode.AttachEndpoint');
    sim.updatePodm(id, { legacyActions: false });
    expect((await client.detach('1', D1)).action).toBe('#ComposedNode.DetachResource');
    sim.updatePodm(id, { legacyActions: true });
    expect((await client.attach('2', E1)).action).toBe('#ComposedNode.AttachEndpoint');
    expect(sim.stats(id)).toMatchObject({ attachesApplied: { d1: 1, e1: 1 }, detachesApplied: { d1: 1 }, conflicts: 0 });
  });

  test('a 500 after the pod manager applied the change: unreachable, the change shows, a retry is a no-op', async () => {
    const { id, client } = fresh({ failActions: { mode: 'afterApply', times: 1 } });
    const err = await failure(client.attach('1', D1));
    expect(err).toMatchObject({ kind: 'unreachable', status: 500, code: 'Base.1.8.InternalError', retryable: true });
    await until(async () => (await client.getResource(D1)).nodeId === '1');
    await client.attach('1', D1);
    expect(sim.stats(id).attachesApplied).toEqual({ d1: 1 });
  });

  test('a 500 before the pod manager applied the change: unreachable, nothing changed', async () => {
    const { id, client } = fresh({ failActions: { mode: 'beforeApply', actions: ['attach'] } });
    expect(await failure(client.attach('1', D1))).toMatchObject({ kind: 'unreachable', status: 500 });
    expect((await client.getResource(D1)).nodeId).toBeNull();
    expect(sim.getResource(id, 'd1')?.targetNodeId).toBeNull();
  });

  test('a node without the action, or with a target outside the pod manager: protocol, nothing posted', async () => {
    const node = (actions: unknown) => ({ '@odata.id': '/redfish/v1/Nodes/1', Id: '1', Actions: actions });
    const fake = await fakePodm({
      '/redfish/v1/Nodes/1': node({ '#ComposedNode.Reset': { target: '/redfish/v1/Nodes/1/Actions/ComposedNode.Reset' } }),
      '/redfish/v1/Nodes/2': node({ '#ComposedNode.AttachResource': { target: 'http://elsewhere.example/attach' } }),
      '/redfish/v1/Nodes/3': node({ '#ComposedNode.AttachResource': {} }),
    });
    try {
      const client = createPodmClient({ baseUrl: fake.url, timeoutMs: 1000 });
      const none = await failure(client.attach('1', D1));
      expect(none).toMatchObject({ kind: 'protocol' });
      expect(none.message).toMatch(/advertises no attach action \(#ComposedNode\.AttachResource or #ComposedNode\.AttachEndpoint\)/);
      expect((await failure(client.attach('2', D1))).message).toMatch(/points outside the pod manager/);
      expect((await failure(client.detach('3', D1))).message).toMatch(/advertises no detach action/);
      expect(fake.paths).toEqual(['/redfish/v1/Nodes/1', '/redfish/v1/Nodes/2', '/redfish/v1/Nodes/3']);
    } finally {
      await fake.close();
    }
  });
});

describe('listing completeness', () => {
  test.each([
    ['dropMember', /read 7 members but Members@odata.count says 10/],
    ['skipPage', /read 6 members but Members@odata.count says 10/],
    ['endEarly', /read 4 members but Members@odata.count says 10/],
  ] as const)('partial %s: refused as partial, never returned', async (mode, message) => {
    const { client } = fresh({ resources: 10, partial: mode }, { pageSize: 4 });
    const err = await failure(client.listPooledResources());
    expect(err).toMatchObject({ kind: 'partial', retryable: true });
    expect(err.message).toMatch(message);
  });

  test('a later page that fails: partial, with the page failure as its cause; a failing first page keeps its own kind', async () => {
    const { id, client } = fresh({ resources: 10, partial: 'failPage' }, { pageSize: 4 });
    const err = await failure(client.listPooledResources());
    expect(err).toMatchObject({ kind: 'partial', status: 503 });
    expect(err.message).toMatch(/page 2 failed after 4 of 10 members were read/);
    expect((err.cause as PodmClientError).kind).toBe('unreachable');
    sim.updatePodm(id, { partial: null, failRate: 1 });
    expect(await failure(client.listPooledResources())).toMatchObject({ kind: 'unreachable', status: 503 });
  });

  test('empty: an answer with zero members and a count of 0 is complete as far as the protocol can tell', async () => {
    // The client cannot tell this from a pod manager that really has nothing: the sync must
    // refuse to vanish a whole inventory on it (see the report).
    const { client } = fresh({ resources: 10, empty: true });
    expect(await client.listPooledResources()).toEqual({ resources: [], complete: true });
  });

  test('overlapping pages, a count that changes, a nextLink loop, no count, bare references: never a list', async () => {
    const page = (members: unknown[], count: number | undefined, next?: string) => ({
      ...(count === undefined ? {} : { 'Members@odata.count': count }),
      Members: members,
      ...(next ? { 'Members@odata.nextLink': next } : {}),
    });
    const cases: Array<[string, Record<string, unknown>, string, RegExp]> = [
      ['overlap', { '/p1?$top=2': page([drive('a'), drive('b')], 3, '/p1?$skip=1'), '/p1?$skip=1': page([drive('b')], 3) }, 'partial', /appears twice/],
      ['count change', { '/p2?$top=2': page([drive('a'), drive('b')], 3, '/p2?$skip=2'), '/p2?$skip=2': page([drive('c')], 4) }, 'partial', /count changed from 3 to 4/],
      ['loop', { '/p3?$top=2': page([drive('a')], 3, '/p3?$skip=1'), '/p3?$skip=1': page([drive('b')], 3, '/p3?$top=2') }, 'partial', /leads back to a page already read/],
      ['empty page', { '/p4?$top=2': page([drive('a')], 2, '/p4?$skip=1'), '/p4?$skip=1': page([], 2, '/p4?$skip=2') }, 'partial', /page 2 is empty yet links to another page/],
      ['more than count', { '/p5?$top=2': page([drive('a'), drive('b')], 1) }, 'partial', /more than Members@odata.count 1/],
      ['no count', { '/p6?$top=2': page([drive('a')], undefined) }, 'protocol', /Members@odata.count/],
      ['references', { '/p7?$top=2': page([{ '@odata.id': '/redfish/v1/Chassis/c/Drives/a' }], 1) }, 'protocol', /lists references, not resources/],
      ['foreign next', { '/p8?$top=2': page([drive('a')], 2, 'http://elsewhere.example/p8?$skip=1') }, 'protocol', /points outside the pod manager/],
    ];
    for (const [what, routes, kind, message] of cases) {
      const link = Object.keys(routes)[0]!.split('?')[0]!;
      const fake = await fakePodm({
        '/redfish/v1/': { ...ROOT, Oem: { Intel_RackScale: { PooledResources: { '@odata.id': link } } } },
        ...routes,
      });
      try {
        const err = await failure(createPodmClient({ baseUrl: fake.url, timeoutMs: 1000, pageSize: 2 }).listPooledResources());
        expect({ what, kind: err.kind }).toEqual({ what, kind });
        expect(err.message).toMatch(message);
      } finally {
        await fake.close();
      }
    }
  });

  test('a service root without the PooledResources link: protocol', async () => {
    const fake = await fakePodm({ '/redfish/v1/': { '@odata.id': '/redfish/v1/', Nodes: { '@odata.id': '/redfish/v1/Nodes' } } });
    try {
      const err = await failure(createPodmClient({ baseUrl: fake.url, timeoutMs: 1000 }).listPooledResources());
      expect(err).toMatchObject({ kind: 'protocol' });
      expect(err.message).toMatch(/links no PooledResources collection/);
    } finally {
      await fake.close();
    }
  });

  test('10,000 resources are listed complete, page by page, quickly', async () => {
    sim.addPodm({ id: 'pc-big', seed: 3, nodes: 20, resources: 10_000, attachedFraction: 0.3 });
    const client = createPodmClient({ baseUrl: sim.baseUrlFor('pc-big'), timeoutMs: 10_000 });
    await client.serviceRoot(); // a warm connection, as a periodic sync has
    const started = performance.now();
    const { resources, complete } = await client.listPooledResources();
    const ms = performance.now() - started;
    console.log(`podm client: listed 10,000 pooled resources in ${ms.toFixed(0)} ms (${sim.stats('pc-big').pooledPages} pages)`);
    expect(complete).toBe(true);
    expect(resources).toHaveLength(10_000);
    expect(new Set(resources.map((r) => r.uri)).size).toBe(10_000);
    expect(resources.filter((r) => r.nodeId !== null).length).toBe(sim.getPodm('pc-big')!.resources.attached);
    const byType = sim.getPodm('pc-big')!.resources.byType;
    expect(resources.filter((r) => r.type === 'gpu').length).toBe(byType.gpu);
    // Printed for information only: speed is measured by npm run bench (sync), not asserted in tests.
  });
});

describe('error kinds', () => {
  test('unreachable: 503, connection reset, a pod manager that never answers, nothing listening', async () => {
    const flaky = fresh({ failRate: 1 });
    expect(await failure(flaky.client.getNode('1'))).toMatchObject({ kind: 'unreachable', status: 503, code: 'Base.1.8.ServiceTemporarilyUnavailable' });

    const down = fresh({ down: true });
    const reset = await failure(down.client.listNodes());
    expect(reset.kind).toBe('unreachable');
    expect(reset.status).toBeUndefined();

    const hung = fresh({ hang: true }, { timeoutMs: 150 });
    const started = Date.now();
    const timeout = await failure(hung.client.listPooledResources());
    expect(timeout.kind).toBe('unreachable');
    expect(timeout.message).toMatch(/timed out after 150 ms/);
    expect(Date.now() - started).toBeLessThan(1500);

    const nobody = createPodmClient({ baseUrl: `http://127.0.0.1:${await freePort()}`, timeoutMs: 1000 });
    const refused = await failure(nobody.serviceRoot());
    expect(refused.kind).toBe('unreachable');
    expect(refused.message).toMatch(/ECONNREFUSED/);
  });

  test('rejected: no credentials or wrong ones (401); the right ones work; the service root needs none', async () => {
    const { id, client: anonymous } = fresh({ credentials: { username: USER, password: PASSWORD } });
    expect((await anonymous.serviceRoot()).links.nodes).toBe('/redfish/v1/Nodes');
    const missing = await failure(anonymous.listPooledResources());
    expect(missing).toMatchObject({ kind: 'rejected', status: 401, code: 'Base.1.8.NoValidSession', retryable: false });
    expect(missing.message).toMatch(/requires credentials and none were given/);
    const wrong = createPodmClient({ baseUrl: sim.baseUrlFor(id), credentials: { username: USER, password: 'nope' }, timeoutMs: 1000 });
    expect((await failure(wrong.getNode('1'))).message).toMatch(/did not accept the credentials/);
    const right = createPodmClient({ baseUrl: sim.baseUrlFor(id), credentials: { username: USER, password: PASSWORD }, timeoutMs: 1000 });
    expect((await right.listPooledResources()).resources).toHaveLength(2);
    await right.attach('1', D1);
    expect(sim.getResource(id, 'd1')?.targetNodeId).toBe('1');
  });

  test('protocol: a body that is not JSON, a shape that is not Redfish, a redirect', async () => {
    const broken = fresh({ malformed: true });
    const notJson = await failure(broken.client.serviceRoot());
    expect(notJson).toMatchObject({ kind: 'protocol', status: 200 });
    expect(notJson.message).toMatch(/not JSON/);

    const fake = await fakePodm({
      '/redfish/v1/Nodes/1': { '@odata.id': '/redfish/v1/Nodes/1', Name: 'no Id here' },
      '/redfish/v1/Nodes/2': { '@odata.id': '/redfish/v1/Nodes/2', Id: '2', Actions: { '#ComposedNode.AttachResource': { target: '/act' } } },
      '/act': (): [number, unknown] => [200, '<html>proxy error</html>'],
      '/redfish/v1/x': (): [number, unknown] => [418, { error: { code: 'teapot', message: 'short and stout' } }],
    });
    try {
      const client = createPodmClient({ baseUrl: fake.url, timeoutMs: 1000 });
      const shape = await failure(client.getNode('1'));
      expect(shape).toMatchObject({ kind: 'protocol', status: 200 });
      expect(shape.message).toMatch(/answered an unexpected shape: Id: /);
      expect(await failure(client.getResource('/redfish/v1/x'))).toMatchObject({ kind: 'protocol', status: 418, code: 'teapot' });
      // An action answered 200 with something that is not JSON may not have happened: not a success.
      expect(await failure(client.attach('2', D1))).toMatchObject({ kind: 'protocol', status: 200 });
    } finally {
      await fake.close();
    }

    const server = http.createServer((_req, res) => res.writeHead(302, { Location: 'http://elsewhere.example/' }).end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const redirected = createPodmClient({ baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, timeoutMs: 1000 });
      expect((await failure(redirected.serviceRoot())).message).toMatch(/302 Found \(a redirect\)/);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  test('protocol: bad configuration is refused up front', () => {
    expect(() => createPodmClient({ baseUrl: 'not a url', timeoutMs: 1000 })).toThrow(PodmClientError);
    expect(() => createPodmClient({ baseUrl: 'ftp://host/', timeoutMs: 1000 })).toThrow(/http:\/\/ or https:\/\//);
    expect(() => createPodmClient({ baseUrl: 'http://user:pw@host/', timeoutMs: 1000 })).toThrow(/embeds credentials/);
    expect(() => createPodmClient({ baseUrl: 'http://host/', credentials: { username: 'a:b', password: 'x' }, timeoutMs: 1000 })).toThrow(/cannot contain ":"/);
    expect(() => createPodmClient({ baseUrl: 'http://host/', timeoutMs: 0 })).toThrow(/timeoutMs/);
    expect(() => createPodmClient({ baseUrl: 'http://host/', timeoutMs: 1000, pageSize: 0 })).toThrow(/pageSize/);
  });
});

test('credentials never appear in an error message, even when the pod manager echoes them', async () => {
  const echo = http.createServer((req, res) => {
    const auth = String(req.headers.authorization);
    const decoded = Buffer.from(auth.replace(/^Basic /, ''), 'base64').toString();
    res.writeHead(Number(req.url?.split('/').pop()), { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ error: { code: 'echo', message: `${auth} means ${decoded} is not welcome here` } }));
  });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  const messages: string[] = [];
  const credentials = { username: USER, password: PASSWORD };
  try {
    const echoing = createPodmClient({ baseUrl: `http://127.0.0.1:${(echo.address() as AddressInfo).port}`, credentials, timeoutMs: 1000 });
    for (const status of ['401', '403', '404', '409', '418', '429', '500', '503']) {
      const err = await failure(echoing.getResource(`/redfish/v1/${status}`));
      messages.push(err.message);
      expect(err.message).toContain('is not welcome here');
    }
  } finally {
    echo.closeAllConnections();
    await new Promise((r) => echo.close(r));
  }

  const { id } = fresh({ credentials, latencyMs: 500 });
  const cases: Array<() => Promise<unknown>> = [
    () => createPodmClient({ baseUrl: sim.baseUrlFor(id), credentials: { username: USER, password: `${PASSWORD}x` }, timeoutMs: 2000 }).getNode('1'),
    () => createPodmClient({ baseUrl: sim.baseUrlFor(id), credentials, timeoutMs: 50 }).listPooledResources(),
    async () => createPodmClient({ baseUrl: `http://127.0.0.1:${await freePort()}`, credentials, timeoutMs: 1000 }).listNodes(),
  ];
  for (const run of cases) messages.push((await failure(run())).message);
  expect(messages).toHaveLength(11);
  const token = Buffer.from(`${USER}:${PASSWORD}`).toString('base64');
  for (const m of messages) {
    expect(m).not.toContain(PASSWORD);
    expect(m).not.toContain(token);
    expect(m).not.toContain(USER);
  }
});
