import { z } from 'zod';
import { DEVICE_STATES } from '../../domain/device-state';
import { DEVICE_TYPES } from '../../domain/device-types';
import { DEVICE_NAME_PATTERN } from '../../domain/operations';

const endpoint = z
  .string()
  .max(2048)
  .refine((value) => {
    try {
      const url = new URL(value);
      return url.protocol === 'http:' || url.protocol === 'https:';
    } catch {
      return false;
    }
  }, 'must be an http(s) URL')
  .refine((value) => {
    try {
      const url = new URL(value);
      return !url.username && !url.password;
    } catch {
      return true;
    }
  }, 'must not embed credentials: use credentialsRef')
  // One spelling per endpoint, so uniqueness means something.
  .transform((value) => value.replace(/\/+$/, ''));

export const credentialsRef = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, 'must be a secret name (letters, digits, . _ -), not a secret');

export const driverName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'must be a driver name such as "redfish"');

export const createDeviceBody = z
  .object({
    name: z.string().regex(DEVICE_NAME_PATTERN, 'must be 1-63 lowercase letters, digits, ".", "_" or "-", starting with a letter or digit'),
    type: z.enum(DEVICE_TYPES),
    vendor: z.string().trim().min(1).max(100),
    model: z.string().trim().min(1).max(100).optional(),
    endpoint,
    credentialsRef: credentialsRef.optional(),
    driver: driverName.optional(),
  })
  .strict();
export type CreateDeviceBody = z.infer<typeof createDeviceBody>;

export const listDevicesQuery = z
  .object({
    state: z.enum(DEVICE_STATES).optional(),
    type: z.enum(DEVICE_TYPES).optional(),
    vendor: z.string().min(1).max(100).optional(),
    driver: driverName.optional(),
    limit: z.coerce.number().int().min(1).max(500).default(100),
    offset: z.coerce.number().int().min(0).default(0),
  })
  .strict();

/** A device is addressed by its uuid or its name. */
export const deviceParams = z.object({
  id: z.union([z.uuid(), z.string().regex(DEVICE_NAME_PATTERN)], { error: 'must be a device uuid or name' }),
});

export const retryBody = z
  .object({ endpoint: endpoint.optional(), driver: driverName.optional(), credentialsRef: credentialsRef.optional() })
  .strict();
