import {
  ActivityFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { createActivities } from '../activities';
import type { SyncResult } from '../activities/pooled-sync';
import { podmSyncProgressQuery, refreshUpdate, type PodmSyncProgress, type SyncOutcome } from './definitions';

export interface PodmSyncTimings {
  /** Time between syncs. */
  intervalMs: number;
  /** A sync that would vanish more than this share of the live devices is refused (Valence's wipe). */
  maxVanishRatio: number;
  /** Syncs per run before continuing as new (also when Temporal suggests it), so history stays bounded. */
  syncsPerRun: number;
  syncTimeoutMs: number;
  syncMaxAttempts: number;
  heartbeatTimeoutMs: number;
}

export const DEFAULT_PODM_SYNC_TIMINGS: PodmSyncTimings = {
  intervalMs: 10 * 60_000,
  maxVanishRatio: 0.5,
  syncsPerRun: 100,
  syncTimeoutMs: 5 * 60_000,
  syncMaxAttempts: 3,
  heartbeatTimeoutMs: 60_000,
};

export interface PodmSyncInput {
  podmId: string;
  podmName: string;
  timings?: Partial<PodmSyncTimings>;
  /** Carried across continue-as-new. */
  carried?: { syncs: number; last?: SyncOutcome };
}

/**
 * Keeps one pod manager's pooled devices in sync: a sync now, then one every interval, one at a
 * time. `refresh` (an update) asks for a sync and answers with its result. Continues as new every
 * `syncsPerRun` syncs, between syncs and with no refresh waiting, so nothing is skipped or doubled.
 * Runs until cancelled (deleting the pod manager cancels it).
 */
export async function podmSync(input: PodmSyncInput): Promise<void> {
  const t = { ...DEFAULT_PODM_SYNC_TIMINGS, ...input.timings };
  const { syncPodManager, recordSyncFailure } = proxyActivities<ReturnType<typeof createActivities>>({
    startToCloseTimeout: t.syncTimeoutMs,
    heartbeatTimeout: t.heartbeatTimeoutMs,
    retry: { initialInterval: 1_000, maximumInterval: 30_000, maximumAttempts: t.syncMaxAttempts },
  });

  const progress: PodmSyncProgress = {
    operation: 'podm-sync',
    podmId: input.podmId,
    podmName: input.podmName,
    syncs: input.carried?.syncs ?? 0,
    syncsThisRun: 0,
    running: false,
    last: input.carried?.last,
  };
  let requested = 0; // refresh tickets handed out in this run
  let completed = 0; // tickets covered by a finished sync
  let forceNext = false;
  const outcomes = new Map<number, SyncOutcome>();

  setHandler(podmSyncProgressQuery, () => progress);
  setHandler(refreshUpdate, async ({ force }) => {
    const ticket = ++requested;
    if (force) forceNext = true;
    await condition(() => completed >= ticket);
    return outcomes.get(ticket)!;
  });

  let first = true;
  for (;;) {
    if (!first) {
      progress.nextSyncAt = new Date(Date.now() + t.intervalMs).toISOString();
      await condition(() => requested > completed, t.intervalMs);
    }
    first = false;
    const covers = requested;
    const force = forceNext;
    forceNext = false;
    progress.running = true;
    progress.nextSyncAt = undefined;
    const startedAt = new Date().toISOString();
    let outcome: SyncOutcome;
    try {
      const result: SyncResult = await syncPodManager({ podmId: input.podmId, maxVanishRatio: t.maxVanishRatio, force });
      outcome = { ...result, startedAt };
    } catch (err) {
      if (isCancellation(err)) throw err;
      const error = err instanceof ActivityFailure && err.cause ? err.cause.message : String(err);
      await recordSyncFailure({ podmId: input.podmId, error });
      outcome = { status: 'failed', error, startedAt };
    }
    progress.running = false;
    progress.syncs += 1;
    progress.syncsThisRun += 1;
    progress.last = outcome;
    for (let ticket = completed + 1; ticket <= covers; ticket++) outcomes.set(ticket, outcome);
    completed = covers;

    if (progress.syncsThisRun >= t.syncsPerRun || workflowInfo().continueAsNewSuggested) {
      // Only between syncs with no refresh waiting, so none is lost or answered twice.
      if (requested === completed) {
        await condition(allHandlersFinished);
        await continueAsNew<typeof podmSync>({ ...input, carried: { syncs: progress.syncs, last: outcome } });
      }
    }
  }
}
