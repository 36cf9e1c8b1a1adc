import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  type Client,
  type WorkflowExecutionDescription,
} from '@temporalio/client';
import { conflict, DomainError, notFound } from '../../domain/errors';

export function temporalUnavailable(err: unknown): DomainError {
  return new DomainError(503, 'temporal_unavailable', `Temporal did not answer: ${(err as Error).message}`);
}

/** Describe a run, mapping "no such workflow" to 404 and transport errors to 503. */
export async function describeOperation(temporal: Client, workflowId: string): Promise<WorkflowExecutionDescription> {
  try {
    return await temporal.workflow.getHandle(workflowId).describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw notFound('operation', workflowId);
    throw temporalUnavailable(err);
  }
}

/**
 * How long a lock may name a run that Temporal does not know yet: the time between taking the
 * lock and `workflow.start` returning. Within it the lock is live; after it, a lock whose run was
 * never started (the API died in between) is stale.
 */
export const LOCK_START_GRACE_MS = 60_000;

/**
 * May a lock be broken? Only when the run it names is closed (finished, terminated by hand), or
 * was never started and the lock is older than the start-up grace. A lock whose run is being
 * started right now must stand, or two operations could run at once (Ironic breaks only dead
 * reservations, for the same reason).
 */
export async function lockIsStale(temporal: Client, workflowId: string, lockedSince: Date | null): Promise<boolean> {
  try {
    const description = await temporal.workflow.getHandle(workflowId).describe();
    return description.status.name !== 'RUNNING';
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) {
      return lockedSince !== null && Date.now() - lockedSince.getTime() > LOCK_START_GRACE_MS;
    }
    throw temporalUnavailable(err);
  }
}

export function operationInProgress(deviceName: string, workflowId: string): DomainError {
  return conflict('operation_in_progress', `device ${deviceName} is busy with operation ${workflowId}`, {
    device: deviceName,
    operation: { workflowId, href: `/v1/operations/${encodeURIComponent(workflowId)}` },
  });
}

export { WorkflowExecutionAlreadyStartedError };
