import { ApplicationFailure, Context } from '@temporalio/activity';
import { applyEvent, IllegalTransitionError, type DeviceEvent, type DeviceState } from '../domain/device-state';
import { FAILURE_TYPES } from '../domain/errors';
import type { Db } from '../db/client';
import type { Prisma } from '../generated/prisma/client';

/** The workflow run calling this activity, and a key unique to this activity within it (stable across retries). */
export function currentRun(): { workflowExecution: { workflowId: string; runId: string }; key: string } {
  const { workflowExecution, activityId } = Context.current().info;
  if (!workflowExecution) throw ApplicationFailure.nonRetryable('device activities must run inside a workflow', 'NoWorkflow');
  return { workflowExecution, key: `${workflowExecution.workflowId}/${workflowExecution.runId}/${activityId}` };
}

export interface DeviceEventArgs {
  deviceId: string;
  event: DeviceEvent;
  actor: string;
  operation: string;
  message?: string;
  /** Extra columns written with the state change, in the same transaction. */
  patch?: Prisma.DeviceUpdateManyMutationInput;
  details?: Prisma.InputJsonValue;
}

/**
 * The one way activities change a device's state: checks the caller still holds the device,
 * applies the event through the transition table, and writes the audit row, all in one
 * transaction. Idempotent: the audit row's key is this activity's id within its run, so a retry
 * after a crash that already committed finds the row and changes nothing.
 */
export async function applyDeviceEvent(db: Db, args: DeviceEventArgs): Promise<{ state: DeviceState; changed: boolean }> {
  const { workflowExecution, key } = currentRun();
  return db.$transaction(async (tx) => {
    const device = await tx.device.findUnique({ where: { id: args.deviceId } });
    if (!device) throw ApplicationFailure.nonRetryable(`device ${args.deviceId} no longer exists`, FAILURE_TYPES.deviceMissing);
    if (await tx.operationEvent.findUnique({ where: { idempotencyKey: key } })) {
      return { state: device.state, changed: false };
    }
    if (device.lockedBy !== workflowExecution.workflowId) {
      throw ApplicationFailure.nonRetryable(
        `device ${device.name} is held by ${device.lockedBy ?? 'no operation'}, not ${workflowExecution.workflowId}`,
        FAILURE_TYPES.lockLost,
      );
    }
    let to: DeviceState;
    try {
      to = applyEvent(device.state, args.event);
    } catch (err) {
      if (err instanceof IllegalTransitionError) throw ApplicationFailure.nonRetryable(err.message, FAILURE_TYPES.illegalTransition);
      throw err;
    }
    // Compare-and-swap on the state we read, so a concurrent writer makes this attempt retry.
    const updated = await tx.device.updateMany({
      where: { id: device.id, state: device.state, lockedBy: workflowExecution.workflowId },
      data: { ...args.patch, state: to },
    });
    if (updated.count !== 1) throw new Error(`device ${device.name} changed while applying ${args.event}; retrying`);
    await tx.operationEvent.create({
      data: {
        deviceId: device.id,
        workflowId: workflowExecution.workflowId,
        operation: args.operation,
        action: args.event,
        actor: args.actor,
        fromState: device.state,
        toState: to,
        outcome: 'ok',
        message: args.message,
        details: args.details,
        idempotencyKey: key,
      },
    });
    return { state: to, changed: true };
  });
}
