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
