import { acmeArrayDriver } from '../../src/drivers/storage-array';
import { startDeviceSimulator, type DeviceSimulator } from '../../simulators/devices/server';
import { expectDriverError } from './helpers';

const GIB = 1024 ** 3;
const creds = { username: 'pureuser', password: 'Acme-key-0077' };
let sim: DeviceSimulator;

beforeAll(async () => {
  sim = await startDeviceSimulator({
    devices: [
      {
        id: 'as-1',
        kind: 'storage-array',
        credentials: creds,
        facts: {
          name: 'array-lab',
          model: 'AS-7100',
          serial: 'AS7100-XYZ',
          firmware: '7.1.0',
          capacityBytes: 1000 * GIB,
          usedBytes: 250.5 * GIB,
          pools: [{ name: 'gold' }, { name: 'silver' }, { name: 'bronze' }],
        },
      },
    ],
  });
});
afterAll(() => sim.close());

test('verifies with the API key and discovers identity and capacity', async () => {
  const discovery = await acmeArrayDriver.verify({ endpoint: sim.baseUrlFor('as-1'), credentials: creds, timeoutMs: 2000 });
  expect(discovery).toEqual({
    capabilities: { protocol: 'acme-rest', arrayName: 'array-lab', model: 'AS-7100', serialNumber: 'AS7100-XYZ', firmware: '7.1.0' },
    capacity: { capacityGiB: 1000, usedGiB: 250.5, freeGiB: 749.5, poolCount: 3 },
  });
});

test('a used figure above capacity yields zero free space, not a negative one', async () => {
  sim.updateDevice('as-1', { facts: { usedBytes: 1200 * GIB } });
  try {
    const discovery = await acmeArrayDriver.verify({ endpoint: sim.baseUrlFor('as-1'), credentials: creds, timeoutMs: 2000 });
    expect(discovery.capacity).toMatchObject({ usedGiB: 1200, freeGiB: 0 });
  } finally {
    sim.updateDevice('as-1', { facts: { usedBytes: 250.5 * GIB } });
  }
});

test('a wrong key is rejected, and the message keeps the key out', async () => {
  const wrong = { username: 'pureuser', password: 'Acme-wrong-4242' };
  await expectDriverError(
    acmeArrayDriver.verify({ endpoint: sim.baseUrlFor('as-1'), credentials: wrong, timeoutMs: 2000 }),
    'credentials_rejected',
    { message: /GET http:\/\/127\.0\.0\.1:\d+\/d\/as-1\/api\/array answered 401 Unauthorized.*invalid API key/, secretOf: wrong },
  );
});
