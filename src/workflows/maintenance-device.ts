import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { createActivities } from '../activities';
import {
  maintenanceProgressQuery,
  resumeUpdate,
  retryDrainUpdate,
  type MaintenanceProgress,
  type StepRecord,
} from './definitions';

export interface MaintenanceTimings {
  /** How long a drain may take before it ends DRAIN_FAILED with what is left. */
  drainTimeoutMs: number;
  /** Workloads migrated at once. */
  concurrency: number;
  /** Longest stay in MAINTENANCE (or DRAIN_FAILED) before the run resumes by itself. */
  maxHoldMs: number;
  /** A drain whose worker dies is retried elsewhere after this much silence. */
  heartbeatTimeoutMs: number;
  /** Bound on one cordon/list/uncordon step, and its attempts. */
  serviceStepTimeoutMs: number;
  serviceStepMaxAttempts: number;
  /** First poll of a workload after asking for its migration. */
  pollMs: number;
  /** Re-verification of the driver on resume. */
  verifyTimeoutMs: number;
  verifyMaxAttempts: number;
  verifyInitialIntervalMs: number;
  dbTimeoutMs: number;
}

export const DEFAULT_MAINTENANCE_TIMINGS: MaintenanceTimings = {
  drainTimeoutMs: 30 * 60_000,
  concurrency: 10,
  maxHoldMs: 7 * 24 * 3600_000,
  heartbeatTimeoutMs: 30_000,
  serviceStepTimeoutMs: 60_000,
  serviceStepMaxAttempts: 5,
  pollMs: 10,
  verifyTimeoutMs: 60_000,
  verifyMaxAttempts: 5,
  verifyInitialIntervalMs: 1_000,
  dbTimeoutMs: 30_000,
};

export interface MaintenanceInput {
  deviceId: string;
  deviceName: string;
  reason: string;
  requestedBy: string;
  timings?: Partial<MaintenanceTimings>;
}

export interface MaintenanceResult {
  outcome: 'resumed' | 'aborted';
  deviceId: string;
  drainAttempts: number;
  migrated: number;
  reason?: string;
}

type Decision = { kind: 'resume'; by: string } | { kind: 'retry_drain'; by: string; drainTimeoutMs?: number };

/**
 * Maintenance of one device: cordon the services that consume it, drain its workloads with
 * bounded concurrency and a deadline, hold it in MAINTENANCE until an operator resumes (or the
 * maximum hold passes), then uncordon and re-verify the driver and make it ACTIVE again.
 *
 * A drain that misses its deadline ends DRAIN_FAILED with what is left and KEEPS the cordon (as
 * kubectl drain leaves a node cordoned): a half-drained device must not take new work. The
 * operator then retries the drain, resumes, or cancels. Cancelling while cordoning or draining
 * (or DRAIN_FAILED) rolls the cordon back and returns the device to ACTIVE; cancelling while in
 * MAINTENANCE resumes it.
 */
