import { WorkflowFailedError, type Client } from '@temporalio/client';
import { Router } from 'express';
import type { ProtoFailure } from '@temporalio/common';
import { decodeOptionalFailureToOptionalError } from '@temporalio/common/lib/internal-non-workflow';
import { conflict, invalid } from '../../domain/errors';
import { operationTypeOf } from '../../domain/operations';
import {
  abandonUpdate,
  maintenanceProgressQuery,
  podmSyncProgressQuery,
  pooledProgressQuery,
  progressQuery,
  refreshUpdate,
  retryDrainUpdate,
  retryUpdate,
  type MaintenanceProgress,
  type OperationProgress,
  type PodmSyncProgress,
  type PooledProgress,
} from '../../workflows/definitions';

type AnyProgress = OperationProgress | MaintenanceProgress | PodmSyncProgress | PooledProgress;

/** The progress query of each workflow type. */
const QUERIES = {
  onboard: progressQuery,
  maintenance: maintenanceProgressQuery,
  'podm-sync': podmSyncProgressQuery,
  attach: pooledProgressQuery,
  detach: pooledProgressQuery,
} as const;
import type { ApiDeps } from '../deps';
import { retryBody } from '../devices/schema';
import { checkDriver, findDevice } from '../devices/service';
import { parse } from '../validate';
import { listOperations } from './list';
import { abandonBody, listOperationsQuery, noBody, operationParams } from './schema';
import { retryPooledAction } from '../pooled/router';
import { auditedDecision, cancelOperation, decideOnRun, describeOperation } from './temporal';

const params = operationParams;

/**
 * The message of a failure as Temporal stores it: its message is an encoded (and, with the
 * codec, sealed) payload, so it goes through the client's data converter to be read.
 */
async function failureMessage(temporal: Client, failure: ProtoFailure | null | undefined): Promise<string | null> {
  if (!failure) return null;
  try {
    return (await decodeOptionalFailureToOptionalError(temporal.workflow.options.loadedDataConverter, failure))?.message ?? null;
  } catch {
    return 'failure sealed with a key this API does not have';
  }
}

/** Live progress from the run itself (each workflow type has its query); bounded so a missing worker cannot hang the request. */
async function readProgress(
  temporal: Client,
  workflowId: string,
): Promise<{ progress?: AnyProgress; progressError?: string }> {
  try {
    const handle = temporal.workflow.getHandle(workflowId);
    const query = QUERIES[operationTypeOf(workflowId) ?? 'onboard'];
    const progress = await temporal.withDeadline(Date.now() + 5_000, () => handle.query<AnyProgress>(query.name));
    return { progress };
  } catch (err) {
    return { progressError: `progress unavailable: ${(err as Error).message}` };
  }
}

