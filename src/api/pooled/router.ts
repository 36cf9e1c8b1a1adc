import { WorkflowNotFoundError, WorkflowUpdateFailedError, type WorkflowExecutionDescription } from '@temporalio/client';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow';
import { Router } from 'express';
import { auditTrail, recordAudit } from '../../db/audit';
import { conflict, DomainError, invalid, notFound } from '../../domain/errors';
import { workflowIds } from '../../domain/operations';
import { Prisma, type ComposedNode, type PodManager, type PooledDevice } from '../../generated/prisma/client';
import { createPodmClient, PodmClientError } from '../../integrations/podm-client';
import { podmSyncProgressQuery, refreshUpdate } from '../../workflows/definitions';
import type { PodmSyncInput } from '../../workflows/podm-sync';
import type { PooledActionInput } from '../../workflows/pooled-action';
import type { ApiDeps } from '../deps';
import { lockIsStale, operationInProgress, startOperation, temporalUnavailable } from '../operations/temporal';
import { parse } from '../validate';
import { createPodmBody, idParam, listPooledQuery, nodeActionBody, refreshBody } from './schema';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DEFAULT_SYNC_INTERVAL_MS = 10 * 60_000;

function presentPodm(p: PodManager) {
  return {
    id: p.id,
    name: p.name,
    url: p.url,
    credentialsRef: p.credentialsRef,
    syncIntervalMs: p.syncIntervalMs,
    lastSync: p.lastSyncAt ? { at: p.lastSyncAt, status: p.lastSyncStatus, result: p.lastSyncResult } : null,
    sync: { workflowId: workflowIds.podmSync(p.name), href: `/v1/operations/${workflowIds.podmSync(p.name)}` },
    createdAt: p.createdAt,
    deletedAt: p.deletedAt,
  };
}

/** Valence's devices row shape, plus the pod manager's resource URI. */
export function presentPooled(d: PooledDevice) {
  return {
    uuid: d.id,
    podm_id: d.podmId,
    node_id: d.nodeId,
    type: d.type,
    properties: d.properties,
    pooled_group_id: d.pooledGroupId,
    state: d.state,
    extra: d.extra,
    resource_id: d.resourceId,
    resource_uri: d.resourceUri,
    current_operation: d.lockedBy,
    last_error: d.lastError,
    created_at: d.createdAt,
    updated_at: d.updatedAt,
    deleted_at: d.deletedAt,
  };
}

async function findPodm(deps: ApiDeps, id: string): Promise<PodManager> {
  const podm = await deps.db.podManager.findUnique({ where: UUID.test(id) ? { id } : { name: id } });
  if (!podm) throw notFound('podmanager', id);
  return podm;
}

async function startSync(deps: ApiDeps, podm: PodManager, undo: () => Promise<void>): Promise<{ workflowId: string; runId: string }> {
  const workflowId = workflowIds.podmSync(podm.name);
  const input: PodmSyncInput = { podmId: podm.id, podmName: podm.name, timings: { ...deps.podmSyncTimings, intervalMs: podm.syncIntervalMs } };
  const runId = await startOperation(deps, {
    workflowType: 'podmSync',
    workflowId,
    input,
    target: { id: podm.id, name: podm.name },
    operation: 'podm-sync',
    summary: `Sync pooled devices of pod manager ${podm.name} every ${Math.round(podm.syncIntervalMs / 1000)} s`,
    undo,
  });
  return { workflowId, runId };
}

