/**
 * The management APIs of the simulated device kinds. Each handler answers one request for one
 * device once the fault knobs have let it through. Paths are relative to the device's base URL
 * (`/d/<id>`), just as a real device's paths are relative to its origin.
 *
 * Routing comes before authentication: an unknown path is a 404 whether or not credentials
 * were sent, so a driver pointed at the wrong kind of device learns that it is the wrong kind.
 */
import { randomBytes } from 'node:crypto';
import type { Request, Response } from 'express';
import type { SimCredentials, SimDevice } from './config';

/** Mutable per-device state that is not configuration (issued session tokens). */
export interface SimDeviceState {
  sessions: Set<string>;
}

export interface KindRequest {
  device: SimDevice;
  state: SimDeviceState;
  /** Path below the device base URL, without query string and without a trailing slash (except "/"). */
  path: string;
  req: Request;
  res: Response;
}

export function answerDeviceRequest(r: KindRequest): void {
  switch (r.device.kind) {
    case 'redfish':
      return answerRedfish(r, r.device);
    case 'hypervisor-cluster':
      return answerHypervisorCluster(r, r.device);
    case 'storage-array':
      return answerStorageArray(r, r.device);
  }
}

/** Parse an `Authorization: Basic ...` header. Returns undefined when absent or not Basic. */
function basicCredentials(req: Request): SimCredentials | undefined {
  const header = req.headers.authorization;
  if (!header) return undefined;
  const match = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header.trim());
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function sameCredentials(expected: SimCredentials, given: SimCredentials | undefined): boolean {
  return given !== undefined && given.username === expected.username && given.password === expected.password;
}

function methodNotAllowed(res: Response, allowed: string[], body: unknown): void {
  res.status(405).set('Allow', allowed.join(', ')).json(body);
}

// ======================================================================= Redfish

type RedfishDevice = Extract<SimDevice, { kind: 'redfish' }>;

const REDFISH_BASE = '/redfish/v1';

function redfishError(res: Response, status: number, messageId: string, message: string): void {
  res
    .status(status)
    .set('OData-Version', '4.0')
    .json({
      error: {
        code: 'Base.1.15.GeneralError',
        message: 'A general error has occurred. See ExtendedInfo for more information.',
        '@Message.ExtendedInfo': [
          {
            '@odata.type': '#Message.v1_1_1.Message',
            MessageId: `Base.1.15.${messageId}`,
            Message: message,
            Severity: 'Critical',
            MessageSeverity: 'Critical',
          },
        ],
      },
    });
}

function link(path: string): { '@odata.id': string } {
  return { '@odata.id': path };
}

function collection(path: string, type: string, name: string, memberIds: string[]): Record<string, unknown> {
  return {
    '@odata.id': path,
    '@odata.type': `#${type}.${type}`,
    Name: name,
    Members: memberIds.map((id) => link(`${path}/${id}`)),
    'Members@odata.count': memberIds.length,
  };
}

function answerRedfish({ req, res, path }: KindRequest, device: RedfishDevice): void {
  const facts = device.facts;
  const send = (body: unknown) => res.status(200).set('OData-Version', '4.0').json(body);

  if (path === '/redfish') {
    if (req.method !== 'GET') return methodNotAllowed(res, ['GET'], { error: 'method not allowed' });
    return void res.status(200).json({ v1: `${REDFISH_BASE}/` });
  }
  if (path === REDFISH_BASE) {
    // The service root is public by the Redfish specification.
    if (req.method !== 'GET') return methodNotAllowed(res, ['GET'], { error: 'method not allowed' });
    return void send({
      '@odata.id': `${REDFISH_BASE}/`,
      '@odata.type': '#ServiceRoot.v1_16_0.ServiceRoot',
      Id: 'RootService',
      Name: 'Root Service',
      RedfishVersion: facts.redfishVersion,
      UUID: facts.uuid,
      Systems: link(`${REDFISH_BASE}/Systems`),
      Chassis: link(`${REDFISH_BASE}/Chassis`),
      Managers: link(`${REDFISH_BASE}/Managers`),
      Links: { Sessions: link(`${REDFISH_BASE}/SessionService/Sessions`) },
    });
  }

  const body = redfishResource(device, path);
  if (body === undefined) {
    return redfishError(res, 404, 'ResourceMissingAtURI', `The resource at the URI '${path}' was not found.`);
  }
  if (device.credentials) {
    const given = basicCredentials(req);
    if (!sameCredentials(device.credentials, given)) {
      res.set('WWW-Authenticate', 'Basic realm="Redfish"');
      return given === undefined
        ? redfishError(res, 401, 'NoValidSession', 'There is no valid session established with the implementation.')
        : redfishError(res, 401, 'ResourceAtUriUnauthorized', `While accessing the resource at '${path}', the service received an authorization error 'invalid credentials'.`);
    }
  }
  if (req.method !== 'GET') {
    res.set('Allow', 'GET');
    return redfishError(res, 405, 'OperationNotAllowed', 'The HTTP method is not allowed on this resource.');
  }
  send(body);
}

