import type { Db } from './client';
import type { Prisma } from '../generated/prisma/client';

/** What an audit row is about: a device, a pod manager or a pooled device. */
export type AuditSubject = { deviceId: string } | { podmId: string } | { pooledId: string };

export interface AuditEntry {
  subject: AuditSubject;
  workflowId?: string | null;
  /** The operation type: onboard, maintenance, podm-sync, attach, detach, podmanager. */
  operation: string;
  action: string;
  /** Who: the API caller's actor name, or "workflow" for what a run decided by itself. */
  actor: string;
  outcome: string;
  message?: string;
  details?: Prisma.InputJsonValue;
  fromState?: string | null;
  toState?: string | null;
  /** Set by activities (their id within the run), so a retried activity writes its row once. */
  idempotencyKey?: string;
}

type Writer = Pick<Db, 'operationEvent'> | Prisma.TransactionClient;

/**
 * Writes one audit row (GET /v1/devices|podmanagers|pooled/{id}/events reads them). With an
 * idempotency key, a second write of the same key is skipped, not an error.
 */
export async function recordAudit(db: Writer, e: AuditEntry): Promise<void> {
  await db.operationEvent.createMany({
    data: [
      {
        ...e.subject,
        workflowId: e.workflowId ?? null,
        operation: e.operation,
        action: e.action,
        actor: e.actor,
        outcome: e.outcome,
        message: e.message,
        details: e.details,
        fromState: e.fromState ?? null,
        toState: e.toState ?? null,
        idempotencyKey: e.idempotencyKey,
      },
    ],
    skipDuplicates: true,
  });
}

/** The audit rows of one subject, oldest first, as the API shows them. */
export async function auditTrail(db: Db, subject: AuditSubject, take = 1000) {
  const rows = await db.operationEvent.findMany({ where: subject, orderBy: { id: 'asc' }, take });
  return rows.map(({ idempotencyKey: _key, ...e }) => ({ ...e, id: e.id.toString() }));
}