export function podManagersRouter(deps: ApiDeps): Router {
  const router = Router();

  router.post('/', async (req, res) => {
    const body = parse(createPodmBody, req, 'body');
    const existing = await deps.db.podManager.findMany({ where: { OR: [{ name: body.name }, { url: body.url }] } });
    const revivable = existing.length === 1 && existing[0]!.name === body.name && existing[0]!.deletedAt ? existing[0] : undefined;
    if (existing.length && !revivable) {
      const other = existing[0]!;
      throw conflict('podmanager_exists', `a pod manager with this ${other.name === body.name ? 'name' : 'URL'} already exists: ${other.name}`, { id: other.id });
    }
    // It must answer before we start syncing it.
    let credentials;
    if (body.credentialsRef) {
      credentials = await deps.secrets?.resolve(body.credentialsRef);
      if (!credentials) throw invalid('credentials_not_found', `credentials reference "${body.credentialsRef}" is not defined`, { field: 'credentialsRef' });
    }
    try {
      await createPodmClient({ baseUrl: body.url, credentials, timeoutMs: deps.podmRequestTimeoutMs ?? 10_000 }).serviceRoot();
    } catch (err) {
      const kind = err instanceof PodmClientError ? err.kind : 'unreachable';
      throw new DomainError(422, `podmanager_${kind}`, `the pod manager did not answer as a Redfish service: ${(err as Error).message}`, { field: 'url' });
    }
    const data = { name: body.name, url: body.url, credentialsRef: body.credentialsRef ?? null, syncIntervalMs: body.syncInterval ?? DEFAULT_SYNC_INTERVAL_MS };
    let podm: PodManager;
    try {
      podm = revivable
        ? await deps.db.podManager.update({ where: { id: revivable.id }, data: { ...data, deletedAt: null, lastSyncAt: null, lastSyncStatus: null, lastSyncResult: Prisma.DbNull } })
        : await deps.db.podManager.create({ data });
    } catch (err) {
      if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002') throw conflict('podmanager_exists', 'a pod manager with this name or URL was just registered');
      throw err;
    }
    const operation = await startSync(deps, podm, async () => {
      if (revivable) await deps.db.podManager.update({ where: { id: podm.id }, data: { deletedAt: new Date() } });
      else await deps.db.podManager.delete({ where: { id: podm.id } });
    });
    await recordAudit(deps.db, {
      subject: { podmId: podm.id },
      workflowId: operation.workflowId,
      operation: 'podmanager',
      action: revivable ? 're-registered' : 'registered',
      actor: res.locals.actor,
      outcome: 'ok',
      message: `pod manager ${podm.name} at ${podm.url}, synced every ${Math.round(podm.syncIntervalMs / 1000)} s`,
      details: { runId: operation.runId },
    });
    res.status(201).location(`/v1/podmanagers/${podm.id}`).json({ podmanager: presentPodm(podm), operation });
  });

  router.get('/', async (_req, res) => {
    const items = await deps.db.podManager.findMany({ where: { deletedAt: null }, orderBy: { name: 'asc' } });
    res.json({ items: items.map(presentPodm) });
  });

  router.get('/:id', async (req, res) => {
    const podm = await findPodm(deps, parse(idParam, req, 'params').id);
    let live = null;
    if (!podm.deletedAt) {
      live = await deps.temporal
        .withDeadline(Date.now() + 5_000, () => deps.temporal.workflow.getHandle(workflowIds.podmSync(podm.name)).query(podmSyncProgressQuery))
        .catch(() => null);
    }
    const devices = await deps.db.pooledDevice.groupBy({ by: ['state'], where: { podmId: podm.id }, _count: true });
    res.json({ ...presentPodm(podm), syncProgress: live, devices: Object.fromEntries(devices.map((d) => [d.state, d._count])) });
  });

  router.get('/:id/events', async (req, res) => {
    const podm = await findPodm(deps, parse(idParam, req, 'params').id);
    res.json({ items: await auditTrail(deps.db, { podmId: podm.id }) });
  });

  router.delete('/:id', async (req, res) => {
    const podm = await findPodm(deps, parse(idParam, req, 'params').id);
    if (podm.deletedAt) throw conflict('podmanager_deleted', `pod manager ${podm.name} was already deleted`);
    try {
      await deps.temporal.workflow.getHandle(workflowIds.podmSync(podm.name)).cancel();
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw temporalUnavailable(err);
    }
    // Marked, never deleted: the inventory keeps what this pod manager had.
    const [, marked] = await deps.db.$transaction([
      deps.db.podManager.update({ where: { id: podm.id }, data: { deletedAt: new Date() } }),
      deps.db.pooledDevice.updateMany({
        where: { podmId: podm.id, deletedAt: null },
        data: { state: 'VANISHED', deletedAt: new Date(), extra: { vanishedBecause: 'pod manager deleted' } },
      }),
      deps.db.composedNode.updateMany({ where: { podmId: podm.id, deletedAt: null }, data: { deletedAt: new Date() } }),
    ]);
    await recordAudit(deps.db, {
      subject: { podmId: podm.id },
      workflowId: workflowIds.podmSync(podm.name),
      operation: 'podmanager',
      action: 'deleted',
      actor: res.locals.actor,
      outcome: 'ok',
      message: `sync stopped; ${marked.count} devices marked VANISHED`,
      details: { devicesMarked: marked.count },
    });
    res.json({ id: podm.id, deleted: true, syncStopped: true, devicesMarked: marked.count });
  });

  router.post('/:id/refresh', async (req, res) => {
    const podm = await findPodm(deps, parse(idParam, req, 'params').id);
    const body = parse(refreshBody, req, 'body');
    if (podm.deletedAt) throw conflict('podmanager_deleted', `pod manager ${podm.name} was deleted`);
    const workflowId = workflowIds.podmSync(podm.name);
    const handle = deps.temporal.workflow.getHandle(workflowId);
    const audit = (outcome: string, message?: string) =>
      recordAudit(deps.db, { subject: { podmId: podm.id }, workflowId, operation: 'podm-sync', action: body.force ? 'refresh_forced' : 'refresh', actor: res.locals.actor, outcome, message });
    let result;
    try {
      result = await handle.executeUpdate(refreshUpdate, { args: [{ force: body.force, requestedBy: res.locals.actor }] });
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw conflict('sync_not_running', `the sync of ${podm.name} is not running`);
      if (err instanceof WorkflowUpdateFailedError) {
        await audit('refused', err.cause?.message ?? err.message);
        throw conflict('refresh_refused', err.cause?.message ?? err.message);
      }
      throw temporalUnavailable(err);
    }
    await audit(result.status, result.status === 'ok' ? `${result.added} added, ${result.updated} updated, ${result.vanished} vanished` : (result.error ?? result.reason));
    res.status(result.status === 'failed' ? 502 : 200).json({ podmanager: podm.name, result });
  });

  return router;
}

