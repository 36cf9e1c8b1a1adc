import { z } from 'zod';
import { httpUrl } from '../common-schema';
import { DEVICE_NAME_PATTERN } from '../../domain/operations';
import { credentialsRef, driverName } from '../devices/schema';

export const SERVICE_KINDS = ['COMPUTE', 'VOLUME', 'NETWORK'] as const;

export const createServiceBody = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9._@-]{0,99}$/, 'must be 1-100 lowercase letters, digits, ".", "_", "@" or "-"'),
    kind: z.enum(SERVICE_KINDS),
    host: z.string().trim().min(1).max(255),
    endpoint: httpUrl,
    credentialsRef: credentialsRef.optional(),
    devices: z
      .array(
        z
          .object({
            device: z.union([z.uuid(), z.string().regex(DEVICE_NAME_PATTERN)], { error: 'must be a device uuid or name' }),
            /** The service's own name for the device; defaults to the device's name. */
            deviceRef: z.string().trim().min(1).max(255).optional(),
            driver: driverName.optional(),
          })
          .strict(),
      )
      .max(1000)
      .default([]),
  })
  .strict();

export const serviceParams = z.object({
  id: z.union([z.uuid(), z.string().min(1).max(100).regex(/^[^\u0000-\u001f\u007f]+$/, 'must not contain control characters')]),
});
