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
 * Is the operation that holds a device still running? A lock whose workflow is gone or closed
 * is stale (e.g. a run terminated by hand) and may be broken, as Ironic breaks dead reservations.
 */
export async function isOperationRunning(temporal: Client, workflowId: string): Promise<boolean> {
  try {
    const description = await temporal.workflow.getHandle(workflowId).describe();
    return description.status.name === 'RUNNING';
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
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
