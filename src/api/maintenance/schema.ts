import { z } from 'zod';
import { duration } from '../common-schema';

export const startMaintenanceBody = z
  .object({
    reason: z.string().trim().min(3, 'must say why, in at least 3 characters').max(255),
    /** Seconds or "10m": how long the drain may take before it ends DRAIN_FAILED. */
    drainTimeout: duration(1_000, 7 * 86_400_000).optional(),
    concurrency: z.number().int().min(1).max(200).optional(),
    /** Longest hold in MAINTENANCE before the device resumes by itself. */
    maxHold: duration(1_000, 90 * 86_400_000).optional(),
  })
  .strict();
export type StartMaintenanceBody = z.infer<typeof startMaintenanceBody>;

export const retryDrainBody = z.object({ drainTimeout: duration(1_000, 7 * 86_400_000).optional() }).strict();
export const emptyBody = z.object({}).strict();
