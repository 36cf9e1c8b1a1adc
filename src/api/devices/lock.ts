import type { DeviceState } from '../../domain/device-state';
import { conflict, notFound } from '../../domain/errors';
import type { Device } from '../../generated/prisma/client';
import type { ApiDeps } from '../deps';
import { lockIsStale, operationInProgress } from '../operations/temporal';

/**
 * Why a device could not be locked for an operation: busy with a running one (409 naming it),
 * or in the wrong state (409 invalid_state). A lock held by a run that is not running any more
 * is stale and is broken (compare-and-swap), and the caller may try again: returns 'retry'.
 */
export async function explainLockFailure(
  deps: ApiDeps,
  deviceId: string,
  operation: string,
  allowed: readonly DeviceState[],
): Promise<'retry'> {
  const current = await deps.db.device.findUnique({ where: { id: deviceId } });
  if (!current) throw notFound('device', deviceId);
  if (current.lockedBy) {
    if (!(await lockIsStale(deps.temporal, current.lockedBy, current.lockedAt))) throw operationInProgress(current.name, current.lockedBy);
    await breakStaleLock(deps, current);
    return 'retry';
  }
  if (!allowed.includes(current.state)) {
    throw conflict('invalid_state', `device ${current.name} is ${current.state}; ${operation} needs ${allowed.join(' or ')}`, {
      state: current.state,
      allowed,
    });
  }
  return 'retry';
}

export async function breakStaleLock(deps: ApiDeps, device: Pick<Device, 'id' | 'lockedBy'>): Promise<void> {
  await deps.db.device.updateMany({ where: { id: device.id, lockedBy: device.lockedBy }, data: { lockedBy: null, lockedAt: null } });
}

export async function releaseLock(deps: ApiDeps, deviceId: string, workflowId: string): Promise<void> {
  await deps.db.device.updateMany({ where: { id: deviceId, lockedBy: workflowId }, data: { lockedBy: null, lockedAt: null } });
}