export async function maintenanceDevice(input: MaintenanceInput): Promise<MaintenanceResult> {
  const t: MaintenanceTimings = { ...DEFAULT_MAINTENANCE_TIMINGS, ...input.timings };
  const { workflowId } = workflowInfo();
  type Acts = ReturnType<typeof createActivities>;
  const db = proxyActivities<Acts>({
    startToCloseTimeout: t.dbTimeoutMs,
    retry: { initialInterval: 500, maximumInterval: 10_000, backoffCoefficient: 2 },
  });
  const service = proxyActivities<Acts>({
    startToCloseTimeout: t.serviceStepTimeoutMs,
    retry: { initialInterval: 500, maximumInterval: 10_000, backoffCoefficient: 2, maximumAttempts: t.serviceStepMaxAttempts },
  });
  // Undoing a cordon must eventually happen: retried until the services answer.
  const undo = proxyActivities<Acts>({
    startToCloseTimeout: t.serviceStepTimeoutMs,
    retry: { initialInterval: 500, maximumInterval: 30_000, backoffCoefficient: 2 },
  });
  const verify = proxyActivities<Acts>({
    startToCloseTimeout: t.verifyTimeoutMs,
    retry: { initialInterval: t.verifyInitialIntervalMs, backoffCoefficient: 2, maximumAttempts: t.verifyMaxAttempts },
  });

  const progress: MaintenanceProgress = {
    operation: 'maintenance',
    deviceId: input.deviceId,
    deviceName: input.deviceName,
    reason: input.reason,
    phase: 'cordoning',
    step: 'starting',
    drainAttempt: 0,
    cordoned: [],
    steps: [],
  };
  let decision: Decision | undefined;
  const waiting = () => progress.phase === 'in_maintenance' || progress.phase === 'drain_failed' || progress.phase === 'resume_failed';

  setHandler(maintenanceProgressQuery, () => progress);
  setHandler(
    resumeUpdate,
    ({ requestedBy }) => {
      decision = { kind: 'resume', by: requestedBy };
      return { resuming: true as const };
    },
    {
      validator: (_request) => {
        if (!waiting() || decision) {
          throw ApplicationFailure.nonRetryable(`cannot resume while ${progress.phase.replace(/_/g, ' ')}`, 'NotResumable');
        }
      },
    },
  );
  setHandler(
    retryDrainUpdate,
    ({ requestedBy, drainTimeoutMs }) => {
      decision = { kind: 'retry_drain', by: requestedBy, drainTimeoutMs };
      return { drainAttempt: progress.drainAttempt + 1 };
    },
    {
      validator: (_request) => {
        if (progress.phase !== 'drain_failed' || decision) {
          throw ApplicationFailure.nonRetryable(`a drain can be retried only after it failed; now ${progress.phase.replace(/_/g, ' ')}`, 'NotRetryable');
        }
      },
    },
  );

  async function step<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const record: StepRecord = { name, status: 'running', startedAt: new Date().toISOString() };
    progress.steps.push(record);
    progress.step = name;
    try {
      const value = await fn();
      record.status = 'succeeded';
      record.endedAt = new Date().toISOString();
      return value;
    } catch (err) {
      record.status = 'failed';
      record.endedAt = new Date().toISOString();
      record.error = messageOf(err);
      throw err;
    }
  }

  const transition = async (
    event: Parameters<Acts['maintenanceTransition']>[0]['event'],
    extra: Omit<Parameters<Acts['maintenanceTransition']>[0], 'deviceId' | 'event' | 'actor'> & { actor?: string } = {},
  ) => {
    progress.deviceState = (
      await step(`device:${event}`, () =>
        db.maintenanceTransition({ deviceId: input.deviceId, event, actor: extra.actor ?? input.requestedBy, ...extra }),
      )
    ).state;
  };

  async function rollBack(): Promise<void> {
    await step('uncordon', () => undo.uncordonServices({ deviceId: input.deviceId }));
    progress.cordoned = [];
    // Only if the device got as far as DRAINING/DRAIN_FAILED: a cancel can arrive before that.
    await transition('drain_cancelled', {
      maintenanceReason: null,
      message: 'maintenance cancelled; cordon rolled back',
      onlyFrom: ['DRAINING', 'DRAIN_FAILED'],
    });
    progress.phase = 'rolled_back';
  }

  async function waitForOperator(): Promise<Decision> {
    decision = undefined;
    progress.holdUntil = new Date(Date.now() + t.maxHoldMs).toISOString();
    const decided = await condition(() => decision !== undefined, t.maxHoldMs);
    const chosen = decision as Decision | undefined;
    progress.holdUntil = undefined;
    return decided && chosen ? chosen : { kind: 'resume', by: 'workflow (maximum hold reached)' };
  }

  /** Uncordon and re-verify; on a failed verification the device stays in MAINTENANCE for an operator. */
  async function resume(by: string): Promise<MaintenanceResult | undefined> {
    progress.phase = 'resuming';
    await transition('resume', { actor: by });
    await step('uncordon', () => undo.uncordonServices({ deviceId: input.deviceId }));
    progress.cordoned = [];
    try {
      await step('verify-driver', () => verify.verifyDriver({ deviceId: input.deviceId }));
    } catch (err) {
      if (isCancellation(err) || !(err instanceof ActivityFailure)) throw err;
      progress.lastError = messageOf(err);
      await transition('resume_failed', { actor: by, lastError: progress.lastError, message: 're-verification failed' });
      progress.phase = 'resume_failed';
      return undefined;
    }
    await transition('resume_succeeded', { actor: by, maintenanceReason: null, lastError: null });
    progress.phase = 'completed';
    return { outcome: 'resumed', deviceId: input.deviceId, drainAttempts: progress.drainAttempt, migrated: progress.migrated ?? 0 };
  }

  try {
    await transition('drain', { maintenanceReason: input.reason, message: input.reason });
    try {
      progress.cordoned = (await step('cordon', () => service.cordonServices({ deviceId: input.deviceId, reason: input.reason }))).services;
    } catch (err) {
      if (isCancellation(err)) throw err;
      // A service refused or stayed unreachable: undo what was cordoned, give the device back.
      progress.lastError = messageOf(err);
      await step('uncordon', () => undo.uncordonServices({ deviceId: input.deviceId }));
      await transition('drain_cancelled', { maintenanceReason: null, lastError: progress.lastError, message: 'cordon failed; rolled back' });
      progress.phase = 'rolled_back';
      return { outcome: 'aborted', deviceId: input.deviceId, drainAttempts: 0, migrated: 0, reason: progress.lastError };
    }

    let drainTimeoutMs = t.drainTimeoutMs;
    for (;;) {
      progress.phase = 'draining';
      progress.drainAttempt += 1;
      progress.total = (await step('list-workloads', () => service.listWorkloads({ deviceId: input.deviceId }))).total;
      const deadline = Date.now() + drainTimeoutMs;
      progress.drainDeadline = new Date(deadline).toISOString();
      const drain = proxyActivities<Acts>({
        // The activity stops itself at the deadline; the margin lets it report what is left.
        startToCloseTimeout: drainTimeoutMs + 60_000,
        heartbeatTimeout: t.heartbeatTimeoutMs,
        retry: { initialInterval: 1_000, maximumInterval: 10_000, backoffCoefficient: 2 },
      });
      const result = await step('drain', () =>
        drain.drainWorkloads({ deviceId: input.deviceId, concurrency: t.concurrency, deadline, pollMs: t.pollMs }),
      );
      Object.assign(progress, { total: result.total, migrated: result.migrated, remaining: result.remaining, remainingTruncated: result.remainingTruncated });
      if (result.remaining.length === 0) {
        await transition('drain_succeeded', { lastError: null });
        progress.phase = 'in_maintenance';
        break;
      }
      const left = result.total - result.migrated;
      progress.lastError = `drain deadline passed with ${left} of ${result.total} workloads still on the device`;
      await transition('drain_failed', { lastError: progress.lastError, message: progress.lastError });
      progress.phase = 'drain_failed';
      const next = await waitForOperator();
      if (next.kind === 'resume') {
        const done = await resume(next.by);
        if (done) return done;
        break; // re-verification failed: hold in MAINTENANCE below
      }
      drainTimeoutMs = next.drainTimeoutMs ?? drainTimeoutMs;
      await transition('drain', { actor: next.by, message: 'drain retried' });
    }

    // Hold (MAINTENANCE) until an operator resumes, or the maximum hold passes.
    for (;;) {
      const next = await waitForOperator();
      const done = await resume(next.by);
      if (done) return done;
    }
  } catch (err) {
    if (isCancellation(err)) {
      await CancellationScope.nonCancellable(async () => {
        if (progress.phase === 'in_maintenance' || progress.phase === 'resume_failed' || progress.phase === 'resuming') {
          // Cancelling a maintenance that already drained means ending it: resume. A failed
          // re-verification leaves the device in MAINTENANCE with lastError, for an operator.
          await resume('cancel');
        } else {
          await rollBack();
        }
      });
    }
    // Rethrown so the run shows as cancelled in the Temporal UI; the query tells what was undone.
    throw err;
  } finally {
    await CancellationScope.nonCancellable(() => db.releaseDevice({ deviceId: input.deviceId, workflowId }));
  }
}

function messageOf(err: unknown): string {
  if (err instanceof ActivityFailure && err.cause) return err.cause.message;
  return err instanceof Error ? err.message : String(err);
}
