import { ApplicationFailure, heartbeat, sleep } from '@temporalio/activity';
import { PodmClientError } from '../integrations/podm-client';
import { recordAudit } from '../db/audit';
import { currentRun } from './device-events';
import { podmClientFor, podmFailure, type PooledDeps } from './pooled-sync';

export type PooledAction = 'attach' | 'detach';

export interface PooledActionArgs {
  pooledId: string;
  /** The pod manager's id of the composed node. */
  nodeId: string;
  action: PooledAction;
}

export function createPooledAttachActivities({ db, secrets, podmRequestTimeoutMs }: PooledDeps) {
  async function load(pooledId: string) {
    const device = await db.pooledDevice.findUnique({ where: { id: pooledId } });
    if (!device) throw ApplicationFailure.nonRetryable(`pooled device ${pooledId} does not exist`, 'PooledDeviceNotFound');
    const { workflowExecution } = currentRun();
    if (device.lockedBy !== workflowExecution.workflowId) {
      throw ApplicationFailure.nonRetryable(`pooled device ${pooledId} is held by ${device.lockedBy ?? 'nobody'}`, 'DeviceLockLost');
    }
    const { client, podm } = await podmClientFor(db, secrets, device.podmId, podmRequestTimeoutMs);
    return { device, client, podm };
  }

  /** Where the pod manager says the resource is attached now (its truth, not our row). */
  async function truth(client: Awaited<ReturnType<typeof load>>['client'], uri: string): Promise<string | null> {
    try {
      return (await client.getResource(uri)).nodeId;
    } catch (err) {
      throw podmFailure(err, `read of ${uri}`);
    }
  }

  return {
    /**
     * Checks the request against the pod manager's truth: the node exists and advertises the
     * action; for attach the resource is free or already on this node; for detach it is on this
     * node or already free. Read-only. Answers whether there is anything to do.
     */
    async checkPooledAction(args: PooledActionArgs): Promise<{ alreadyDone: boolean; currentNodeId: string | null }> {
      const { device, client } = await load(args.pooledId);
      let node;
      try {
        node = await client.getNode(args.nodeId);
      } catch (err) {
        if (err instanceof PodmClientError && err.kind === 'not_found') {
          throw ApplicationFailure.nonRetryable(`composed node ${args.nodeId} does not exist on the pod manager`, 'NodeNotFound');
        }
        throw podmFailure(err, `read of node ${args.nodeId}`);
      }
      if (!node.actions[args.action]) {
        throw ApplicationFailure.nonRetryable(`node ${args.nodeId} advertises no ${args.action} action`, 'ActionNotAdvertised');
      }
      const current = await truth(client, device.resourceUri);
      if (args.action === 'attach') {
        if (current === args.nodeId) return { alreadyDone: true, currentNodeId: current };
        if (current) {
          throw ApplicationFailure.nonRetryable(`device is attached to node ${current}; detach it first`, 'AttachedElsewhere');
        }
        return { alreadyDone: false, currentNodeId: null };
      }
      if (current === null) return { alreadyDone: true, currentNodeId: null };
      if (current !== args.nodeId) {
        throw ApplicationFailure.nonRetryable(`device is attached to node ${current}, not ${args.nodeId}`, 'AttachedElsewhere');
      }
      return { alreadyDone: false, currentNodeId: current };
    },

    /**
     * Asks the pod manager, with the action name and target the node advertises now. Safe to
     * retry: attaching a resource to the node it is on (or detaching a free one) is a no-op there.
     */
    async callPodmAction(args: PooledActionArgs): Promise<{ action: string; status: number }> {
      const { device, client } = await load(args.pooledId);
      try {
        const result = args.action === 'attach' ? await client.attach(args.nodeId, device.resourceUri) : await client.detach(args.nodeId, device.resourceUri);
        return { action: result.action, status: result.status };
      } catch (err) {
        if (err instanceof PodmClientError && err.kind === 'conflict') {
          throw ApplicationFailure.nonRetryable(`pod manager refused to ${args.action}: ${err.message}`, 'PodManagerConflict');
        }
        throw podmFailure(err, `${args.action} on the pod manager`);
      }
    },

    /** Reads back until the pod manager shows the change (pod managers apply actions asynchronously). */
    async confirmPooledAction(args: PooledActionArgs & { timeoutMs: number }): Promise<void> {
      const { device, client } = await load(args.pooledId);
      const want = args.action === 'attach' ? args.nodeId : null;
      const deadline = Date.now() + args.timeoutMs;
      let delay = 50;
      for (;;) {
        const current = await truth(client, device.resourceUri);
        heartbeat({ current });
        if (current === want) return;
        if (Date.now() > deadline) {
          throw ApplicationFailure.nonRetryable(
            `the pod manager did not show the ${args.action} within ${args.timeoutMs} ms (resource on ${current ?? 'no node'})`,
            'NotConfirmed',
          );
        }
        await sleep(delay);
        delay = Math.min(delay * 2, 1_000);
      }
    },

    /**
     * Undoes a partial change after a failure: whatever the pod manager shows, bring it back to
     * where the device was before (detach what got attached; re-attach what got detached).
     * Returns where the device is afterwards. Idempotent: it works from the pod manager's truth.
     */
    async compensatePooledAction(args: PooledActionArgs & { previousNodeId: string | null; timeoutMs: number }): Promise<{ nodeId: string | null }> {
      const { device, client } = await load(args.pooledId);
      let current = await truth(client, device.resourceUri);
      try {
        if (current !== args.previousNodeId) {
          if (current) await client.detach(current, device.resourceUri);
          if (args.previousNodeId) await client.attach(args.previousNodeId, device.resourceUri);
        }
      } catch (err) {
        throw podmFailure(err, 'compensation');
      }
      const deadline = Date.now() + args.timeoutMs;
      while ((current = await truth(client, device.resourceUri)) !== args.previousNodeId && Date.now() < deadline) {
        heartbeat({ current });
        await sleep(100);
      }
      return { nodeId: current };
    },

    /** Records where the device is, as confirmed on the pod manager. Idempotent. */
    /**
     * Records where the device really is after an attach/detach, and (given `audit`) the
     * outcome's audit row in the same transaction, once per activity whatever its retries.
     */
    async recordPooledNode(args: {
      pooledId: string;
      nodeId: string | null;
      lastError?: string | null;
      audit?: { action: 'attach' | 'detach'; outcome: 'ok' | 'unchanged' | 'failed'; actor: string; message?: string };
    }): Promise<void> {
      const state = args.nodeId ? 'ALLOCATED' : 'FREE';
      const { workflowExecution, key } = currentRun();
      await db.$transaction(async (tx) => {
        const before = await tx.pooledDevice.findUniqueOrThrow({ where: { id: args.pooledId } });
        await tx.pooledDevice.update({ where: { id: args.pooledId }, data: { nodeId: args.nodeId, state, lastError: args.lastError ?? null } });
        if (!args.audit) return;
        await recordAudit(tx, {
          subject: { pooledId: args.pooledId },
          workflowId: workflowExecution.workflowId,
          operation: args.audit.action,
          action: args.audit.outcome === 'failed' ? `${args.audit.action}_failed` : `${args.audit.action}ed`,
          actor: args.audit.actor,
          outcome: args.audit.outcome,
          message: args.audit.message ?? (args.nodeId ? `on node ${args.nodeId}` : 'free'),
          fromState: before.state,
          toState: state,
          details: { node_id: args.nodeId, previous_node_id: before.nodeId },
          idempotencyKey: key,
        });
      });
    },

    async releasePooledDevice(args: { pooledId: string; workflowId: string }): Promise<void> {
      await db.pooledDevice.updateMany({ where: { id: args.pooledId, lockedBy: args.workflowId }, data: { lockedBy: null } });
    },
  };
}
