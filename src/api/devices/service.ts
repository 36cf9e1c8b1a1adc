import { applyEvent } from '../../domain/device-state';
import { conflict, invalid, notFound } from '../../domain/errors';
import { workflowIds } from '../../domain/operations';
import { selectDriver } from '../../drivers/registry';
import { Prisma, type Device } from '../../generated/prisma/client';
import type { OnboardInput } from '../../workflows/onboard-device';
import type { ApiDeps } from '../deps';
import { lockIsStale, operationInProgress, startOperation } from '../operations/temporal';
import { breakStaleLock } from './lock';
import type { CreateDeviceBody } from './schema';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export async function findDevice(db: ApiDeps['db'], idOrName: string): Promise<Device> {
  const device = UUID.test(idOrName)
    ? await db.device.findUnique({ where: { id: idOrName } })
    : await db.device.findUnique({ where: { name: idOrName } });
  if (!device) throw notFound('device', idOrName);
  return device;
}

/** Throws 422 unless the driver (requested or best match) can serve this device. */
export function checkDriver(device: { type: Device['type']; vendor: string; model?: string | null }, requested?: string): string {
  const choice = selectDriver({ type: device.type, vendor: device.vendor, model: device.model ?? undefined }, requested);
  if (!choice.ok) throw invalid(choice.code, choice.message, requested ? { driver: requested } : undefined);
  return choice.driver.name;
}

/**
 * Devices sharing the new device's name or endpoint. A lock held by a run that is no longer
 * running is broken here (compare-and-swap on the lock value), so a crashed start does not
 * wedge a device forever.
 */
async function conflictsFor(deps: ApiDeps, body: CreateDeviceBody): Promise<Device[]> {
  const existing = await deps.db.device.findMany({ where: { OR: [{ name: body.name }, { endpoint: body.endpoint }] } });
  for (const device of existing) {
    if (!device.lockedBy) continue;
    if (!(await lockIsStale(deps.temporal, device.lockedBy, device.lockedAt))) throw operationInProgress(device.name, device.lockedBy);
    await breakStaleLock(deps, device);
    device.lockedBy = null;
  }
  return existing;
}

export interface StartedOperation {
  workflowId: string;
  runId: string;
  type: 'onboard';
  href: string;
}

/**
 * Records the device (ENROLLED, locked by its onboarding run) and starts onboarding.
 * The row and the run go together: if Temporal refuses the start, the row is put back.
 * An ABANDONED device with the same name is enrolled again rather than refused.
 */
export async function createDevice(
  deps: ApiDeps,
  body: CreateDeviceBody,
  actor: string,
): Promise<{ device: Device; operation: StartedOperation }> {
  checkDriver(body, body.driver);
  const workflowId = workflowIds.onboard(body.name);
  const existing = await conflictsFor(deps, body);
  const reusable = existing.length === 1 && existing[0]!.name === body.name && existing[0]!.state === 'ABANDONED' ? existing[0] : undefined;
  if (existing.length && !reusable) {
    const other = existing[0]!;
    const on = other.name === body.name ? 'name' : 'endpoint';
    throw conflict('device_exists', `a device with this ${on} already exists: ${other.name} (${other.state})`, {
      deviceId: other.id,
      conflictOn: on,
    });
  }

  const fields = {
    type: body.type,
    vendor: body.vendor,
    model: body.model ?? null,
    endpoint: body.endpoint,
    credentialsRef: body.credentialsRef ?? null,
    driverName: null,
    lastError: null,
    lockedBy: workflowId,
    lockedAt: new Date(),
  };
  let device: Device;
  try {
    if (reusable) {
      const claimed = await deps.db.device.updateMany({
        where: { id: reusable.id, state: 'ABANDONED', lockedBy: null },
        data: { ...fields, state: applyEvent(reusable.state, 're_enroll'), capabilities: {}, capacity: {}, verifiedAt: null },
      });
      if (claimed.count !== 1) throw conflict('device_busy', `device ${body.name} changed while being re-enrolled; try again`);
      device = await findDevice(deps.db, reusable.id);
    } else {
      device = await deps.db.device.create({ data: { name: body.name, ...fields } });
    }
  } catch (err) {
    // Lost a race with a concurrent create of the same name or endpoint: name the winner's run.
    if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002') {
      const winner = await deps.db.device.findFirst({ where: { OR: [{ name: body.name }, { endpoint: body.endpoint }] } });
      if (winner?.lockedBy) throw operationInProgress(winner.name, winner.lockedBy);
      throw conflict('device_exists', `a device with this name or endpoint was just created by another request`, winner ? { deviceId: winner.id } : undefined);
    }
    throw err;
  }

  const input: OnboardInput = {
    deviceId: device.id,
    deviceName: device.name,
    requestedDriver: body.driver,
    requestedBy: actor,
    timings: deps.onboardTimings,
  };
  const runId = await startOperation(deps, {
    workflowType: 'onboardDevice',
    workflowId,
    input,
    target: { id: device.id, name: device.name },
    operation: 'onboard',
    summary: `Onboard ${device.name} (${device.type}, ${device.vendor}${device.model ? ` ${device.model}` : ''})`,
    undo: () => undoEnrollment(deps, device, reusable),
  });

  await deps.db.operationEvent.create({
    data: {
      deviceId: device.id,
      workflowId,
      operation: 'onboard',
      action: 'requested',
      actor,
      toState: device.state,
      outcome: 'accepted',
      message: reusable ? 'device re-enrolled for onboarding' : 'device enrolled for onboarding',
      details: { runId, driver: body.driver ?? null },
    },
  });
  return { device, operation: { workflowId, runId, type: 'onboard', href: `/v1/operations/${encodeURIComponent(workflowId)}` } };
}

async function undoEnrollment(deps: ApiDeps, device: Device, previous: Device | undefined): Promise<void> {
  if (!previous) {
    await deps.db.device.deleteMany({ where: { id: device.id, lockedBy: device.lockedBy } });
    return;
  }
  const { id: _id, createdAt: _c, updatedAt: _u, capabilities, capacity, ...rest } = previous;
  await deps.db.device.updateMany({
    where: { id: device.id, lockedBy: device.lockedBy },
    data: { ...rest, capabilities: capabilities ?? {}, capacity: capacity ?? {} },
  });
}
