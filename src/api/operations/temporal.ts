import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type Client,
  type WorkflowExecutionDescription,
  type WorkflowHandle,
} from '@temporalio/client';
import { conflict, DomainError, notFound } from '../../domain/errors';
import { recordAudit, type AuditSubject } from '../../db/audit';
import type { Db } from '../../db/client';
import { operationTypeOf } from '../../domain/operations';
import { DeviceIdKey, DeviceNameKey, OperationTypeKey } from '../../temporal/search-attributes';

export function temporalUnavailable(err: unknown): DomainError {
  return new DomainError(503, 'temporal_unavailable', `Temporal did not answer: ${(err as Error).message}`);
}

/** How long the API waits for Temporal on one call before answering 503. */
export const TEMPORAL_CALL_DEADLINE_MS = 10_000;

/** Describe a run, mapping "no such workflow" to 404 and transport errors (or no answer in 10 s) to 503. */
export async function describeOperation(temporal: Client, workflowId: string): Promise<WorkflowExecutionDescription> {
  try {
    return await temporal.withDeadline(Date.now() + TEMPORAL_CALL_DEADLINE_MS, () => temporal.workflow.getHandle(workflowId).describe());
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
    const description = await temporal.withDeadline(Date.now() + TEMPORAL_CALL_DEADLINE_MS, () => temporal.workflow.getHandle(workflowId).describe());
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


export interface OperationStart {
  workflowType: string;
  workflowId: string;
  input: unknown;
  /** What the run acts on and which operation it is: the search attributes operators filter by. */
  target: { id: string; name: string };
  operation: string;
  /** A line a person reads in the Temporal UI. */
  summary: string;
  /** Puts back what the caller did before starting (a lock, a row) when Temporal refuses the start. */
  undo: () => Promise<void>;
}

/**
 * Starts an operation's run the one way every operation is started: a second run with the same
 * id is refused (409 naming it), a closed one may be followed by a new one, and the run carries
 * DeviceId/DeviceName/OperationType. If Temporal refuses, `undo` runs first. Returns the run id.
 */
export async function startOperation(deps: { temporal: Client; taskQueue: string }, start: OperationStart): Promise<string> {
  try {
    const handle = await deps.temporal.workflow.start(start.workflowType, {
      taskQueue: deps.taskQueue,
      workflowId: start.workflowId,
      args: [start.input],
      workflowIdConflictPolicy: 'FAIL',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      typedSearchAttributes: [
        { key: DeviceIdKey, value: start.target.id },
        { key: DeviceNameKey, value: start.target.name },
        { key: OperationTypeKey, value: start.operation },
      ],
      staticSummary: start.summary,
    });
    return handle.firstExecutionRunId;
  } catch (err) {
    await start.undo();
    if (err instanceof WorkflowExecutionAlreadyStartedError) throw operationInProgress(start.target.name, start.workflowId);
    throw temporalUnavailable(err);
  }
}

/** What an operation's run acts on, for its audit rows: its DeviceId search attribute, read by operation type. */
export function auditSubjectOf(workflowId: string, description: WorkflowExecutionDescription): AuditSubject | undefined {
  const id = description.typedSearchAttributes.get(DeviceIdKey);
  if (!id) return undefined;
  switch (operationTypeOf(workflowId)) {
    case 'onboard':
    case 'maintenance':
      return { deviceId: id };
    case 'podm-sync':
      return { podmId: id };
    case 'attach':
    case 'detach':
      return { pooledId: id };
    default:
      return undefined;
  }
}

/**
 * Runs an operator's decision on a run (retry, resume, abandon, cancel) and writes its audit row,
 * whether the run accepted it or refused it (a 409 is an action too: someone tried).
 */
export async function auditedDecision<T>(
  deps: { db: Db },
  run: { workflowId: string; description: WorkflowExecutionDescription },
  action: string,
  actor: string,
  decide: () => Promise<T>,
): Promise<T> {
  const subject = auditSubjectOf(run.workflowId, run.description);
  const write = (outcome: string, message?: string) =>
    subject
      ? recordAudit(deps.db, { subject, workflowId: run.workflowId, operation: operationTypeOf(run.workflowId) ?? 'unknown', action, actor, outcome, message })
      : Promise.resolve();
  try {
    const result = await decide();
    await write('accepted');
    return result;
  } catch (err) {
    if (err instanceof DomainError && err.status === 409) await write('refused', err.message);
    throw err;
  }
}

/**
 * An operator's decision on a running run (retry, resume, abandon, cancel), the one way every
 * route sends one: a closed run is 409 `operation_closed`, a refusal by the run (its update
 * validator) is 409 `refusedCode` with the run's reason, Temporal out of reach 503; accepted or
 * refused, it is an audit row.
 */
export async function decideOnRun<T>(
  deps: { db: Db; temporal: Client },
  workflowId: string,
  decision: { action: string; actor: string; refusedCode: string; closedMessage: (status: string) => string; closedDetails?: Record<string, unknown> },
  send: (handle: WorkflowHandle) => Promise<T>,
): Promise<T> {
  const description = await describeOperation(deps.temporal, workflowId);
  return auditedDecision(deps, { workflowId, description }, decision.action, decision.actor, async () => {
    if (description.status.name !== 'RUNNING') {
      throw conflict('operation_closed', decision.closedMessage(description.status.name), decision.closedDetails);
    }
    try {
      return await send(deps.temporal.workflow.getHandle(workflowId));
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) throw conflict(decision.refusedCode, err.cause?.message ?? err.message, { workflowId });
      if (err instanceof DomainError) throw err;
      throw temporalUnavailable(err);
    }
  });
}

/** Asks a running operation to cancel (the workflow rolls back what it must), with its audit row. */
export async function cancelOperation(deps: { db: Db; temporal: Client }, workflowId: string, actor: string): Promise<void> {
  await decideOnRun(
    deps,
    workflowId,
    { action: 'cancel', actor, refusedCode: 'operation_closed', closedMessage: (status) => `operation ${workflowId} is ${status}`, closedDetails: { workflowId } },
    (handle) => handle.cancel(),
  );
}
