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
import type { Discovery } from '../domain/device-types';
import { FAILURE_TYPES } from '../domain/errors';
import {
  abandonUpdate,
  progressQuery,
  retryUpdate,
  type AbandonRequest,
  type OperationProgress,
  type RetryRequest,
} from './definitions';

export interface OnboardTimings {
  /** Bound on one verification call to the device. */
  verifyTimeoutMs: number;
  /** Attempts against an unreachable device before the operator is asked. */
  verifyMaxAttempts: number;
  verifyInitialIntervalMs: number;
  verifyMaxIntervalMs: number;
  /** How long a failed verification waits for retry or abandon before abandoning by itself. */
  operatorWaitMs: number;
  /** Bound on one database step. */
  dbTimeoutMs: number;
}

export const DEFAULT_ONBOARD_TIMINGS: OnboardTimings = {
  verifyTimeoutMs: 60_000,
  verifyMaxAttempts: 5,
  verifyInitialIntervalMs: 1_000,
  verifyMaxIntervalMs: 30_000,
  operatorWaitMs: 7 * 24 * 3600_000,
  dbTimeoutMs: 30_000,
};

export interface OnboardInput {
  deviceId: string;
  deviceName: string;
  /** The driver the caller asked for; the API checked it is compatible. */
  requestedDriver?: string;
  requestedBy: string;
  timings?: Partial<OnboardTimings>;
}

export interface OnboardResult {
  outcome: 'active' | 'abandoned';
  deviceId: string;
  driver?: string;
  attempts: number;
  discovery?: Discovery;
  reason?: string;
}

type OperatorDecision = { kind: 'retry'; request: RetryRequest } | { kind: 'abandon'; request: AbandonRequest };

/**
 * Onboard a device: select its driver, verify it against the device's management endpoint,
 * and make it ACTIVE. A failed verification leaves the device VERIFY_FAILED and waits for an
 * operator to retry (optionally with a corrected endpoint, driver or credentials reference) or
 * abandon. The device lock taken by the API is released when the run ends, whatever the outcome.
 */