export function operationsRouter(deps: ApiDeps): Router {
  const router = Router();

  router.get('/', async (req, res) => {
    res.json(await listOperations(deps, parse(listOperationsQuery, req, 'query')));
  });

  router.get('/:workflowId', async (req, res) => {
    const { workflowId } = parse(params, req, 'params');
    const description = await describeOperation(deps.temporal, workflowId);
    const { progress, progressError } = await readProgress(deps.temporal, workflowId);
    const status = description.status.name;
    let result: unknown;
    let failure: string | undefined;
    if (status === 'COMPLETED') {
      result = await deps.temporal.workflow.getHandle(workflowId).result();
    } else if (status === 'FAILED') {
      try {
        await deps.temporal.workflow.getHandle(workflowId).result();
      } catch (err) {
        failure = err instanceof WorkflowFailedError ? (err.cause?.message ?? err.message) : (err as Error).message;
      }
    }
    const pendingActivities = await Promise.all(
      (description.raw.pendingActivities ?? []).map(async (a) => ({
        activity: a.activityType?.name,
        attempt: a.attempt,
        maximumAttempts: a.maximumAttempts,
        lastFailure: await failureMessage(deps.temporal, a.lastFailure),
      })),
    );
    res.json({
      workflowId,
      runId: description.runId,
      type: operationTypeOf(workflowId) ?? description.type,
      status,
      startTime: description.startTime,
      closeTime: description.closeTime ?? null,
      step: progress && 'step' in progress ? progress.step : null,
      attempts: progress && 'attempt' in progress ? progress.attempt : progress && 'drainAttempt' in progress ? progress.drainAttempt : null,
      lastError: (progress && 'lastError' in progress ? progress.lastError : undefined) ?? failure ?? pendingActivities.find((a) => a.lastFailure)?.lastFailure ?? null,
      progress: progress ?? null,
      ...(progressError ? { progressError } : {}),
      pendingActivities,
      result: result ?? null,
      failure: failure ?? null,
    });
  });

  /** Operator decisions go through workflow updates, so a refusal (not waiting) comes back as 409 synchronously. */
  const decide = <T>(workflowId: string, action: string, actor: string, send: () => Promise<T>): Promise<T> =>
    decideOnRun(
      deps,
      workflowId,
      { action, actor, refusedCode: 'not_waiting_for_operator', closedMessage: (status) => `operation ${workflowId} is ${status}, not waiting for an operator` },
      send,
    );

  router.post('/:workflowId/retry', async (req, res) => {
    const { workflowId } = parse(params, req, 'params');
    const actor = res.locals.actor as string;
    const handle = deps.temporal.workflow.getHandle(workflowId);
    const href = `/v1/operations/${encodeURIComponent(workflowId)}`;
    const type = operationTypeOf(workflowId);
    if (type === 'maintenance') {
      // Retrying a maintenance means retrying its drain (after it missed its deadline).
      parse(noBody, req, 'body');
      const accepted = await decide(workflowId, 'retry', actor, () => handle.executeUpdate(retryDrainUpdate, { args: [{ requestedBy: actor }] }));
      res.status(202).json({ workflowId, accepted: true, attempt: accepted.drainAttempt, href });
      return;
    }
    if (type === 'podm-sync') {
      // Retrying a pod manager's sync means running one now (its failures are recorded and the
      // run goes on syncing); the answer is that sync's result.
      parse(noBody, req, 'body');
      const result = await decide(workflowId, 'retry', actor, () => handle.executeUpdate(refreshUpdate, { args: [{ force: false, requestedBy: actor }] }));
      res.status(result.status === 'failed' ? 502 : 200).json({ workflowId, accepted: true, result, href });
      return;
    }
    if (type === 'attach' || type === 'detach') {
      // A failed attach/detach has ended (its device put back); retrying starts the same action again.
      parse(noBody, req, 'body');
      const description = await describeOperation(deps.temporal, workflowId);
      const operation = await auditedDecision(deps, { workflowId, description }, 'retry', actor, () => retryPooledAction(deps, workflowId, description, actor));
      res.status(202).json({ workflowId, accepted: true, operation, href });
      return;
    }
    const body = parse(retryBody, req, 'body');
    if (type !== 'onboard') {
      throw invalid('not_retryable', `operation ${workflowId} has no retry step`);
    }
    const { progress } = await readProgress(deps.temporal, workflowId);
    if (progress && progress.operation === 'onboard') {
      const device = await findDevice(deps.db, progress.deviceId);
      if (body.driver) checkDriver(device, body.driver);
      if (body.endpoint && body.endpoint !== device.endpoint) {
        const owner = await deps.db.device.findUnique({ where: { endpoint: body.endpoint } });
        if (owner) throw conflict('device_exists', `endpoint ${body.endpoint} belongs to device ${owner.name}`, { deviceId: owner.id });
      }
    }
    const accepted = await decide(workflowId, 'retry', actor, () =>
      handle.executeUpdate(retryUpdate, { args: [{ ...body, requestedBy: actor }] }),
    );
    res.status(202).json({ workflowId, accepted: true, attempt: accepted.attempt, href });
  });

  router.post('/:workflowId/abandon', async (req, res) => {
    const { workflowId } = parse(params, req, 'params');
    const body = parse(abandonBody, req, 'body');
    if (operationTypeOf(workflowId) !== 'onboard') {
      throw invalid('not_abandonable', `operation ${workflowId} cannot be abandoned; cancel it instead`);
    }
    const handle = deps.temporal.workflow.getHandle(workflowId);
    await decide(workflowId, 'abandon', res.locals.actor, () => handle.executeUpdate(abandonUpdate, { args: [{ ...body, requestedBy: res.locals.actor }] }));
    res.status(202).json({ workflowId, accepted: true, href: `/v1/operations/${encodeURIComponent(workflowId)}` });
  });

  router.post('/:workflowId/cancel', async (req, res) => {
    const { workflowId } = parse(params, req, 'params');
    parse(noBody, req, 'body');
    await cancelOperation(deps, workflowId, res.locals.actor);
    res.status(202).json({ workflowId, cancelRequested: true, href: `/v1/operations/${encodeURIComponent(workflowId)}` });
  });

  return router;
}
