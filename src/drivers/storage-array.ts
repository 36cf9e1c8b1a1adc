/**
 * Driver for Acme Storage arrays (AS- series) over their REST API. Every request carries
 * `X-Api-Key: <username>:<password>`.
 */
import { z } from 'zod';
import type { Discovery } from '../domain/device-types';
import { parseShape, requestJson } from './http';
import type { DeviceDriver, VerifyContext } from './types';

const GIB = 1024 ** 3;

const arraySchema = z.object({ name: z.string(), model: z.string(), serial: z.string(), firmware: z.string() });
const spaceSchema = z.object({ capacityBytes: z.number().min(0), usedBytes: z.number().min(0) });
const poolsSchema = z.object({
  items: z.array(z.object({ name: z.string(), sizeBytes: z.number().min(0), usedBytes: z.number().min(0) })),
});

const toGiB = (bytes: number) => Math.round((bytes / GIB) * 100) / 100;

async function verifyAcmeArray(ctx: VerifyContext): Promise<Discovery> {
  const headers: Record<string, string> = ctx.credentials
    ? { 'X-Api-Key': `${ctx.credentials.username}:${ctx.credentials.password}` }
    : {};
  const array = parseShape(arraySchema, await requestJson(ctx, { path: '/api/array', headers, probe: true }), ctx.credentials);
  const space = parseShape(spaceSchema, await requestJson(ctx, { path: '/api/array/space', headers }), ctx.credentials);
  const pools = parseShape(poolsSchema, await requestJson(ctx, { path: '/api/array/pools', headers }), ctx.credentials);

  return {
    capabilities: {
      protocol: 'acme-rest',
      arrayName: array.name,
      model: array.model,
      serialNumber: array.serial,
      firmware: array.firmware,
    },
    capacity: {
      capacityGiB: toGiB(space.capacityBytes),
      usedGiB: toGiB(space.usedBytes),
      freeGiB: toGiB(Math.max(0, space.capacityBytes - space.usedBytes)),
      poolCount: pools.items.length,
    },
  };
}

export const acmeArrayDriver: DeviceDriver = {
  name: 'acme-array',
  version: '1.0.0',
  description: 'Acme Storage AS-series arrays over their REST API (X-Api-Key)',
  deviceTypes: ['STORAGE'],
  vendors: ['Acme Storage'],
  models: ['^AS-'],
  verify: verifyAcmeArray,
};