export async function onboardDevice(input: OnboardInput): Promise<OnboardResult> {
  const t: OnboardTimings = { ...DEFAULT_ONBOARD_TIMINGS, ...input.timings };
  const { workflowId } = workflowInfo();

  const db = proxyActivities<ReturnType<typeof createActivities>>({
    startToCloseTimeout: t.dbTimeoutMs,
    // Database steps retry until the database answers; they are idempotent.
    retry: { initialInterval: 500, maximumInterval: 10_000, backoffCoefficient: 2 },
  });
  const device = proxyActivities<ReturnType<typeof createActivities>>({
    startToCloseTimeout: t.verifyTimeoutMs,
    retry: {
      initialInterval: t.verifyInitialIntervalMs,
      maximumInterval: t.verifyMaxIntervalMs,
      backoffCoefficient: 2,
      maximumAttempts: t.verifyMaxAttempts,
    },
  });

  const progress: OperationProgress = {
    operation: 'onboard',
    deviceId: input.deviceId,
    deviceName: input.deviceName,
    step: 'starting',
    status: 'running',
    attempt: 0,
    steps: [],
  };
  let decision: OperatorDecision | undefined;

  setHandler(progressQuery, () => progress);
  setHandler(
    retryUpdate,
    (request) => {
      decision = { kind: 'retry', request };
      return { attempt: progress.attempt + 1 };
    },
    { validator: (_request) => assertWaitingForOperator(progress, decision) },
  );
  setHandler(
    abandonUpdate,
    (request) => {
      decision = { kind: 'abandon', request };
      return { abandoned: true as const };
    },
    { validator: (_request) => assertWaitingForOperator(progress, decision) },
  );

  async function step<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const record = { name, status: 'running' as const, startedAt: new Date().toISOString() };
    progress.steps.push(record);
    progress.step = name;
    try {
      const value = await fn();
      Object.assign(record, { status: 'succeeded', endedAt: new Date().toISOString() });
      return value;
    } catch (err) {
      Object.assign(record, { status: 'failed', endedAt: new Date().toISOString(), error: describeFailure(err).message });
      throw err;
    }
  }

  try {
    let driverOverride = input.requestedDriver;
    for (;;) {
      progress.attempt += 1;
      progress.status = 'running';
      progress.waitingUntil = undefined;
      try {
        const selected = await step('select-driver', () =>
          db.selectDriver({ deviceId: input.deviceId, requestedDriver: driverOverride }),
        );
        progress.driver = selected.driver;
        progress.deviceState = (await step('start-verification', () =>
          db.transitionDevice({ deviceId: input.deviceId, event: 'verify', actor: input.requestedBy }),
        )).state;
        const discovery = await step('verify-driver', () => device.verifyDriver({ deviceId: input.deviceId }));
        progress.deviceState = (await step('activate', () =>
          db.recordVerification({ deviceId: input.deviceId, discovery, actor: input.requestedBy }),
        )).state;
        progress.status = 'succeeded';
        progress.lastError = undefined;
        progress.lastErrorType = undefined;
        return {
          outcome: 'active',
          deviceId: input.deviceId,
          driver: selected.driver,
          attempts: progress.attempt,
          discovery,
        };
      } catch (err) {
        if (isCancellation(err)) throw err;
        const failure = describeFailure(err);
        if (!failure.operatorCanFix) throw err;
        progress.lastError = failure.message;
        progress.lastErrorType = failure.type;
        progress.deviceState = (await step('record-failure', () =>
          db.recordVerificationFailure({ deviceId: input.deviceId, reason: failure.message, actor: 'workflow' }),
        )).state;
      }

      // Wait for the operator: retry (maybe with corrections) or abandon.
      progress.status = 'waiting_for_operator';
      progress.step = 'waiting-for-operator';
      progress.waitingUntil = new Date(Date.now() + t.operatorWaitMs).toISOString();
      decision = undefined;
      const decided = await condition(() => decision !== undefined, t.operatorWaitMs);
      // (The update handlers set `decision`; the cast tells TypeScript it may have changed.)
      const pending = decision as OperatorDecision | undefined;
      const chosen: OperatorDecision = decided && pending
        ? pending
        : { kind: 'abandon', request: { reason: `no operator decision within ${t.operatorWaitMs} ms`, requestedBy: 'workflow' } };

      if (chosen.kind === 'abandon') {
        const reason = chosen.request.reason ?? 'abandoned by operator';
        progress.deviceState = (await step('abandon', () =>
          db.abandonDevice({ deviceId: input.deviceId, reason, actor: chosen.request.requestedBy }),
        )).state;
        progress.status = 'abandoned';
        return { outcome: 'abandoned', deviceId: input.deviceId, attempts: progress.attempt, reason, driver: progress.driver };
      }

      const { requestedBy, ...changes } = chosen.request;
      if (changes.endpoint !== undefined || changes.driver !== undefined || changes.credentialsRef !== undefined) {
        await step('apply-corrections', () =>
          db.applyCorrections({ deviceId: input.deviceId, changes, actor: requestedBy }),
        );
      }
      // A driver named in the retry wins; otherwise keep the one chosen before.
      driverOverride = changes.driver ?? progress.driver;
    }
  } catch (err) {
    if (isCancellation(err)) {
      // Cancelled by an operator: the device must not stay VERIFYING with nobody driving it.
      await CancellationScope.nonCancellable(() =>
        db.abandonDevice({ deviceId: input.deviceId, reason: 'onboarding cancelled', actor: input.requestedBy }),
      );
      progress.status = 'abandoned';
    }
    throw err;
  } finally {
    // Whatever happened, give the device back (non-cancellable so it also runs after a cancel).
    await CancellationScope.nonCancellable(() => db.releaseDevice({ deviceId: input.deviceId, workflowId }));
  }
}

function assertWaitingForOperator(progress: OperationProgress, pending: OperatorDecision | undefined): void {
  if (progress.status !== 'waiting_for_operator' || pending !== undefined) {
    throw ApplicationFailure.nonRetryable(
      `operation is ${progress.status === 'waiting_for_operator' ? 'already resuming' : progress.status}, not waiting for an operator`,
      'NotWaitingForOperator',
    );
  }
}

/** Failures an operator can act on (wrong credentials, unreachable device...) vs. bugs that should fail the run. */
const OPERATOR_FIXABLE = new Set<string>([
  FAILURE_TYPES.unreachable,
  FAILURE_TYPES.credentialsRejected,
  FAILURE_TYPES.credentialsRequired,
  FAILURE_TYPES.credentialsNotFound,
  FAILURE_TYPES.incompatible,
  FAILURE_TYPES.protocol,
  FAILURE_TYPES.noDriver,
  FAILURE_TYPES.endpointInUse,
]);

function describeFailure(err: unknown): { message: string; type?: string; operatorCanFix: boolean } {
  if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure) {
    const type = err.cause.type ?? undefined;
    return { message: err.cause.message, type, operatorCanFix: type !== undefined && OPERATOR_FIXABLE.has(type) };
  }
  if (err instanceof ActivityFailure && err.cause) {
    // A timeout of the verification call counts as an unreachable device.
    return { message: err.cause.message, type: FAILURE_TYPES.unreachable, operatorCanFix: true };
  }
  return { message: err instanceof Error ? err.message : String(err), operatorCanFix: false };
}
