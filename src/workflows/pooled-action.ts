import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { createActivities } from '../activities';
import { pooledProgressQuery, type PooledProgress } from './definitions';

export interface PooledActionTimings {
  /** How long the pod manager may take to show the change. */
  confirmTimeoutMs: number;
  podmStepTimeoutMs: number;
  podmMaxAttempts: number;
  heartbeatTimeoutMs: number;
  dbTimeoutMs: number;
}

export const DEFAULT_POOLED_ACTION_TIMINGS: PooledActionTimings = {
  confirmTimeoutMs: 60_000,
  podmStepTimeoutMs: 30_000,
  podmMaxAttempts: 5,
  heartbeatTimeoutMs: 10_000,
  dbTimeoutMs: 30_000,
};

export interface PooledActionInput {
  pooledId: string;
  podmId: string;
  /** The pod manager's id of the composed node. */
  nodeId: string;
  action: 'attach' | 'detach';
  requestedBy: string;
  timings?: Partial<PooledActionTimings>;
}

export interface PooledActionResult {
  outcome: 'attached' | 'detached' | 'unchanged';
  pooledId: string;
  nodeId: string | null;
}

/**
 * Attach a pooled device to a composed node, or detach it: check against the pod manager's
 * truth, call the action the node advertises, confirm by reading back, record node_id and state.
 * A failure after a partial change is compensated (the device is put back where it was) and the
 * run fails with the reason, the row showing where the device really is.
 */
export async function pooledAction(input: PooledActionInput): Promise<PooledActionResult> {
  const t = { ...DEFAULT_POOLED_ACTION_TIMINGS, ...input.timings };
  const { workflowId } = workflowInfo();
  type Acts = ReturnType<typeof createActivities>;
  const db = proxyActivities<Acts>({ startToCloseTimeout: t.dbTimeoutMs, retry: { initialInterval: 500, maximumInterval: 10_000 } });
  const podm = proxyActivities<Acts>({
    startToCloseTimeout: t.podmStepTimeoutMs,
    retry: { initialInterval: 500, maximumInterval: 10_000, maximumAttempts: t.podmMaxAttempts },
  });
  const confirm = proxyActivities<Acts>({
    startToCloseTimeout: t.confirmTimeoutMs + t.podmStepTimeoutMs,
    heartbeatTimeout: t.heartbeatTimeoutMs,
    retry: { initialInterval: 500, maximumInterval: 10_000, maximumAttempts: t.podmMaxAttempts },
  });
  // Undoing must eventually happen: retried until the pod manager answers.
  const undo = proxyActivities<Acts>({
    startToCloseTimeout: t.confirmTimeoutMs + t.podmStepTimeoutMs,
    heartbeatTimeout: t.heartbeatTimeoutMs,
    retry: { initialInterval: 1_000, maximumInterval: 30_000 },
  });

  const progress: PooledProgress = { operation: input.action, pooledId: input.pooledId, nodeId: input.nodeId, step: 'check' };
  setHandler(pooledProgressQuery, () => progress);
  const args = { pooledId: input.pooledId, nodeId: input.nodeId, action: input.action };
  const done = (nodeId: string | null): PooledActionResult => ({
    outcome: input.action === 'attach' ? 'attached' : 'detached',
    pooledId: input.pooledId,
    nodeId,
  });

  try {
    const check = await podm.checkPooledAction(args);
    if (check.alreadyDone) {
      progress.step = 'record';
      await db.recordPooledNode({ pooledId: input.pooledId, nodeId: check.currentNodeId, audit: { action: input.action, outcome: 'unchanged', actor: input.requestedBy, message: 'the pod manager already showed it done' } });
      progress.step = 'done';
      return { outcome: 'unchanged', pooledId: input.pooledId, nodeId: check.currentNodeId };
    }
    try {
      progress.step = `call-${input.action}`;
      await podm.callPodmAction(args);
      progress.step = 'confirm';
      await confirm.confirmPooledAction({ ...args, timeoutMs: t.confirmTimeoutMs });
    } catch (err) {
      if (isCancellation(err)) throw err;
      const reason = err instanceof ActivityFailure && err.cause ? err.cause.message : String(err);
      progress.step = 'compensate';
      progress.lastError = reason;
      const back = await CancellationScope.nonCancellable(() =>
        undo.compensatePooledAction({ ...args, previousNodeId: check.currentNodeId, timeoutMs: t.confirmTimeoutMs }),
      );
      await db.recordPooledNode({
        pooledId: input.pooledId,
        nodeId: back.nodeId,
        lastError: `${input.action} failed: ${reason}`,
        audit: { action: input.action, outcome: 'failed', actor: input.requestedBy, message: `${reason}; put back ${back.nodeId ? `on node ${back.nodeId}` : 'free'}` },
      });
      throw ApplicationFailure.nonRetryable(
        `${input.action} failed: ${reason}; device put back ${back.nodeId ? `on node ${back.nodeId}` : 'free'}`,
        'PooledActionFailed',
      );
    }
    progress.step = 'record';
    const nodeId = input.action === 'attach' ? input.nodeId : null;
    await db.recordPooledNode({ pooledId: input.pooledId, nodeId, audit: { action: input.action, outcome: 'ok', actor: input.requestedBy } });
    progress.step = 'done';
    return done(nodeId);
  } finally {
    await CancellationScope.nonCancellable(() => db.releasePooledDevice({ pooledId: input.pooledId, workflowId }));
  }
}
