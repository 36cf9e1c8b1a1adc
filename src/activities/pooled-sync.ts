import { ApplicationFailure, heartbeat } from '@temporalio/activity';
import type { Db } from '../db/client';
import { recordAudit } from '../db/audit';
import { currentRun } from './device-events';
import { createPodmClient, PodmClientError, type PodmClient } from '../integrations/podm-client';
import type { SecretStore } from '../secrets';

export interface PooledDeps {
  db: Db;
  secrets: SecretStore;
  podmRequestTimeoutMs: number;
}

export interface SyncResult {
  status: 'ok' | 'refused';
  total: number;
  added: number;
  updated: number;
  vanished: number;
  unchanged: number;
  nodes: number;
  durationMs: number;
  /** Why a sync refused to apply (e.g. it would have vanished most of the inventory). */
  reason?: string;
}

/** Rows per statement: one jsonb parameter each, well inside PostgreSQL's limits. */
const CHUNK = 5_000;

export async function podmClientFor(
  db: Db,
  secrets: SecretStore,
  podmId: string,
  timeoutMs: number,
): Promise<{ podm: NonNullable<Awaited<ReturnType<Db['podManager']['findUnique']>>>; client: PodmClient }> {
  const podm = await db.podManager.findUnique({ where: { id: podmId } });
  if (!podm) throw ApplicationFailure.nonRetryable(`pod manager ${podmId} does not exist`, 'PodManagerNotFound');
  let credentials;
  if (podm.credentialsRef) {
    credentials = await secrets.resolve(podm.credentialsRef);
    if (!credentials) {
      throw ApplicationFailure.nonRetryable(`credentials reference "${podm.credentialsRef}" is not defined in the secrets store`, 'CredentialsNotFound');
    }
  }
  return { podm, client: createPodmClient({ baseUrl: podm.url, credentials, timeoutMs }) };
}

/** A pod manager failure as a Temporal failure: only an unreachable or partial read is worth retrying. */
export function podmFailure(err: unknown, what: string): unknown {
  if (err instanceof PodmClientError) {
    const message = `${what}: ${err.message}`;
    if (err.kind === 'unreachable' || err.kind === 'partial') return ApplicationFailure.retryable(message, `PodManager_${err.kind}`);
    return ApplicationFailure.nonRetryable(message, `PodManager_${err.kind}`);
  }
  return err;
}

