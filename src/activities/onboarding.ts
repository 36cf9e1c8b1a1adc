import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Db } from '../db/client';
import type { Discovery } from '../domain/device-types';
import type { DeviceState } from '../domain/device-state';
import { FAILURE_TYPES } from '../domain/errors';
import { getDriver, selectDriver as chooseDriver } from '../drivers/registry';
import { DriverError, type DriverFailureKind } from '../drivers/types';
import { Prisma } from '../generated/prisma/client';
import type { SecretStore } from '../secrets';
import { applyDeviceEvent, currentRun } from './device-events';

export interface OnboardingDeps {
  db: Db;
  secrets: SecretStore;
  /** Upper bound on one HTTP request to a device. */
  deviceRequestTimeoutMs: number;
}

const FAILURE_BY_KIND: Record<DriverFailureKind, string> = {
  unreachable: FAILURE_TYPES.unreachable,
  credentials_rejected: FAILURE_TYPES.credentialsRejected,
  credentials_required: FAILURE_TYPES.credentialsRequired,
  incompatible: FAILURE_TYPES.incompatible,
  protocol: FAILURE_TYPES.protocol,
};

const OPERATION = 'onboard';

export function createOnboardingActivities({ db, secrets, deviceRequestTimeoutMs }: OnboardingDeps) {
  async function loadDevice(deviceId: string) {
    const device = await db.device.findUnique({ where: { id: deviceId } });
    if (!device) throw ApplicationFailure.nonRetryable(`device ${deviceId} no longer exists`, FAILURE_TYPES.deviceMissing);
    return device;
  }

  return {
    /** Picks the requested driver if compatible, else the best match, and records it. Idempotent: writes the same name again. */
    async selectDriver(args: { deviceId: string; requestedDriver?: string }): Promise<{ driver: string }> {
      const device = await loadDevice(args.deviceId);
      const choice = chooseDriver(
        { type: device.type, vendor: device.vendor, model: device.model ?? undefined },
        args.requestedDriver,
      );
      if (!choice.ok) throw ApplicationFailure.nonRetryable(choice.message, FAILURE_TYPES.noDriver);
      if (device.driverName !== choice.driver.name) {
        await db.device.update({ where: { id: device.id }, data: { driverName: choice.driver.name } });
      }
      return { driver: choice.driver.name };
    },

    async transitionDevice(args: { deviceId: string; event: 'verify'; actor: string }): Promise<{ state: DeviceState }> {
      return applyDeviceEvent(db, { ...args, operation: OPERATION });
    },

    /**
     * Talks to the device through its driver. Reads the database, writes nothing: safe to retry.
     * Credentials are resolved here from their reference and never leave this function.
     */
    async verifyDriver(args: { deviceId: string }): Promise<Discovery> {
      const device = await loadDevice(args.deviceId);
      const driver = device.driverName ? getDriver(device.driverName) : undefined;
      if (!driver) {
        throw ApplicationFailure.nonRetryable(`device ${device.name} has no known driver (${device.driverName ?? 'none'})`, FAILURE_TYPES.noDriver);
      }
      let credentials;
      if (device.credentialsRef) {
        credentials = await secrets.resolve(device.credentialsRef);
        if (!credentials) {
          throw ApplicationFailure.nonRetryable(
            `credentials reference "${device.credentialsRef}" is not defined in the secrets store`,
            FAILURE_TYPES.credentialsNotFound,
          );
        }
      }
      // Leave room inside the activity's own timeout for the error to be reported.
      const budget = Context.current().info.startToCloseTimeoutMs;
      const timeoutMs = Math.max(100, Math.min(deviceRequestTimeoutMs, Math.floor(budget * 0.8)));
      try {
        return await driver.verify({ endpoint: device.endpoint, credentials, timeoutMs });
      } catch (err) {
        if (err instanceof DriverError) {
          const type = FAILURE_BY_KIND[err.kind];
          const message = `${driver.name} driver: ${err.message}`;
          if (err.kind === 'unreachable') throw ApplicationFailure.retryable(message, type);
          throw ApplicationFailure.nonRetryable(message, type);
        }
        throw err;
      }
    },

    async recordVerification(args: { deviceId: string; discovery: Discovery; actor: string }): Promise<{ state: DeviceState }> {
      return applyDeviceEvent(db, {
        deviceId: args.deviceId,
        event: 'verify_succeeded',
        actor: args.actor,
        operation: OPERATION,
        message: 'driver verified',
        patch: {
          capabilities: args.discovery.capabilities as Prisma.InputJsonObject,
          capacity: args.discovery.capacity as Prisma.InputJsonObject,
          verifiedAt: new Date(),
          lastError: null,
        },
      });
    },

    async recordVerificationFailure(args: { deviceId: string; reason: string; actor: string }): Promise<{ state: DeviceState }> {
      const device = await loadDevice(args.deviceId);
      // Selection can fail before verification started (ENROLLED); both lead to VERIFY_FAILED.
      if (device.state === 'VERIFY_FAILED') {
        await db.device.update({ where: { id: device.id }, data: { lastError: args.reason } });
        return { state: device.state };
      }
      return applyDeviceEvent(db, {
        deviceId: args.deviceId,
        event: 'verify_failed',
        actor: args.actor,
        operation: OPERATION,
        message: args.reason,
        patch: { lastError: args.reason },
      });
    },

    async abandonDevice(args: { deviceId: string; reason: string; actor: string }): Promise<{ state: DeviceState }> {
      const device = await loadDevice(args.deviceId);
      if (device.state === 'ABANDONED') return { state: device.state };
      return applyDeviceEvent(db, {
        deviceId: args.deviceId,
        event: 'abandon',
        actor: args.actor,
        operation: OPERATION,
        message: args.reason,
      });
    },

    /**
     * Applies an operator's corrections before a retry. Idempotent: setting the same values twice
     * is harmless; the audit row is keyed like state changes.
     */
    async applyCorrections(args: {
      deviceId: string;
      changes: { endpoint?: string; driver?: string; credentialsRef?: string };
      actor: string;
    }): Promise<void> {
      const device = await loadDevice(args.deviceId);
      const { workflowExecution, key } = currentRun();
      if (device.lockedBy !== workflowExecution.workflowId) {
        throw ApplicationFailure.nonRetryable(`device ${device.name} is not held by this operation`, FAILURE_TYPES.lockLost);
      }
      if (args.changes.driver !== undefined) {
        const choice = chooseDriver({ type: device.type, vendor: device.vendor, model: device.model ?? undefined }, args.changes.driver);
        if (!choice.ok) throw ApplicationFailure.nonRetryable(choice.message, FAILURE_TYPES.noDriver);
      }
      try {
        await db.$transaction([
          db.device.update({
            where: { id: device.id },
            data: {
              endpoint: args.changes.endpoint,
              driverName: args.changes.driver,
              credentialsRef: args.changes.credentialsRef,
            },
          }),
          db.operationEvent.upsert({
            where: { idempotencyKey: key },
            update: {},
            create: {
              deviceId: device.id,
              workflowId: workflowExecution.workflowId,
              operation: OPERATION,
              action: 'corrected',
              actor: args.actor,
              outcome: 'ok',
              message: `corrected ${Object.keys(args.changes).join(', ')}`,
              // Names only: a credentials reference is a name, never the secret.
              details: args.changes,
              idempotencyKey: key,
            },
          }),
        ]);
      } catch (err) {
        if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002') {
          throw ApplicationFailure.nonRetryable(`endpoint ${args.changes.endpoint} belongs to another device`, FAILURE_TYPES.endpointInUse);
        }
        throw err;
      }
    },

    /** Releases the device lock if this run still holds it. Idempotent by construction. */
    async releaseDevice(args: { deviceId: string; workflowId: string }): Promise<void> {
      await db.device.updateMany({
        where: { id: args.deviceId, lockedBy: args.workflowId },
        data: { lockedBy: null, lockedAt: null },
      });
    },
  };
}
