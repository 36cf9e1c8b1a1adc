/**
 * Queries and updates, declared once and used by the workflows (handlers) and the API (callers).
 * Only `@temporalio/workflow` definitions and plain types here.
 */
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { DeviceState } from '../domain/device-state';
import type { OperationType } from '../domain/operations';

export type StepStatus = 'running' | 'succeeded' | 'failed' | 'skipped';

export interface StepRecord {
  name: string;
  status: StepStatus;
  startedAt: string;
  endedAt?: string;
  error?: string;
}

/** What `GET /v1/operations/{id}` shows while a run is live: read by a query, never from the database. */
export interface OperationProgress {
  operation: OperationType;
  deviceId: string;
  deviceName: string;
  /** The step running now, or the last one. */
  step: string;
  status: 'running' | 'waiting_for_operator' | 'succeeded' | 'abandoned';
  /** Verification attempts started by this run (1 + operator retries). */
  attempt: number;
  driver?: string;
  deviceState?: DeviceState;
  lastError?: string;
  lastErrorType?: string;
  /** Until when the run waits for an operator before it abandons by itself. */
  waitingUntil?: string;
  steps: StepRecord[];
}

export interface RetryRequest {
  endpoint?: string;
  driver?: string;
  credentialsRef?: string;
  requestedBy: string;
}

export interface AbandonRequest {
  reason?: string;
  requestedBy: string;
}

export interface RetryAccepted {
  attempt: number;
}

export const progressQuery = defineQuery<OperationProgress>('progress');
export const retryUpdate = defineUpdate<RetryAccepted, [RetryRequest]>('retry');
export const abandonUpdate = defineUpdate<{ abandoned: true }, [AbandonRequest]>('abandon');

/** Live state of a maintenance run (the drain's per-workload progress is in the database). */
export interface MaintenanceProgress {
  operation: 'maintenance';
  deviceId: string;
  deviceName: string;
  reason: string;
  phase: 'cordoning' | 'draining' | 'drain_failed' | 'in_maintenance' | 'resuming' | 'resume_failed' | 'completed' | 'rolled_back';
  step: string;
  deviceState?: DeviceState;
  drainAttempt: number;
  drainDeadline?: string;
  holdUntil?: string;
  total?: number;
  migrated?: number;
  remaining?: { workload: string; name: string; service: string; reason: string }[];
  remainingTruncated?: boolean;
  cordoned: string[];
  lastError?: string;
  steps: StepRecord[];
}

export interface ResumeRequest {
  requestedBy: string;
}

export interface RetryDrainRequest {
  requestedBy: string;
  drainTimeoutMs?: number;
}

export const maintenanceProgressQuery = defineQuery<MaintenanceProgress>('maintenanceProgress');
export const resumeUpdate = defineUpdate<{ resuming: true }, [ResumeRequest]>('resume');
export const retryDrainUpdate = defineUpdate<{ drainAttempt: number }, [RetryDrainRequest]>('retryDrain');

/** One sync's outcome as the API shows it (`refresh` answers with it). */
export interface SyncOutcome {
  status: 'ok' | 'refused' | 'failed';
  startedAt: string;
  total?: number;
  added?: number;
  updated?: number;
  vanished?: number;
  unchanged?: number;
  nodes?: number;
  durationMs?: number;
  reason?: string;
  error?: string;
}

export interface PodmSyncProgress {
  operation: 'podm-sync';
  podmId: string;
  podmName: string;
  /** Syncs since the pod manager was registered (across continue-as-new). */
  syncs: number;
  syncsThisRun: number;
  running: boolean;
  nextSyncAt?: string;
  last?: SyncOutcome;
}

export interface PooledProgress {
  operation: 'attach' | 'detach';
  pooledId: string;
  nodeId: string;
  step: string;
  lastError?: string;
}

export const podmSyncProgressQuery = defineQuery<PodmSyncProgress>('podmSyncProgress');
export const refreshUpdate = defineUpdate<SyncOutcome, [{ force?: boolean; requestedBy: string }]>('refresh');
export const pooledProgressQuery = defineQuery<PooledProgress>('pooledProgress');
