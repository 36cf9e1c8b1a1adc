import { ApplicationFailure, CancelledFailure, Context, heartbeat, sleep } from '@temporalio/activity';
import type { Db } from '../db/client';
import type { DeviceEvent, DeviceState } from '../domain/device-state';
import { FAILURE_TYPES } from '../domain/errors';
import { createServiceClient, ServiceClientError, type ServiceClient } from '../integrations/service-client';
import type { SecretStore } from '../secrets';
import { applyDeviceEvent, currentRun } from './device-events';

export interface MaintenanceDeps {
  db: Db;
  secrets: SecretStore;
  /** Upper bound on one HTTP request to a service. */
  serviceRequestTimeoutMs: number;
}

export interface DrainRemaining {
  workload: string;
  name: string;
  service: string;
  reason: string;
}

export interface DrainResult {
  total: number;
  migrated: number;
  remaining: DrainRemaining[];
  /** Remaining beyond this many are counted, not listed (payloads stay small). */
  remainingTruncated: boolean;
}

const OPERATION = 'maintenance';
const MAX_LISTED_REMAINING = 50;

/** Converts a service client failure into a Temporal failure the retry policy understands. */
function asFailure(err: unknown, what: string): unknown {
  if (err instanceof ServiceClientError) {
    const message = `${what}: ${err.message}`;
    // Refused, malformed, or a base URL that names no service: retrying cannot fix these.
    if (err.kind === 'rejected' || err.kind === 'protocol' || err.kind === 'not_found') {
      return ApplicationFailure.nonRetryable(message, FAILURE_TYPES.serviceRejected);
    }
    return ApplicationFailure.retryable(message, FAILURE_TYPES.serviceUnreachable);
  }
  return err;
}