export function pooledRouter(deps: ApiDeps): Router {
  const router = Router();
  router.get('/', async (req, res) => {
    const q = parse(listPooledQuery, req, 'query');
    const where: Prisma.PooledDeviceWhereInput = {
      type: q.type,
      state: q.state,
      podmId: q.podm_id,
      nodeId: q.node_id,
      pooledGroupId: q.pooled_group_id,
      ...(q.state === undefined ? { deletedAt: null } : {}),
    };
    const [items, total] = await Promise.all([
      deps.db.pooledDevice.findMany({ where, orderBy: [{ podmId: 'asc' }, { resourceUri: 'asc' }], take: q.limit, skip: q.offset }),
      deps.db.pooledDevice.count({ where }),
    ]);
    res.json({ items: items.map(presentPooled), total, limit: q.limit, offset: q.offset });
  });
  router.get('/:id', async (req, res) => {
    const { id } = parse(idParam, req, 'params');
    if (!UUID.test(id)) throw notFound('pooled_device', id);
    const device = await deps.db.pooledDevice.findUnique({ where: { id } });
    if (!device) throw notFound('pooled_device', id);
    res.json(presentPooled(device));
  });
  router.get('/:id/events', async (req, res) => {
    const { id } = parse(idParam, req, 'params');
    if (!UUID.test(id) || !(await deps.db.pooledDevice.findUnique({ where: { id } }))) throw notFound('pooled_device', id);
    res.json({ items: await auditTrail(deps.db, { pooledId: id }) });
  });
  return router;
}

async function findNode(deps: ApiDeps, id: string): Promise<ComposedNode> {
  if (UUID.test(id)) {
    const node = await deps.db.composedNode.findUnique({ where: { id } });
    if (node && !node.deletedAt) return node;
  }
  const byPodmId = await deps.db.composedNode.findMany({ where: { nodeId: id, deletedAt: null } });
  if (byPodmId.length > 1) throw invalid('ambiguous_node', `node id ${id} exists on several pod managers; use the node's uuid`);
  if (byPodmId.length === 0) throw notFound('node', id);
  return byPodmId[0]!;
}

/** Valence-compatible: POST /v1/nodes/{id}/action with {"attach"|"detach": {"device_id"|"resource_id": ...}}. */
export function nodesRouter(deps: ApiDeps): Router {
  const router = Router();
  router.get('/', async (_req, res) => {
    const nodes = await deps.db.composedNode.findMany({ where: { deletedAt: null }, orderBy: [{ podmId: 'asc' }, { nodeId: 'asc' }] });
    res.json({ items: nodes.map((n) => ({ id: n.id, node_id: n.nodeId, podm_id: n.podmId, name: n.name, state: n.state, uri: n.uri })) });
  });

  router.post('/:id/action', async (req, res) => {
    const { id } = parse(idParam, req, 'params');
    const body = parse(nodeActionBody, req, 'body');
    const action = 'attach' in body ? 'attach' : 'detach';
    const target = 'attach' in body ? body.attach : body.detach;
    const node = await findNode(deps, id);
    const ref = (target.device_id ?? target.resource_id)!;
    const device = UUID.test(ref)
      ? await deps.db.pooledDevice.findUnique({ where: { id: ref } })
      : await deps.db.pooledDevice.findFirst({ where: { podmId: node.podmId, resourceId: ref, deletedAt: null } });
    if (!device) throw notFound('pooled_device', ref);
    const { workflowId, runId } = await startPooledAction(deps, device, node, action, res.locals.actor, ref);
    res.status(202).json({ operation: { workflowId, runId, type: action, href: `/v1/operations/${workflowId}` }, device_id: device.id, node_id: node.nodeId });
  });
  return router;
}

/**
 * Starts an attach or detach of a pooled device on a node (the node action, and a retry of a
 * failed one): checks the device and node still allow it, takes the device's lock, starts the
 * run, writes the audit row.
 */
