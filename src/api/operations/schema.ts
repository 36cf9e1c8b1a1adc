import { z } from 'zod';
import { OPERATION_TYPES } from '../../domain/operations';

export const operationParams = z.object({
  workflowId: z.string().min(1).max(255).regex(/^[^\u0000-\u001f\u007f]+$/, 'must not contain control characters'),
});
export const abandonBody = z.object({ reason: z.string().trim().min(1).max(500).optional() }).strict();
export const noBody = z.object({}).strict();

/** Temporal's ExecutionStatus values, as its visibility queries spell them. */
export const EXECUTION_STATUSES = ['Running', 'Completed', 'Failed', 'Canceled', 'Terminated', 'ContinuedAsNew', 'TimedOut'] as const;
const STATUS_BY_LOWER = new Map(EXECUTION_STATUSES.map((s) => [s.toLowerCase(), s]));

/** Values that go into a visibility query: validated so they cannot close the quoted string. */
const keyword = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:@-]{0,254}$/, 'must be letters, digits, . _ : @ - (up to 255)');

export const listOperationsQuery = z
  .object({
    /** The device's uuid (pooled devices and pod managers: their uuid too), as the run's DeviceId search attribute. */
    deviceId: keyword.optional(),
    /** The device's (or pod manager's) name, as the DeviceName search attribute. */
    deviceName: keyword.optional(),
    type: z.enum(OPERATION_TYPES).optional(),
    /** Running, Completed, Failed, Canceled, Terminated, ContinuedAsNew or TimedOut; any case, RUNNING or CONTINUED_AS_NEW too. */
    status: z
      .string()
      .transform((s, ctx) => {
        const found = STATUS_BY_LOWER.get(s.replace(/_/g, '').toLowerCase()) ?? (s.toLowerCase() === 'cancelled' ? 'Canceled' : undefined);
        if (!found) {
          ctx.addIssue({ code: 'custom', message: `must be one of ${EXECUTION_STATUSES.join(', ')}` });
          return z.NEVER;
        }
        return found;
      })
      .optional(),
    pageSize: z.coerce.number().int().min(1).max(1000).default(50),
    /** From the previous page's answer. */
    nextPageToken: z.string().regex(/^[A-Za-z0-9_-]{1,4096}$/, 'must be the nextPageToken of a previous answer').optional(),
  })
  .strict();
export type ListOperationsQuery = z.infer<typeof listOperationsQuery>;
