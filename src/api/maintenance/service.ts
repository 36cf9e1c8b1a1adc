import { conflict, notFound } from '../../domain/errors';
import { workflowIds } from '../../domain/operations';
import type { Device } from '../../generated/prisma/client';
import {
  maintenanceProgressQuery,
  resumeUpdate,
  retryDrainUpdate,
  type MaintenanceProgress,
} from '../../workflows/definitions';
import type { MaintenanceInput, MaintenanceTimings } from '../../workflows/maintenance-device';
import type { ApiDeps } from '../deps';
import { explainLockFailure, releaseLock } from '../devices/lock';
import { cancelOperation, decideOnRun, describeOperation, startOperation } from '../operations/temporal';
import type { StartMaintenanceBody } from './schema';

/**
 * Locks an ACTIVE device for its next maintenance and names the run, in one statement: the
 * counter and the lock move together, so two requests can never both win.
 */
async function lockForMaintenance(deps: ApiDeps, device: Device): Promise<string> {
  for (let tries = 0; tries < 3; tries++) {
    const rows = await deps.db.$queryRaw<{ locked_by: string }[]>`
      UPDATE devices
         SET maintenance_seq = maintenance_seq + 1,
             locked_by = 'maintenance-' || name || '-' || (maintenance_seq + 1),
             locked_at = now(),
             updated_at = now()
       WHERE id = ${device.id}::uuid AND locked_by IS NULL AND state = 'ACTIVE'
   RETURNING locked_by`;
    if (rows.length === 1) return rows[0]!.locked_by;
    await explainLockFailure(deps, device.id, 'maintenance', ['ACTIVE']);
  }
  throw conflict('device_busy', `device ${device.name} kept changing; try again`);
}

export async function startMaintenance(deps: ApiDeps, device: Device, body: StartMaintenanceBody, actor: string) {
  const workflowId = await lockForMaintenance(deps, device);
  const timings: Partial<MaintenanceTimings> = {
    ...deps.maintenanceTimings,
    ...(body.drainTimeout !== undefined ? { drainTimeoutMs: body.drainTimeout } : {}),
    ...(body.concurrency !== undefined ? { concurrency: body.concurrency } : {}),
    ...(body.maxHold !== undefined ? { maxHoldMs: body.maxHold } : {}),
  };
  const input: MaintenanceInput = { deviceId: device.id, deviceName: device.name, reason: body.reason, requestedBy: actor, timings };
  const runId = await startOperation(deps, {
    workflowType: 'maintenanceDevice',
    workflowId,
    input,
    target: { id: device.id, name: device.name },
    operation: 'maintenance',
    summary: `Maintenance of ${device.name}: ${body.reason}`,
    undo: () => releaseLock(deps, device.id, workflowId),
  });
  await deps.db.operationEvent.create({
    data: {
      deviceId: device.id,
      workflowId,
      operation: 'maintenance',
      action: 'requested',
      actor,
      fromState: device.state,
      outcome: 'accepted',
      message: body.reason,
      details: { runId, drainTimeoutMs: timings.drainTimeoutMs ?? null, concurrency: timings.concurrency ?? null },
    },
  });
  return { workflowId, runId, type: 'maintenance' as const, href: `/v1/devices/${device.id}/maintenance` };
}

/** The device's current maintenance run, or its latest one. */
export function latestMaintenanceId(device: Device): string {
  if (device.lockedBy?.startsWith('maintenance-')) return device.lockedBy;
  if (device.maintenanceSeq === 0) throw notFound('maintenance of device', device.name);
  return workflowIds.maintenance(device.name, device.maintenanceSeq);
}

export async function maintenanceStatus(deps: ApiDeps, device: Device) {
  const workflowId = latestMaintenanceId(device);
  const description = await describeOperation(deps.temporal, workflowId);
  let progress: MaintenanceProgress | undefined;
  let progressError: string | undefined;
  try {
    progress = await deps.temporal.withDeadline(Date.now() + 5_000, () =>
      deps.temporal.workflow.getHandle(workflowId).query(maintenanceProgressQuery),
    );
  } catch (err) {
    progressError = `progress unavailable: ${(err as Error).message}`;
  }
  // The row as of after the query: the run moves its phase on only once the state is written, so
  // a row read before the query could show an older state than the phase (DRAINING beside
  // in_maintenance).
  const current = (await deps.db.device.findUnique({ where: { id: device.id } })) ?? device;
  // Per-workload progress comes from the table the drain keeps up to date, so it is live even
  // while the drain activity runs.
  const counts = await deps.db.workload.groupBy({ by: ['drainStatus'], where: { drainOp: workflowId }, _count: true });
  const count = (status: string) => counts.find((c) => c.drainStatus === status)?._count ?? 0;
  const total = counts.reduce((n, c) => n + c._count, 0);
  const left = await deps.db.workload.findMany({
    where: { drainOp: workflowId, NOT: { drainStatus: 'MIGRATED' } },
    include: { service: { select: { name: true } } },
    orderBy: { externalId: 'asc' },
    take: 100,
  });
  return {
    workflowId,
    runId: description.runId,
    status: description.status.name,
    device: { id: current.id, name: current.name, state: current.state, maintenanceReason: current.maintenanceReason, lastError: current.lastError },
    phase: progress?.phase ?? null,
    step: progress?.step ?? null,
    reason: progress?.reason ?? current.maintenanceReason,
    drain: {
      attempt: progress?.drainAttempt ?? null,
      deadline: progress?.drainDeadline ?? null,
      total,
      migrated: count('MIGRATED'),
      migrating: count('MIGRATING'),
      pending: count('PENDING'),
    },
    remaining: left.map((w) => ({
      workload: w.externalId,
      name: w.name,
      service: w.service.name,
      status: w.drainStatus,
      reason: w.lastError,
    })),
    cordoned: progress?.cordoned ?? [],
    holdUntil: progress?.holdUntil ?? null,
    lastError: progress?.lastError ?? null,
    steps: progress?.steps ?? [],
    ...(progressError ? { progressError } : {}),
  };
}

/** Sends an operator decision to the running maintenance; a refusal is 409 with the workflow's reason. */
export async function decideMaintenance(
  deps: ApiDeps,
  device: Device,
  decision: { kind: 'resume' } | { kind: 'retry'; drainTimeoutMs?: number },
  actor: string,
) {
  const workflowId = latestMaintenanceId(device);
  const result = await decideOnRun<{ resuming: true } | { drainAttempt: number }>(
    deps,
    workflowId,
    {
      action: decision.kind,
      actor,
      refusedCode: decision.kind === 'resume' ? 'not_resumable' : 'not_retryable',
      closedMessage: (status) => `maintenance ${workflowId} is ${status}`,
      closedDetails: { workflowId },
    },
    (handle) =>
      decision.kind === 'resume'
        ? handle.executeUpdate(resumeUpdate, { args: [{ requestedBy: actor }] })
        : handle.executeUpdate(retryDrainUpdate, { args: [{ requestedBy: actor, drainTimeoutMs: decision.drainTimeoutMs }] }),
  );
  return { workflowId, accepted: true, ...result };
}

export async function cancelMaintenance(deps: ApiDeps, device: Device, actor: string) {
  const workflowId = latestMaintenanceId(device);
  await cancelOperation(deps, workflowId, actor);
  return { workflowId, cancelRequested: true };
}