export function createMaintenanceActivities({ db, secrets, serviceRequestTimeoutMs }: MaintenanceDeps) {
  async function clientFor(service: { name: string; endpoint: string; credentialsRef: string | null }): Promise<ServiceClient> {
    let token: string | undefined;
    if (service.credentialsRef) {
      const credentials = await secrets.resolve(service.credentialsRef);
      if (!credentials) {
        throw ApplicationFailure.nonRetryable(
          `credentials reference "${service.credentialsRef}" of service ${service.name} is not defined in the secrets store`,
          FAILURE_TYPES.credentialsNotFound,
        );
      }
      token = credentials.password;
    }
    return createServiceClient({ baseUrl: service.endpoint, token, timeoutMs: serviceRequestTimeoutMs });
  }

  async function consumersOf(deviceId: string) {
    return db.serviceDevice.findMany({ where: { deviceId }, include: { service: true }, orderBy: { serviceId: 'asc' } });
  }

  return {
    async maintenanceTransition(args: {
      deviceId: string;
      event: Extract<DeviceEvent, 'drain' | 'drain_succeeded' | 'drain_failed' | 'drain_cancelled' | 'resume' | 'resume_succeeded' | 'resume_failed'>;
      actor: string;
      message?: string;
      maintenanceReason?: string | null;
      lastError?: string | null;
      /** Apply only from these states; elsewhere this is a no-op (a rollback that may find nothing to undo). */
      onlyFrom?: DeviceState[];
    }): Promise<{ state: DeviceState }> {
      if (args.onlyFrom) {
        const device = await db.device.findUnique({ where: { id: args.deviceId }, select: { state: true } });
        if (device && !args.onlyFrom.includes(device.state)) return { state: device.state };
      }
      return applyDeviceEvent(db, {
        deviceId: args.deviceId,
        event: args.event,
        actor: args.actor,
        operation: OPERATION,
        message: args.message,
        patch: {
          ...(args.maintenanceReason !== undefined ? { maintenanceReason: args.maintenanceReason } : {}),
          ...(args.lastError !== undefined ? { lastError: args.lastError } : {}),
        },
      });
    },

    /**
     * Disables every consuming service on the device (Nova's os-services "disabled" with a
     * reason), so no new work lands on it. Idempotent: disabling twice is harmless, and the row
     * records which run cordoned it.
     */
    async cordonServices(args: { deviceId: string; reason: string }): Promise<{ services: string[] }> {
      const { workflowExecution } = currentRun();
      const done: string[] = [];
      for (const consumer of await consumersOf(args.deviceId)) {
        const client = await clientFor(consumer.service);
        try {
          await client.setDeviceStatus(consumer.deviceRef, 'disabled', args.reason);
        } catch (err) {
          throw asFailure(err, `cordon ${consumer.service.name}`);
        }
        await db.serviceDevice.update({
          where: { serviceId_deviceId: { serviceId: consumer.serviceId, deviceId: consumer.deviceId } },
          data: { cordonedBy: workflowExecution.workflowId, cordonReason: args.reason, cordonedAt: new Date() },
        });
        done.push(consumer.service.name);
      }
      return { services: done };
    },

    /** Enables the services this device's maintenance disabled (rollback or resume). Idempotent. */
    async uncordonServices(args: { deviceId: string }): Promise<{ services: string[] }> {
      const done: string[] = [];
      for (const consumer of await consumersOf(args.deviceId)) {
        if (!consumer.cordonedBy) continue;
        const client = await clientFor(consumer.service);
        try {
          await client.setDeviceStatus(consumer.deviceRef, 'enabled');
        } catch (err) {
          throw asFailure(err, `uncordon ${consumer.service.name}`);
        }
        await db.serviceDevice.update({
          where: { serviceId_deviceId: { serviceId: consumer.serviceId, deviceId: consumer.deviceId } },
          data: { cordonedBy: null, cordonReason: null, cordonedAt: null },
        });
        done.push(consumer.service.name);
      }
      return { services: done };
    },

    /**
     * Asks every consuming service which workloads sit on the device and records them for this
     * drain (bulk insert, then one update per service). Idempotent: re-listing keeps the progress
     * of workloads already known to this drain.
     */
    async listWorkloads(args: { deviceId: string }): Promise<{ total: number }> {
      const { workflowExecution } = currentRun();
      const drainOp = workflowExecution.workflowId;
      for (const consumer of await consumersOf(args.deviceId)) {
        const client = await clientFor(consumer.service);
        let workloads;
        try {
          workloads = await client.listWorkloads(consumer.deviceRef);
        } catch (err) {
          throw asFailure(err, `list workloads of ${consumer.service.name}`);
        }
        const ids = workloads.map((w) => w.id);
        await db.workload.createMany({
          data: workloads.map((w) => ({
            serviceId: consumer.serviceId,
            externalId: w.id,
            name: w.name,
            kind: w.kind,
            deviceId: args.deviceId,
          })),
          skipDuplicates: true,
        });
        // Claim for this drain whatever is not already in it (a retried drain keeps its progress).
        await db.workload.updateMany({
          // (Not `NOT: { drainOp }`: in SQL that also skips rows whose drain_op is NULL.)
          where: { serviceId: consumer.serviceId, externalId: { in: ids }, OR: [{ drainOp: null }, { drainOp: { not: drainOp } }] },
          data: { drainOp, drainStatus: 'PENDING', drainAttempts: 0, lastError: null, deviceId: args.deviceId },
        });
      }
      return { total: await db.workload.count({ where: { drainOp } }) };
    },

    /**
     * Migrates every workload of this drain off the device, `concurrency` at a time, until all
     * have landed elsewhere or `deadline` passes. Safe to retry after a crash: progress lives in
     * the workloads table, and every migration is requested with an idempotency key made of the
     * drain, the workload and the attempt, so a retried request never starts a second migration.
     * A budget refusal (429) or an unreachable service is retried with backoff until the deadline.
     */
    async drainWorkloads(args: { deviceId: string; concurrency: number; deadline: number; pollMs?: number }): Promise<DrainResult> {
      const { workflowExecution } = currentRun();
      const drainOp = workflowExecution.workflowId;
      const ctx = Context.current();
      const rows = await db.workload.findMany({
        where: { drainOp },
        include: { service: true },
        orderBy: { externalId: 'asc' },
      });
      const consumers = new Map((await consumersOf(args.deviceId)).map((c) => [c.serviceId, c]));
      const clients = new Map<string, ServiceClient>();
      for (const c of consumers.values()) clients.set(c.serviceId, await clientFor(c.service));

      let migrated = rows.filter((r) => r.drainStatus === 'MIGRATED').length;
      const queue = rows.filter((r) => r.drainStatus !== 'MIGRATED');
      const errors = new Map<string, string>();
      const pollMs = args.pollMs ?? 10;
      const timeLeft = () => args.deadline - Date.now();
      let cancelled = false;
      ctx.cancelled.catch(() => (cancelled = true));

      const beat = () => heartbeat({ migrated, remaining: rows.length - migrated });
      const wait = async (ms: number) => {
        // Sleeps at most until the deadline, and wakes up on cancellation (activity sleep does).
        await sleep(Math.max(0, Math.min(ms, timeLeft())));
      };

      // Landed workloads are recorded in batches: a crash before a flush only means the next
      // attempt looks again and finds them gone.
      const landed: string[] = [];
      const flushLanded = async () => {
        const ids = landed.splice(0, landed.length);
        if (ids.length) await db.workload.updateMany({ where: { id: { in: ids } }, data: { drainStatus: 'MIGRATED', deviceId: null, lastError: null } });
      };

      async function drainOne(row: (typeof rows)[number]): Promise<void> {
        const consumer = consumers.get(row.serviceId);
        const client = clients.get(row.serviceId);
        if (!consumer || !client) {
          errors.set(row.id, `service ${row.service.name} no longer consumes this device`);
          return;
        }
        let attempt = row.drainAttempts;
        let backoff = 100;
        let pollDelay = pollMs;
        // A workload this drain already asked about (MIGRATING) is looked at first; otherwise the
        // migrate request itself tells where the workload is (the service answers 200 if it is gone).
        let ask = row.drainStatus !== 'MIGRATING';
        while (timeLeft() > 0 && !cancelled) {
          try {
            let current;
            if (ask) {
              if (attempt > 0 && row.drainStatus !== 'MIGRATING') {
                // A retry after a failed attempt: record the new attempt before asking, so a crash
                // after the request re-sends the same key instead of starting another migration.
                await db.workload.update({ where: { id: row.id }, data: { drainStatus: 'MIGRATING', drainAttempts: attempt } });
                row.drainStatus = 'MIGRATING';
              }
              current = (await client.migrateWorkload(row.externalId, consumer.deviceRef, `${drainOp}/${row.id}/${attempt}`)).workload;
              ask = false;
              pollDelay = pollMs;
            } else {
              current = await client.getWorkload(row.externalId);
            }
            backoff = 100; // the service answered: back off again only on consecutive failures
            if (!current || current.device !== consumer.deviceRef || current.state === 'stopped') {
              landed.push(row.id);
              migrated += 1;
              errors.delete(row.id);
              return;
            }
            if (current.state === 'migrating') {
              await wait(pollDelay);
              pollDelay = Math.min(Math.ceil(pollDelay * 1.5), 1_000);
              continue;
            }
            // Still on the device and not moving: the attempt failed (or was never started).
            if (current.last_error) {
              attempt += 1;
              errors.set(row.id, current.last_error);
              row.drainStatus = 'PENDING';
              await db.workload.update({ where: { id: row.id }, data: { drainStatus: 'PENDING', drainAttempts: attempt, lastError: current.last_error } });
              await wait(backoff);
              backoff = Math.min(backoff * 2, 5_000);
            }
            ask = true;
          } catch (err) {
            if (err instanceof ServiceClientError && err.code === 'unknown_workload') {
              ask = false; // it vanished between our look and our request: the next look records it as gone
              continue;
            }
            if (err instanceof ServiceClientError && (err.kind === 'budget' || err.kind === 'unreachable')) {
              errors.set(row.id, err.message);
              await wait(err.retryAfterMs ?? backoff);
              backoff = Math.min(backoff * 2, 5_000);
              continue;
            }
            if (err instanceof CancelledFailure) return;
            errors.set(row.id, err instanceof Error ? err.message : String(err));
            await db.workload.update({ where: { id: row.id }, data: { lastError: errors.get(row.id) } });
            return;
          }
        }
      }

      const beating = setInterval(beat, 1_000);
      const flushing = setInterval(() => void flushLanded().catch(() => undefined), 200);
      try {
        beat();
        let next = 0;
        const lanes = Array.from({ length: Math.max(1, Math.min(args.concurrency, queue.length)) }, async () => {
          while (next < queue.length && timeLeft() > 0 && !cancelled) {
            const row = queue[next++]!;
            await drainOne(row);
          }
        });
        await Promise.all(lanes);
      } finally {
        clearInterval(beating);
        clearInterval(flushing);
      }
      await flushLanded();
      if (cancelled) throw new CancelledFailure('drain cancelled');

      const left = await db.workload.findMany({
        where: { drainOp, NOT: { drainStatus: 'MIGRATED' } },
        include: { service: true },
        orderBy: { externalId: 'asc' },
      });
      await Promise.all(
        left
          .filter((r) => errors.has(r.id))
          .map((r) => db.workload.update({ where: { id: r.id }, data: { lastError: errors.get(r.id) } })),
      );
      return {
        total: rows.length,
        migrated: rows.length - left.length,
        remaining: left.slice(0, MAX_LISTED_REMAINING).map((r) => ({
          workload: r.externalId,
          name: r.name,
          service: r.service.name,
          reason: errors.get(r.id) ?? r.lastError ?? (r.drainStatus === 'MIGRATING' ? 'still migrating at the deadline' : 'not started before the deadline'),
        })),
        remainingTruncated: left.length > MAX_LISTED_REMAINING,
      };
    },
  };
}