export function createPooledSyncActivities({ db, secrets, podmRequestTimeoutMs }: PooledDeps) {
  return {
    /**
     * One sync of a pod manager: read every pooled resource (page by page, verified complete by
     * the client), upsert them in bulk, mark the ones missing from the complete read as vanished.
     * A failed, timed-out or partial read throws before anything is written. Rows changed after
     * the read began (an attach/detach recording its confirmed result) are left alone, so a sync
     * never overwrites newer truth with an older read; the next sync converges them.
     * Idempotent: running it twice on the same answer changes nothing the second time.
     */
    async syncPodManager(args: { podmId: string; maxVanishRatio: number; force?: boolean }): Promise<SyncResult> {
      const started = Date.now();
      const { podm, client } = await podmClientFor(db, secrets, args.podmId, podmRequestTimeoutMs);
      if (podm.deletedAt) throw ApplicationFailure.nonRetryable(`pod manager ${podm.name} was deleted`, 'PodManagerDeleted');
      const readStartedAt = new Date();
      let resources;
      let nodes;
      try {
        resources = (await client.listPooledResources()).resources;
        nodes = await client.listNodes();
      } catch (err) {
        throw podmFailure(err, `read of pod manager ${podm.name}`);
      }
      heartbeat({ read: resources.length });

      // Guard against Valence's failure mode: an answer that would wipe most of the inventory is
      // more likely a broken pod manager than a decommissioned pod.
      const live = await db.pooledDevice.count({ where: { podmId: podm.id, deletedAt: null } });
      const uris = resources.map((r) => r.uri);
      const wouldVanish = live === 0 ? 0 : await countMissing(db, podm.id, uris);
      if (!args.force && live > 0 && wouldVanish / live > args.maxVanishRatio) {
        const result: SyncResult = {
          status: 'refused',
          total: resources.length,
          added: 0,
          updated: 0,
          vanished: 0,
          unchanged: 0,
          nodes: nodes.length,
          durationMs: Date.now() - started,
          reason: `the pod manager listed ${resources.length} resources; applying it would vanish ${wouldVanish} of ${live} devices (more than ${Math.round(args.maxVanishRatio * 100)}%); refresh with force to apply`,
        };
        await recordSync(db, podm.id, result);
        return result;
      }

      let added = 0;
      let updated = 0;
      for (let i = 0; i < resources.length; i += CHUNK) {
        const rows = resources.slice(i, i + CHUNK).map((r) => ({
          resource_id: r.resourceId,
          resource_uri: r.uri,
          node_id: r.nodeId,
          type: r.type,
          properties: { name: r.name, status: r.state, ...r.properties },
          pooled_group_id: r.poolId,
          state: r.nodeId ? 'ALLOCATED' : 'FREE',
        }));
        const counts = await db.$queryRaw<{ added: bigint; updated: bigint }[]>`
          WITH input AS (
            SELECT * FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
              AS x(resource_id text, resource_uri text, node_id text, type text, properties jsonb, pooled_group_id text, state text)
          ), upserted AS (
            INSERT INTO pooled_devices AS d
              (id, podm_id, resource_id, resource_uri, node_id, type, properties, pooled_group_id, state, created_at, updated_at)
            SELECT gen_random_uuid(), ${podm.id}::uuid, resource_id, resource_uri, node_id, type, properties, pooled_group_id,
                   state::"PooledState", now(), now()
              FROM input
            ON CONFLICT (podm_id, resource_uri) DO UPDATE SET
              resource_id = EXCLUDED.resource_id,
              node_id = EXCLUDED.node_id,
              type = EXCLUDED.type,
              properties = EXCLUDED.properties,
              pooled_group_id = EXCLUDED.pooled_group_id,
              state = EXCLUDED.state,
              deleted_at = NULL,
              updated_at = now()
            WHERE d.updated_at < ${readStartedAt}
              AND (d.resource_id, d.node_id, d.type, d.properties, d.pooled_group_id, d.state, d.deleted_at)
                  IS DISTINCT FROM
                  (EXCLUDED.resource_id, EXCLUDED.node_id, EXCLUDED.type, EXCLUDED.properties, EXCLUDED.pooled_group_id, EXCLUDED.state, NULL::timestamp)
            RETURNING (xmax = 0) AS inserted
          )
          SELECT count(*) FILTER (WHERE inserted) AS added, count(*) FILTER (WHERE NOT inserted) AS updated FROM upserted`;
        added += Number(counts[0]?.added ?? 0);
        updated += Number(counts[0]?.updated ?? 0);
        heartbeat({ written: Math.min(i + CHUNK, resources.length) });
      }

      const vanished = await db.$executeRaw`
        UPDATE pooled_devices
           SET state = 'VANISHED', deleted_at = now(), updated_at = now()
         WHERE podm_id = ${podm.id}::uuid
           AND deleted_at IS NULL
           AND updated_at < ${readStartedAt}
           AND NOT (resource_uri = ANY(${uris}::text[]))`;

      await db.$executeRaw`
        INSERT INTO composed_nodes AS n (id, podm_id, node_id, uri, name, state, created_at, updated_at)
        SELECT gen_random_uuid(), ${podm.id}::uuid, x.id, x.uri, x.name, x.state, now(), now()
          FROM jsonb_to_recordset(${JSON.stringify(nodes.map((n) => ({ id: n.id, uri: n.uri, name: n.name, state: n.state })))}::jsonb)
            AS x(id text, uri text, name text, state text)
        ON CONFLICT (podm_id, node_id) DO UPDATE SET uri = EXCLUDED.uri, name = EXCLUDED.name, state = EXCLUDED.state,
          deleted_at = NULL, updated_at = now()
        WHERE (n.uri, n.name, n.state, n.deleted_at) IS DISTINCT FROM (EXCLUDED.uri, EXCLUDED.name, EXCLUDED.state, NULL::timestamp)`;
      await db.$executeRaw`
        UPDATE composed_nodes SET deleted_at = now(), updated_at = now()
         WHERE podm_id = ${podm.id}::uuid AND deleted_at IS NULL AND NOT (node_id = ANY(${nodes.map((n) => n.id)}::text[]))`;

      const result: SyncResult = {
        status: 'ok',
        total: resources.length,
        added,
        updated,
        vanished,
        unchanged: resources.length - added - updated,
        nodes: nodes.length,
        durationMs: Date.now() - started,
      };
      await recordSync(db, podm.id, result);
      return result;
    },

    async recordSyncFailure(args: { podmId: string; error: string }): Promise<void> {
      const { workflowExecution, key } = currentRun();
      await db.$transaction(async (tx) => {
        await tx.podManager.update({
          where: { id: args.podmId },
          data: { lastSyncAt: new Date(), lastSyncStatus: 'failed', lastSyncResult: { error: args.error } },
        });
        await recordAudit(tx, {
          subject: { podmId: args.podmId },
          workflowId: workflowExecution.workflowId,
          operation: 'podm-sync',
          action: 'sync',
          actor: 'workflow',
          outcome: 'failed',
          message: args.error,
          idempotencyKey: key,
        });
      });
    },
  };
}

async function countMissing(db: Db, podmId: string, uris: string[]): Promise<number> {
  const rows = await db.$queryRaw<{ n: bigint }[]>`
    SELECT count(*) AS n FROM pooled_devices
     WHERE podm_id = ${podmId}::uuid AND deleted_at IS NULL AND NOT (resource_uri = ANY(${uris}::text[]))`;
  return Number(rows[0]?.n ?? 0);
}

/**
 * Records a sync's result on the pod manager, and an audit row when it changed the inventory or
 * refused to (a sync that found nothing new is not an event; GET /v1/podmanagers/{id} has it).
 */
async function recordSync(db: Db, podmId: string, result: SyncResult): Promise<void> {
  const { workflowExecution, key } = currentRun();
  const changed = result.added + result.updated + result.vanished > 0;
  await db.$transaction(async (tx) => {
    await tx.podManager.update({
      where: { id: podmId },
      data: { lastSyncAt: new Date(), lastSyncStatus: result.status, lastSyncResult: { ...result } },
    });
    if (result.status === 'ok' && !changed) return;
    await recordAudit(tx, {
      subject: { podmId },
      workflowId: workflowExecution.workflowId,
      operation: 'podm-sync',
      action: 'sync',
      actor: 'workflow',
      outcome: result.status,
      message: result.status === 'ok' ? `${result.added} added, ${result.updated} updated, ${result.vanished} vanished of ${result.total}` : result.reason,
      details: { ...result },
      idempotencyKey: key,
    });
  });
}
