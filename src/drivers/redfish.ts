/**
 * Generic DMTF Redfish driver: any device whose management controller speaks Redfish, whatever
 * its vendor. Verification walks the service root (public by the specification), the Systems
 * collection and its first member, and the Chassis collection, with HTTP Basic auth.
 */
import { z } from 'zod';
import type { Discovery } from '../domain/device-types';
import { basicAuthorization, parseShape, requestJson, type JsonReply } from './http';
import { DriverError, type DeviceDriver, type VerifyContext } from './types';

/** A Redfish link: an absolute path on the service, relative to the device's base URL. */
const link = z.object({ '@odata.id': z.string().regex(/^\/(?!\/)/, 'must be an absolute path') });

const serviceRootSchema = z.object({
  RedfishVersion: z.string().min(1),
  Systems: link.optional(),
  Chassis: link.optional(),
});

const collectionSchema = z.object({
  Members: z.array(link),
  'Members@odata.count': z.number().int().min(0).optional(),
});

const optionalText = z.string().nullish();
const statusSchema = z.object({ State: optionalText, Health: optionalText, HealthRollup: optionalText }).nullish();

const systemSchema = z.object({
  Manufacturer: optionalText,
  Model: optionalText,
  SerialNumber: optionalText,
  PowerState: optionalText,
  Status: statusSchema,
  ProcessorSummary: z.object({ Count: z.number().int().min(0).nullish(), Model: optionalText }).nullish(),
  MemorySummary: z.object({ TotalSystemMemoryGiB: z.number().min(0).nullish() }).nullish(),
});

const chassisSchema = z.object({
  Manufacturer: optionalText,
  Model: optionalText,
  SerialNumber: optionalText,
  Status: statusSchema,
});

function looksLikeRedfish(body: unknown): boolean {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return false;
  const root = body as Record<string, unknown>;
  const id = root['@odata.id'];
  return typeof root.RedfishVersion === 'string' || (typeof id === 'string' && id.startsWith('/redfish/v1'));
}

function memberCount(collection: z.output<typeof collectionSchema>): number {
  return collection['Members@odata.count'] ?? collection.Members.length;
}

async function verifyRedfish(ctx: VerifyContext): Promise<Discovery> {
  // Operators sometimes paste the service root as the endpoint; the base is what comes before it.
  const endpoint = ctx.endpoint.replace(/\/redfish\/v1\/?$/, '');
  const call = { ...ctx, endpoint };
  const headers: Record<string, string> = ctx.credentials ? { Authorization: basicAuthorization(ctx.credentials) } : {};
  const get = (path: string, probe = false): Promise<JsonReply> => requestJson(call, { path, headers, probe });

  const rootReply = await get('/redfish/v1/', true);
  if (!looksLikeRedfish(rootReply.body)) {
    throw new DriverError('incompatible', `${rootReply.label} answered JSON that is not a Redfish service root (no RedfishVersion): not a Redfish service`);
  }
  const root = parseShape(serviceRootSchema, rootReply, ctx.credentials);
  if (!root.Systems && !root.Chassis) {
    throw new DriverError('incompatible', `${rootReply.label}: the Redfish service exposes neither Systems nor Chassis, so there is no device to manage`);
  }

  let systemCount = 0;
  let system: z.output<typeof systemSchema> | undefined;
  if (root.Systems) {
    const systems = parseShape(collectionSchema, await get(root.Systems['@odata.id']), ctx.credentials);
    systemCount = memberCount(systems);
    const first = systems.Members[0];
    if (first) system = parseShape(systemSchema, await get(first['@odata.id']), ctx.credentials);
  }

  let chassisCount = 0;
  let chassis: z.output<typeof chassisSchema> | undefined;
  if (root.Chassis) {
    const collection = parseShape(collectionSchema, await get(root.Chassis['@odata.id']), ctx.credentials);
    chassisCount = memberCount(collection);
    const first = collection.Members[0];
    // Without a computer system (a switch, an enclosure) the chassis carries the identity.
    if (!system && first) chassis = parseShape(chassisSchema, await get(first['@odata.id']), ctx.credentials);
  }

  const identity = system ?? chassis;
  const status = identity?.Status;
  return {
    capabilities: {
      protocol: 'redfish',
      redfishVersion: root.RedfishVersion,
      manufacturer: identity?.Manufacturer ?? null,
      model: identity?.Model ?? null,
      serialNumber: identity?.SerialNumber ?? null,
      powerState: system?.PowerState ?? null,
      health: status?.Health ?? status?.HealthRollup ?? null,
      systemCount,
      chassisCount,
    },
    capacity: {
      processorCount: system?.ProcessorSummary?.Count ?? null,
      processorModel: system?.ProcessorSummary?.Model ?? null,
      memoryGiB: system?.MemorySummary?.TotalSystemMemoryGiB ?? null,
    },
  };
}

export const redfishDriver: DeviceDriver = {
  name: 'redfish',
  version: '1.0.0',
  description: 'Generic DMTF Redfish driver for any device with a Redfish management service (HTTP Basic auth)',
  deviceTypes: ['SERVER', 'HYPERVISOR', 'STORAGE', 'NETWORK', 'ACCELERATOR'],
  vendors: ['*'],
  verify: verifyRedfish,
};