function redfishResource(device: RedfishDevice, path: string): Record<string, unknown> | undefined {
  const facts = device.facts;
  const systemsPath = `${REDFISH_BASE}/Systems`;
  const chassisPath = `${REDFISH_BASE}/Chassis`;
  const managersPath = `${REDFISH_BASE}/Managers`;

  if (path === systemsPath) {
    return collection(systemsPath, 'ComputerSystemCollection', 'Computer System Collection', facts.systems.map((s) => s.id));
  }
  if (path === chassisPath) {
    return collection(chassisPath, 'ChassisCollection', 'Chassis Collection', facts.chassis.map((c) => c.id));
  }
  if (path === managersPath) {
    return collection(managersPath, 'ManagerCollection', 'Manager Collection', ['bmc']);
  }
  const system = facts.systems.find((s) => path === `${systemsPath}/${s.id}`);
  if (system) {
    return {
      '@odata.id': `${systemsPath}/${system.id}`,
      '@odata.type': '#ComputerSystem.v1_20_0.ComputerSystem',
      Id: system.id,
      Name: 'System',
      SystemType: 'Physical',
      Manufacturer: system.manufacturer,
      Model: system.model,
      SerialNumber: system.serialNumber,
      UUID: facts.uuid,
      PowerState: system.powerState,
      Status: { State: system.state, Health: system.health },
      ProcessorSummary: { Count: system.processorCount, Model: system.processorModel },
      MemorySummary: { TotalSystemMemoryGiB: system.memoryGiB },
      Links: {
        Chassis: facts.chassis.slice(0, 1).map((c) => link(`${chassisPath}/${c.id}`)),
        ManagedBy: [link(`${managersPath}/bmc`)],
      },
    };
  }
  const chassis = facts.chassis.find((c) => path === `${chassisPath}/${c.id}`);
  if (chassis) {
    return {
      '@odata.id': `${chassisPath}/${chassis.id}`,
      '@odata.type': '#Chassis.v1_23_0.Chassis',
      Id: chassis.id,
      Name: 'Chassis',
      ChassisType: chassis.chassisType,
      Manufacturer: chassis.manufacturer,
      Model: chassis.model,
      SerialNumber: chassis.serialNumber,
      Status: { State: 'Enabled', Health: 'OK' },
    };
  }
  if (path === `${managersPath}/bmc`) {
    return {
      '@odata.id': `${managersPath}/bmc`,
      '@odata.type': '#Manager.v1_19_0.Manager',
      Id: 'bmc',
      Name: 'Manager',
      ManagerType: 'BMC',
      FirmwareVersion: facts.bmcFirmwareVersion,
      Status: { State: 'Enabled', Health: 'OK' },
    };
  }
  return undefined;
}

// ============================================================ hypervisor cluster

type HypervisorDevice = Extract<SimDevice, { kind: 'hypervisor-cluster' }>;

function nimbusError(res: Response, status: number, code: string, message: string): void {
  res.status(status).json({ error: { code, message } });
}

function answerHypervisorCluster({ req, res, path, state }: KindRequest, device: HypervisorDevice): void {
  if (path === '/api/v1/sessions') {
    if (req.method !== 'POST') return methodNotAllowed(res, ['POST'], { error: { code: 'method_not_allowed' } });
    if (device.credentials) {
      const given = basicCredentials(req);
      if (!sameCredentials(device.credentials, given)) {
        res.set('WWW-Authenticate', 'Basic realm="Nimbus"');
        return nimbusError(
          res,
          401,
          given ? 'invalid_credentials' : 'authentication_required',
          given ? 'invalid username or password' : 'HTTP Basic authentication is required to open a session',
        );
      }
    }
    const token = randomBytes(16).toString('hex');
    state.sessions.add(token);
    return void res.status(201).json({ token });
  }
  const sessionMatch = /^\/api\/v1\/sessions\/([A-Za-z0-9]+)$/.exec(path);
  if (sessionMatch) {
    if (req.method !== 'DELETE') return methodNotAllowed(res, ['DELETE'], { error: { code: 'method_not_allowed' } });
    state.sessions.delete(sessionMatch[1]!);
    return void res.status(204).end();
  }
  if (path === '/api/v1/cluster') {
    if (req.method !== 'GET') return methodNotAllowed(res, ['GET'], { error: { code: 'method_not_allowed' } });
    if (device.credentials) {
      const token = req.headers['x-auth-token'];
      if (typeof token !== 'string' || !state.sessions.has(token)) {
        return nimbusError(res, 401, 'invalid_token', 'missing or invalid X-Auth-Token; open a session first');
      }
    }
    const facts = device.facts;
    return void res.status(200).json({
      name: facts.name,
      product: 'Nimbus Cluster Manager',
      version: facts.version,
      hypervisor: facts.hypervisor,
      hosts: facts.hosts.map((h) => ({ name: h.name, cpus: h.cpus, memoryGiB: h.memoryGiB, state: h.state })),
    });
  }
  nimbusError(res, 404, 'not_found', `no such resource: ${path}`);
}

// ================================================================= storage array

type StorageDevice = Extract<SimDevice, { kind: 'storage-array' }>;

function answerStorageArray({ req, res, path }: KindRequest, device: StorageDevice): void {
  const facts = device.facts;
  let body: unknown;
  switch (path) {
    case '/api/array':
      body = { name: facts.name, model: facts.model, serial: facts.serial, firmware: facts.firmware };
      break;
    case '/api/array/space':
      body = { capacityBytes: facts.capacityBytes, usedBytes: facts.usedBytes };
      break;
    case '/api/array/pools':
      body = { items: facts.pools.map((p) => ({ ...p })), total: facts.pools.length };
      break;
    default:
      return void res.status(404).json({ error: 'not_found', message: `no such resource: ${path}` });
  }
  if (device.credentials) {
    const key = req.headers['x-api-key'];
    const expected = `${device.credentials.username}:${device.credentials.password}`;
    if (key !== expected) {
      return void res.status(401).json({
        error: 'unauthorized',
        message: typeof key === 'string' ? 'invalid API key' : 'missing X-Api-Key header',
      });
    }
  }
  if (req.method !== 'GET') return methodNotAllowed(res, ['GET'], { error: 'method_not_allowed' });
  res.status(200).json(body);
}
