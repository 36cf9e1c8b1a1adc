import { redfishDriver } from '../../src/drivers/redfish';
import { startDeviceSimulator, type DeviceSimulator } from '../../simulators/devices/server';
import { expectDriverError } from './helpers';

const creds = { username: 'root', password: 'Rf-s3cret-9913' };
let sim: DeviceSimulator;

beforeAll(async () => {
  sim = await startDeviceSimulator({
    devices: [
      {
        id: 'rf-1',
        kind: 'redfish',
        credentials: creds,
        facts: {
          redfishVersion: '1.17.0',
          systems: [
            {
              manufacturer: 'Fabrikam',
              model: 'FB-410',
              serialNumber: 'FB410-0042',
              powerState: 'Off',
              health: 'Warning',
              processorCount: 4,
              processorModel: 'Fabrikam Quasar 96C',
              memoryGiB: 1536,
            },
            { id: 'node-b' },
          ],
          chassis: [{}, {}, {}],
        },
      },
      { id: 'rf-open', kind: 'redfish' },
      {
        id: 'rf-switch',
        kind: 'redfish',
        facts: { systems: [], chassis: [{ manufacturer: 'Northwind', model: 'NW-48T Switch', serialNumber: 'NW48-7', chassisType: 'Switch' }] },
      },
    ],
  });
});
afterAll(() => sim.close());

test('verifies with the right credentials and discovers the first system', async () => {
  const discovery = await redfishDriver.verify({ endpoint: sim.baseUrlFor('rf-1'), credentials: creds, timeoutMs: 2000 });
  expect(discovery).toEqual({
    capabilities: {
      protocol: 'redfish',
      redfishVersion: '1.17.0',
      manufacturer: 'Fabrikam',
      model: 'FB-410',
      serialNumber: 'FB410-0042',
      powerState: 'Off',
      health: 'Warning',
      systemCount: 2,
      chassisCount: 3,
    },
    capacity: { processorCount: 4, processorModel: 'Fabrikam Quasar 96C', memoryGiB: 1536 },
  });
  // Service root, Systems, Systems/1, Chassis: one request each.
  expect(sim.requestLog.entries('rf-1').map((r) => `${r.method} ${r.path} ${r.outcome}`)).toEqual([
    'GET /redfish/v1 200',
    'GET /redfish/v1/Systems 200',
    'GET /redfish/v1/Systems/1 200',
    'GET /redfish/v1/Chassis 200',
  ]);
});

test('a device without authentication verifies without credentials, with default facts', async () => {
  const discovery = await redfishDriver.verify({ endpoint: sim.baseUrlFor('rf-open'), timeoutMs: 2000 });
  expect(discovery.capabilities).toMatchObject({ manufacturer: 'Contoso', serialNumber: 'CX2200-RF-OPEN-1', systemCount: 1, chassisCount: 1 });
  expect(discovery.capacity).toEqual({ processorCount: 2, processorModel: 'Contoso Xenith 6430 32-Core', memoryGiB: 512 });
});

test('an endpoint given as the service root URL is accepted', async () => {
  const discovery = await redfishDriver.verify({ endpoint: `${sim.baseUrlFor('rf-1')}/redfish/v1/`, credentials: creds, timeoutMs: 2000 });
  expect(discovery.capabilities.serialNumber).toBe('FB410-0042');
});

test('a service without computer systems takes its identity from the first chassis', async () => {
  const discovery = await redfishDriver.verify({ endpoint: sim.baseUrlFor('rf-switch'), timeoutMs: 2000 });
  expect(discovery.capabilities).toMatchObject({
    manufacturer: 'Northwind',
    model: 'NW-48T Switch',
    serialNumber: 'NW48-7',
    powerState: null,
    health: 'OK',
    systemCount: 0,
    chassisCount: 1,
  });
  expect(discovery.capacity).toEqual({ processorCount: null, processorModel: null, memoryGiB: null });
});

test('facts changed on the simulator are what the next verify discovers', async () => {
  sim.updateDevice('rf-open', { facts: { systems: [{ powerState: 'Off', memoryGiB: 64 }] } });
  const discovery = await redfishDriver.verify({ endpoint: sim.baseUrlFor('rf-open'), timeoutMs: 2000 });
  expect(discovery.capabilities.powerState).toBe('Off');
  expect(discovery.capabilities.manufacturer).toBe('Contoso');
  expect(discovery.capacity.memoryGiB).toBe(64);
});

test('wrong credentials are rejected after the public service root, naming the path and status', async () => {
  const wrong = { username: 'root', password: 'not-the-one-777' };
  const err = await expectDriverError(
    redfishDriver.verify({ endpoint: sim.baseUrlFor('rf-1'), credentials: wrong, timeoutMs: 2000 }),
    'credentials_rejected',
    { message: /GET http:\/\/127\.0\.0\.1:\d+\/d\/rf-1\/redfish\/v1\/Systems answered 401 Unauthorized/, secretOf: wrong },
  );
  expect(err.message).toContain('user "root"');
});
