import { nimbusClusterDriver } from '../../src/drivers/hypervisor-cluster';
import { startDeviceSimulator, type DeviceSimulator } from '../../simulators/devices/server';
import { expectDriverError } from './helpers';

const creds = { username: 'ops', password: 'Nimbus-pw-5521' };
let sim: DeviceSimulator;

beforeAll(async () => {
  sim = await startDeviceSimulator({
    devices: [
      {
        id: 'nb-1',
        kind: 'hypervisor-cluster',
        credentials: creds,
        facts: {
          name: 'prod-east',
          version: '9.0.3',
          hosts: [
            { name: 'h1', cpus: 48, memoryGiB: 384, state: 'up' },
            { name: 'h2', cpus: 48, memoryGiB: 384, state: 'maintenance' },
            { name: 'h3', cpus: 96, memoryGiB: 768, state: 'up' },
            { name: 'h4', cpus: 32, memoryGiB: 256, state: 'down' },
          ],
        },
      },
    ],
  });
});
afterAll(() => sim.close());

test('opens a session, reads the cluster, closes the session', async () => {
  const discovery = await nimbusClusterDriver.verify({ endpoint: sim.baseUrlFor('nb-1'), credentials: creds, timeoutMs: 2000 });
  expect(discovery).toEqual({
    capabilities: {
      protocol: 'nimbus-api',
      product: 'Nimbus Cluster Manager',
      version: '9.0.3',
      hypervisor: 'kvm',
      clusterName: 'prod-east',
      hostCount: 4,
      hostsUp: 2,
    },
    capacity: { vcpus: 224, memoryGiB: 1792 },
  });
  expect(sim.requestLog.entries('nb-1').map((r) => `${r.method} ${r.path.replace(/[0-9a-f]{32}/, '<token>')} ${r.outcome}`)).toEqual([
    'POST /api/v1/sessions 201',
    'GET /api/v1/cluster 200',
    'DELETE /api/v1/sessions/<token> 204',
  ]);
});

test('the session token is what authorizes the cluster read', async () => {
  const base = sim.baseUrlFor('nb-1');
  const noToken = await fetch(`${base}/api/v1/cluster`);
  expect(noToken.status).toBe(401);
  const forged = await fetch(`${base}/api/v1/cluster`, { headers: { 'X-Auth-Token': 'deadbeef' } });
  expect(forged.status).toBe(401);
});

test('wrong credentials are rejected when opening the session', async () => {
  const wrong = { username: 'ops', password: 'guessed-pw-1' };
  await expectDriverError(
    nimbusClusterDriver.verify({ endpoint: sim.baseUrlFor('nb-1'), credentials: wrong, timeoutMs: 2000 }),
    'credentials_rejected',
    { message: /POST http:\/\/127\.0\.0\.1:\d+\/d\/nb-1\/api\/v1\/sessions answered 401 Unauthorized.*invalid username or password/, secretOf: wrong },
  );
});

test('a cluster manager reporting another product is incompatible', async () => {
  // A product name is not a knob; the driver check is exercised through a one-off fake.
  const { createServer } = await import('node:http');
  const server = createServer((req, res) => {
    res.setHeader('Content-Type', 'application/json');
    if (req.method === 'POST') {
      res.statusCode = 201;
      return res.end(JSON.stringify({ token: 't1' }));
    }
    if (req.url === '/api/v1/cluster') {
      return res.end(JSON.stringify({ name: 'x', product: 'Stratus Manager', version: '1', hypervisor: 'xen', hosts: [] }));
    }
    res.statusCode = 204;
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as import('node:net').AddressInfo;
    await expectDriverError(nimbusClusterDriver.verify({ endpoint: `http://127.0.0.1:${port}`, timeoutMs: 2000 }), 'incompatible', {
      message: /reports product "Stratus Manager"/,
    });
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});