export async function startPooledAction(
  deps: ApiDeps,
  device: PooledDevice,
  node: ComposedNode,
  action: 'attach' | 'detach',
  actor: string,
  ref: string = device.id,
): Promise<{ workflowId: string; runId: string }> {
  if (device.podmId !== node.podmId) throw invalid('different_podmanager', `device ${ref} and node ${node.nodeId} belong to different pod managers`);
  if (device.deletedAt) throw conflict('device_vanished', `device ${ref} vanished from its pod manager`);
  if (node.deletedAt) throw conflict('node_vanished', `node ${node.nodeId} vanished from its pod manager`);
  if (action === 'attach' && device.nodeId && device.nodeId !== node.nodeId) {
    throw conflict('attached_elsewhere', `device ${ref} is attached to node ${device.nodeId}; detach it first`, { node_id: device.nodeId });
  }
  if (action === 'detach' && device.nodeId && device.nodeId !== node.nodeId) {
    throw conflict('attached_elsewhere', `device ${ref} is attached to node ${device.nodeId}, not ${node.nodeId}`, { node_id: device.nodeId });
  }
  const workflowId = workflowIds.pooled(action, device.id);
  // One attach/detach per device at a time: compare-and-swap on its lock.
  for (let tries = 0; ; tries++) {
    const claimed = await deps.db.pooledDevice.updateMany({ where: { id: device.id, lockedBy: null, deletedAt: null }, data: { lockedBy: workflowId } });
    if (claimed.count === 1) break;
    const current = await deps.db.pooledDevice.findUniqueOrThrow({ where: { id: device.id } });
    // (A pooled row has no lock timestamp; its updated_at moves when the lock is taken.)
    if (current.lockedBy && !(await lockIsStale(deps.temporal, current.lockedBy, current.updatedAt))) {
      throw operationInProgress(device.resourceId, current.lockedBy);
    }
    if (tries > 1) throw conflict('device_busy', `device ${ref} kept changing; try again`);
    await deps.db.pooledDevice.updateMany({ where: { id: device.id, lockedBy: current.lockedBy }, data: { lockedBy: null } });
  }
  const input: PooledActionInput = { pooledId: device.id, podmId: device.podmId, nodeId: node.nodeId, action, requestedBy: actor, timings: deps.pooledActionTimings };
  const runId = await startOperation(deps, {
    workflowType: 'pooledAction',
    workflowId,
    input,
    target: { id: device.id, name: device.resourceId },
    operation: action,
    summary: `${action === 'attach' ? 'Attach' : 'Detach'} ${device.type} ${device.resourceId} ${action === 'attach' ? 'to' : 'from'} node ${node.nodeId}`,
    undo: async () => {
      await deps.db.pooledDevice.updateMany({ where: { id: device.id, lockedBy: workflowId }, data: { lockedBy: null } });
    },
  });
  await recordAudit(deps.db, {
    subject: { pooledId: device.id },
    workflowId,
    operation: action,
    action: `${action}_requested`,
    actor,
    outcome: 'accepted',
    message: `${action} ${device.resourceId} ${action === 'attach' ? 'to' : 'from'} node ${node.nodeId}`,
    details: { runId, node_id: node.nodeId, node_uuid: node.id },
    toState: device.state,
  });
  return { workflowId, runId };
}

/**
 * Retry of an attach/detach run: one that failed, was cancelled or timed out is started again
 * with the same device and node (read from the run's own input); a running one is 409, and so
 * is one that completed (there is nothing to retry).
 */
export async function retryPooledAction(deps: ApiDeps, workflowId: string, description: WorkflowExecutionDescription, actor: string) {
  const status = description.status.name;
  if (status === 'RUNNING') throw conflict('operation_running', `operation ${workflowId} is still running`, { workflowId });
  if (status === 'COMPLETED') throw conflict('operation_completed', `operation ${workflowId} completed; there is nothing to retry`, { workflowId });
  let input: PooledActionInput;
  try {
    const history = await deps.temporal.workflow.getHandle(workflowId, description.runId).fetchHistory();
    const payloads = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads;
    input = await decodeFromPayloadsAtIndex<PooledActionInput>(deps.temporal.workflow.options.loadedDataConverter, 0, payloads);
  } catch (err) {
    throw temporalUnavailable(err);
  }
  const device = await deps.db.pooledDevice.findUnique({ where: { id: input.pooledId } });
  if (!device) throw notFound('pooled_device', input.pooledId);
  const node = await deps.db.composedNode.findUnique({ where: { podmId_nodeId: { podmId: input.podmId, nodeId: input.nodeId } } });
  if (!node) throw notFound('node', input.nodeId);
  const started = await startPooledAction(deps, device, node, input.action, actor);
  return { ...started, type: input.action, href: `/v1/operations/${started.workflowId}` };
}
