import { z } from 'zod';
import { duration, httpUrl } from '../common-schema';
import { credentialsRef } from '../devices/schema';

export const createPodmBody = z
  .object({
    name: z.string().regex(/^[a-z0-9](?:[a-z0-9._-]{0,62})$/, 'must be 1-63 lowercase letters, digits, ".", "_" or "-"'),
    url: httpUrl,
    credentialsRef: credentialsRef.optional(),
    /** Seconds or "10m" between syncs. */
    syncInterval: duration(1_000, 7 * 86_400_000).optional(),
  })
  .strict();

export const refreshBody = z.object({ force: z.boolean().optional() }).strict();

/** Ids are looked up in PostgreSQL, which refuses a NUL byte: control characters are a 400, not a 500. */
export const idParam = z.object({ id: z.string().min(1).max(255).regex(/^[^\u0000-\u001f\u007f]+$/, 'must not contain control characters') });

const STATES = ['FREE', 'ALLOCATED', 'VANISHED'] as const;
export const listPooledQuery = z
  .object({
    type: z.enum(['storage', 'nvme', 'nic', 'gpu', 'other']).optional(),
    state: z
      .string()
      .transform((s) => s.toUpperCase())
      .pipe(z.enum(STATES))
      .optional(),
    podm_id: z.uuid().optional(),
    node_id: z.string().min(1).max(255).optional(),
    pooled_group_id: z.string().min(1).max(255).optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    offset: z.coerce.number().int().min(0).default(0),
  })
  .strict();

/** Valence's spec says device_id; Valence as shipped says resource_id: both are accepted. */
const target = z
  .object({ device_id: z.string().min(1).max(255).optional(), resource_id: z.string().min(1).max(255).optional() })
  .strict()
  .refine((t) => (t.device_id === undefined) !== (t.resource_id === undefined), 'give exactly one of device_id or resource_id');

export const nodeActionBody = z.union(
  [z.object({ attach: target }).strict(), z.object({ detach: target }).strict()],
  { error: 'body must be {"attach": {"device_id": ...}} or {"detach": {"device_id": ...}}' },
);
