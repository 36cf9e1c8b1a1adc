/**
 * The same failure modes, driven through the simulator's knobs, for every driver: each must map
 * to the DriverError kind the activity layer relies on, with no secret in the message.
 */
import type { Credentials } from '../../src/domain/device-types';
import { acmeArrayDriver } from '../../src/drivers/storage-array';
import { nimbusClusterDriver } from '../../src/drivers/hypervisor-cluster';
import { redfishDriver } from '../../src/drivers/redfish';
import type { DeviceDriver } from '../../src/drivers/types';
import type { SimDeviceKind } from '../../simulators/devices/config';
import { startDeviceSimulator, type DeviceSimulator } from '../../simulators/devices/server';
import { closedPort, expectDriverError } from './helpers';

interface Case {
  driver: DeviceDriver;
  kind: SimDeviceKind;
  /** A device of another kind, where this driver finds nothing it knows. */
  foreignKind: SimDeviceKind;
  /** The first request the driver sends, as the simulator logs it. */
  firstRequest: string;
}

const cases: Case[] = [
  { driver: redfishDriver, kind: 'redfish', foreignKind: 'storage-array', firstRequest: 'GET /redfish/v1' },
  { driver: nimbusClusterDriver, kind: 'hypervisor-cluster', foreignKind: 'redfish', firstRequest: 'POST /api/v1/sessions' },
  { driver: acmeArrayDriver, kind: 'storage-array', foreignKind: 'hypervisor-cluster', firstRequest: 'GET /api/array' },
];

const creds: Credentials = { username: 'admin', password: 'Very-S3cret-Passw0rd' };
let sim: DeviceSimulator;
let seq = 0;

beforeAll(async () => {
  sim = await startDeviceSimulator();
});
afterAll(() => sim.close());

function device(kind: SimDeviceKind, knobs: Record<string, unknown> = {}): string {
  const id = `dev-${++seq}`;
  sim.addDevice({ id, kind, credentials: creds, ...knobs } as Parameters<DeviceSimulator['addDevice']>[0]);
  return id;
}

describe.each(cases)('$driver.name', ({ driver, kind, foreignKind, firstRequest }) => {
  const verify = (id: string, over: { credentials?: Credentials; timeoutMs?: number } = {}) =>
    driver.verify({ endpoint: sim.baseUrlFor(id), credentials: creds, timeoutMs: 2000, ...over });

  test('verifies against a healthy device', async () => {
    const discovery = await verify(device(kind));
    expect(Object.keys(discovery.capabilities).length).toBeGreaterThan(3);
    expect(Object.keys(discovery.capacity).length).toBeGreaterThan(1);
    expect(JSON.stringify(discovery)).not.toContain(creds.password);
  });

  test('wrong credentials: credentials_rejected', async () => {
    const wrong = { username: 'admin', password: 'Wrong-Passw0rd-123' };
    await expectDriverError(verify(device(kind), { credentials: wrong }), 'credentials_rejected', {
      message: /answered 401 Unauthorized: the device rejected the credentials for user "admin"/,
      secretOf: wrong,
    });
  });

  test('no credentials on a device that demands them: credentials_required', async () => {
    await expectDriverError(
      driver.verify({ endpoint: sim.baseUrlFor(device(kind)), timeoutMs: 2000 }),
      'credentials_required',
      { message: /answered 401 Unauthorized: the device requires credentials and none were given/ },
    );
  });

  test('down (connection reset): unreachable', async () => {
    const id = device(kind, { down: true });
    await expectDriverError(verify(id), 'unreachable', { message: /failed: .*closed by the device|failed: .*ECONNRESET/, secretOf: creds });
    expect(sim.requestLog.entries(id).map((r) => `${r.method} ${r.path} ${r.outcome}`)[0]).toBe(`${firstRequest} down`);
  });

  test('hang with a short timeout: unreachable, saying it timed out', async () => {
    const id = device(kind, { hang: true });
    const started = Date.now();
    await expectDriverError(verify(id, { timeoutMs: 150 }), 'unreachable', {
      message: /timed out after 150 ms/,
      secretOf: creds,
    });
    // Bounded by the timeout, not the hang (which never ends); loose, as CI machines stall.
    expect(Date.now() - started).toBeLessThan(10_000);
    // Sent once, never retried by the driver. (On a starved machine the 150 ms ran out before
    // the simulator had even logged the request: at most one, then.)
    expect(sim.requestLog.count(id)).toBeLessThanOrEqual(1);
  });

  test('latency beyond the timeout: unreachable; within it: verified', async () => {
    const id = device(kind, { latencyMs: 300 });
    await expectDriverError(verify(id, { timeoutMs: 100 }), 'unreachable', { message: /timed out after 100 ms/ });
    // (Generous: a loaded CI machine has made a 300 ms answer take over a second.)
    await expect(verify(id, { timeoutMs: 5000 })).resolves.toHaveProperty('capabilities');
  });

  test('failRate 1 (always 503): unreachable, naming the status', async () => {
    await expectDriverError(verify(device(kind, { failRate: 1 })), 'unreachable', {
      message: /answered 503 Service Unavailable/,
      secretOf: creds,
    });
  });

  test('malformed JSON: protocol', async () => {
    await expectDriverError(verify(device(kind, { malformed: true })), 'protocol', {
      message: /not valid JSON/,
      secretOf: creds,
    });
  });

  test(`pointed at a ${foreignKind} endpoint: incompatible`, async () => {
    await expectDriverError(verify(device(foreignKind)), 'incompatible', {
      message: /answered 404 Not Found: the endpoint does not offer this driver's API/,
      secretOf: creds,
    });
  });

  test('a port nothing listens on: unreachable (connection refused)', async () => {
    const port = await closedPort();
    await expectDriverError(
      driver.verify({ endpoint: `http://127.0.0.1:${port}/d/x`, credentials: creds, timeoutMs: 2000 }),
      'unreachable',
      { message: new RegExp(`127\\.0\\.0\\.1:${port}/d/x/.* failed: connection refused`), secretOf: creds },
    );
  });

  test('an unknown device id on the simulator: incompatible (404 on the first request)', async () => {
    await expectDriverError(verify('no-such-device'), 'incompatible', { message: /404/ });
  });
});
