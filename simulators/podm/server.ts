/**
 * Pod manager simulator: one HTTP server hosting many simulated Redfish / Intel RSD pod managers,
 * each at its own base URL `http://HOST:PORT/p/<podmId>`, plus an admin API under `/_sim/podms`
 * to add, remove and tune pod managers (fault knobs, credentials), add or vanish resources and
 * move them out of band while it runs.
 *
 * A pod manager holds pooled resources (drives, NVMe endpoints, NICs, GPUs) and composed nodes.
 * Attach/detach actions are advertised by each node with a target the client must read (it holds
 * a per-pod-manager random segment, so a hard-coded path fails). An accepted action decides at
 * once (a second attach of the same resource elsewhere gets 409 immediately) but shows in reads
 * only after `actionDelayMs`, so a client has to confirm by reading back. Every lookup is by id
 * or URI in a Map; the bulk collection serves pages from a cached array, so 10,000 resources cost
 * a few milliseconds per page.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import {
  actionBodySchema,
  addNodesSchema,
  addResourcesSchema,
  generatedType,
  ID_PREFIX,
  mix,
  MODELS,
  moveResourceSchema,
  nodeIdSchema,
  nodesInputSchema,
  resolveKnobs,
  resourcesInputSchema,
  simPodmConfigSchema,
  simPodmPatchSchema,
  type NodesInput,
  type ResourcesInput,
  type SimCredentials,
  type SimPodmConfig,
  type SimPodmKnobs,
  type SimPodmPatch,
  type SimResourceType,
} from './config';

export type { NodesInput, NodeSpec, ResourceSpec, ResourcesInput, SimPodmConfig, SimPodmKnobs, SimPodmPatch, SimResourceType } from './config';

/** A resource as the admin API shows it. */
export interface SimResourceView {
  id: string;
  type: SimResourceType;
  /** Its `@odata.id`, relative to the pod manager's base URL. */
  uri: string;
  name: string;
  poolId: string;
  state: string;
  health: string;
  vendor: string;
  model: string;
  serialNumber: string;
  capacityGiB: number | null;
  protocol: string | null;
  speedMbps: number | null;
  /** The node reads report it attached to now; null: free. */
  nodeId: string | null;
  /** Where the accepted actions leave it; differs from nodeId while a change waits out actionDelayMs. */
  targetNodeId: string | null;
}

/** A composed node as the admin API shows it. */
export interface SimNodeView {
  id: string;
  uri: string;
  name: string;
  state: string;
  /** Ids of the resources reads report attached to it now, in attach order. */
  attached: string[];
  /** The action names and targets it advertises now. */
  actions: { attach: { name: string; target: string }; detach: { name: string; target: string } };
}

export interface SimActionRecord {
  op: 'attach' | 'detach';
  nodeId: string;
  /** The resource the body named, when the pod manager knows it. */
  resourceId: string | null;
  /** The `@odata.id` the body named. */
  resourceUri: string | null;
  status: number;
  outcome: 'applied' | 'noop' | 'conflict' | 'not_found' | 'invalid' | 'failed_before_apply' | 'failed_after_apply';
  capacityGiB?: number;
  protocol?: string;
  /** ISO 8601. */
  at: string;
}

export interface SimPodmStats {
  /** Every request that reached the pod manager, whatever the knobs did with it. */
  requests: number;
  /** POSTs to a current attach / detach target (past the fault knobs and authentication). */
  attachCalls: number;
  detachCalls: number;
  /** Per resource id: attaches / detaches that changed something (idempotent repeats are not counted). */
  attachesApplied: Record<string, number>;
  detachesApplied: Record<string, number>;
  /** Actions answered 500 by `failActions` (before or after applying). */
  actionsFailed: number;
  /** Actions answered 409. */
  conflicts: number;
  /** Pages of the PooledResources collection served (200 answers). */
  pooledPages: number;
  /** GETs of one resource, of one node. */
  resourceReads: number;
  nodeReads: number;
  /** The latest actions, oldest first (at most 1,000 kept). */
  actions: SimActionRecord[];
}

/** The admin view of a pod manager: configuration and a summary, never the credentials. */
export interface SimPodmView extends SimPodmKnobs {
  id: string;
  baseUrl: string;
  uuid: string;
  /** "basic" when requests need HTTP Basic credentials, else null. */
  auth: 'basic' | null;
  seed: number;
  resources: { total: number; attached: number; byType: Record<SimResourceType, number> };
  nodes: string[];
  pools: string[];
}

export interface PodmSimulatorOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  podms?: SimPodmConfig[];
}

export interface PodmSimulator {
  /** e.g. http://127.0.0.1:7103 */
  url: string;
  port: number;
  /** Base URL of one pod manager: `${url}/p/${id}`. */
  baseUrlFor(id: string): string;
  /** Throws a ZodError on invalid configuration, an Error on a duplicate id or an unknown node reference. */
  addPodm(cfg: SimPodmConfig): void;
  /** Throws a ZodError on an invalid patch, an Error on an unknown id. */
  updatePodm(id: string, patch: SimPodmPatch): void;
  /** Cancels its pending action effects; its base URL answers 404 afterwards. */
  removePodm(id: string): void;
  getPodm(id: string): SimPodmView | undefined;
  /** Add resources (N generated ones, continuing the numbering, all free; or one per spec). */
  addResources(id: string, resources: ResourcesInput): SimResourceView[];
  /** The resource vanishes from the pod manager (and from its node's links). */
  removeResource(id: string, resourceId: string): void;
  /** Attach the resource to another node (or free it: null) out of band, at once, as another tool would. */
  moveResource(id: string, resourceId: string, nodeId: string | null): SimResourceView;
  addNodes(id: string, nodes: NodesInput): SimNodeView[];
  /** The node is decomposed: its resources become free at once. */
  removeNode(id: string, nodeId: string): void;
  /** Counters for assertions (a copy). */
  stats(id: string): SimPodmStats;
  resetStats(id: string): void;
  getResource(id: string, resourceId: string): SimResourceView | undefined;
  getNode(id: string, nodeId: string): SimNodeView | undefined;
  close(): Promise<void>;
}

// ------------------------------------------------------------------ state

class SimNotFoundError extends Error {
  constructor(
    readonly code: 'unknown_podm' | 'unknown_resource' | 'unknown_node',
    message: string,
  ) {
    super(message);
  }
}
class SimConflictError extends Error {}
class SimInvalidError extends Error {}

interface Res {
  id: string;
  type: SimResourceType;
  uri: string;
  name: string;
  poolId: string;
  state: string;
  health: string;
  vendor: string;
  model: string;
  serialNumber: string;
  capacityGiB?: number;
  protocol?: string;
  mediaType?: string;
  speedMbps?: number;
  macAddress?: string;
  /** Decided by the latest accepted action (or admin move). */
  nodeId: string | null;
  /** What reads report; catches up with nodeId after actionDelayMs. */
  visibleNodeId: string | null;
  /** Bumped by every decision; a delayed effect shows only if nothing newer has shown already. */
  version: number;
  visibleVersion: number;
}

interface Node {
  id: string;
  uri: string;
  name: string;
  state: string;
  uuid: string;
  /** Resource ids reads report attached, in attach order. */
  attached: Set<string>;
}

interface Counters {
  requests: number;
  attachCalls: number;
  detachCalls: number;
  actionsFailed: number;
  conflicts: number;
  pooledPages: number;
  resourceReads: number;
  nodeReads: number;
}

interface PodmEntry {
  id: string;
  uuid: string;
  /** A random path segment in every action target: clients must read targets, not build them. */
  salt: string;
  seed: number;
  pools: number;
  credentials?: SimCredentials;
  knobs: SimPodmKnobs;
  resources: Map<string, Res>;
  byUri: Map<string, Res>;
  /** Listing order (insertion order), rebuilt lazily after a change. */
  list: Res[] | null;
  poolCounts: Map<string, number>;
  nodes: Map<string, Node>;
  /** Last index used for a generated resource / node id. */
  resourceIndex: number;
  nodeIndex: number;
  /** Calls failed so far under the current `failActions.times`. */
  failedUnderKnob: number;
  counters: Counters;
  attachesApplied: Map<string, number>;
  detachesApplied: Map<string, number>;
  actions: SimActionRecord[];
  timers: Set<NodeJS.Timeout>;
  removed: boolean;
}

const ACTION_LOG_CAPACITY = 1000;
const GIB = 1024 ** 3;

function zeroCounters(): Counters {
  return { requests: 0, attachCalls: 0, detachCalls: 0, actionsFailed: 0, conflicts: 0, pooledPages: 0, resourceReads: 0, nodeReads: 0 };
}

/** A stable UUID-shaped string for a name (so a pod manager keeps its UUID across restarts). */
function stableUuid(name: string): string {
  const h = createHash('sha1').update(name).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const REDFISH_TYPE: Record<SimResourceType, string> = { storage: 'Storage', nvme: 'NVMe', nic: 'NIC', gpu: 'GPU', fpga: 'FPGA' };
const ODATA_TYPE: Record<SimResourceType, string> = {
  storage: '#Drive.v1_4_0.Drive',
  nvme: '#Endpoint.v1_1_0.Endpoint',
  nic: '#NetworkAdapter.v1_1_0.NetworkAdapter',
  gpu: '#PCIeDevice.v1_3_0.PCIeDevice',
  fpga: '#PCIeDevice.v1_3_0.PCIeDevice',
};
/** Which `Links` array of a composed node lists an attached resource of each type. */
const NODE_LINK: Record<SimResourceType, 'Drives' | 'Endpoints' | 'NetworkAdapters' | 'PCIeDevices'> = {
  storage: 'Drives',
  nvme: 'Endpoints',
  nic: 'NetworkAdapters',
  gpu: 'PCIeDevices',
  fpga: 'PCIeDevices',
};
const DEFAULT_NAME: Record<SimResourceType, string> = { storage: 'Drive', nvme: 'NVMe Drive', nic: 'NIC', gpu: 'GPU', fpga: 'FPGA' };

function resourceUri(type: SimResourceType, poolId: string, id: string): string {
  switch (type) {
    case 'storage':
      return `/redfish/v1/Chassis/${poolId}/Drives/${id}`;
    case 'nvme':
      return `/redfish/v1/Fabrics/PCIe/Endpoints/${id}`;
    case 'nic':
      return `/redfish/v1/Chassis/${poolId}/NetworkAdapters/${id}`;
    default:
      return `/redfish/v1/Chassis/${poolId}/PCIeDevices/${id}`;
  }
}

const nodeUri = (id: string) => `/redfish/v1/Nodes/${id}`;

function actionNames(legacy: boolean): { attach: string; detach: string } {
  return legacy
    ? { attach: 'ComposedNode.AttachEndpoint', detach: 'ComposedNode.DetachEndpoint' }
    : { attach: 'ComposedNode.AttachResource', detach: 'ComposedNode.DetachResource' };
}

function actionTargets(p: PodmEntry, nodeId: string): SimNodeView['actions'] {
  const names = actionNames(p.knobs.legacyActions);
  return {
    attach: { name: `#${names.attach}`, target: `/redfish/v1/Nodes/${nodeId}/Actions/${p.salt}/${names.attach}` },
    detach: { name: `#${names.detach}`, target: `/redfish/v1/Nodes/${nodeId}/Actions/${p.salt}/${names.detach}` },
  };
}

function resourceView(r: Res): SimResourceView {
  return {
    id: r.id,
    type: r.type,
    uri: r.uri,
    name: r.name,
    poolId: r.poolId,
    state: r.state,
    health: r.health,
    vendor: r.vendor,
    model: r.model,
    serialNumber: r.serialNumber,
    capacityGiB: r.capacityGiB ?? null,
    protocol: r.protocol ?? null,
    speedMbps: r.speedMbps ?? null,
    nodeId: r.visibleNodeId,
    targetNodeId: r.nodeId,
  };
}

// ------------------------------------------------------------- documents

const ref = (uri: string) => ({ '@odata.id': uri });

function renderResource(r: Res): Record<string, unknown> {
  const doc: Record<string, unknown> = {
    '@odata.id': r.uri,
    '@odata.type': ODATA_TYPE[r.type],
    Id: r.id,
    Name: r.name,
    Manufacturer: r.vendor,
    Model: r.model,
    SerialNumber: r.serialNumber,
    Status: { State: r.state, Health: r.health },
  };
  if (r.type === 'storage' || r.type === 'nvme') {
    if (r.capacityGiB !== undefined) doc.CapacityBytes = Math.round(r.capacityGiB * GIB);
    if (r.protocol !== undefined) doc.Protocol = r.protocol;
    if (r.mediaType !== undefined) doc.MediaType = r.mediaType;
  } else if (r.type === 'nic') {
    if (r.speedMbps !== undefined) doc.SpeedMbps = r.speedMbps;
    if (r.macAddress !== undefined) doc.MACAddress = r.macAddress;
  } else if (r.capacityGiB !== undefined) {
    doc.MemoryGiB = r.capacityGiB;
  }
  const nodes = r.visibleNodeId === null ? [] : [ref(nodeUri(r.visibleNodeId))];
  doc.Links = { Chassis: ref(`/redfish/v1/Chassis/${r.poolId}`), ComposedNodes: nodes, 'ComposedNodes@odata.count': nodes.length };
  doc.Oem = { Intel_RackScale: { '@odata.type': '#Intel.Oem.PooledResource', ResourceType: REDFISH_TYPE[r.type], PoolId: r.poolId } };
  return doc;
}

function renderNode(p: PodmEntry, n: Node): Record<string, unknown> {
  const links: Record<string, unknown> = { ComputerSystem: ref(`/redfish/v1/Systems/${n.id}`), Drives: [], Endpoints: [], NetworkAdapters: [], PCIeDevices: [] };
  for (const rid of n.attached) {
    const r = p.resources.get(rid);
    if (r) (links[NODE_LINK[r.type]] as unknown[]).push(ref(r.uri));
  }
  const targets = actionTargets(p, n.id);
  return {
    '@odata.id': n.uri,
    '@odata.type': '#ComposedNode.v1_1_0.ComposedNode',
    Id: n.id,
    Name: n.name,
    UUID: n.uuid,
    ComposedNodeState: n.state,
    PowerState: 'On',
    Status: { State: 'Enabled', Health: n.state === 'Failed' ? 'Critical' : 'OK' },
    Links: links,
    Actions: {
      [targets.attach.name]: { target: targets.attach.target },
      [targets.detach.name]: { target: targets.detach.target },
    },
  };
}

function collection(uri: string, odataType: string, name: string, members: unknown[], count = members.length, nextLink?: string) {
  const doc: Record<string, unknown> = {
    '@odata.id': uri,
    '@odata.type': odataType,
    Name: name,
    'Members@odata.count': count,
    Members: members,
  };
  if (nextLink !== undefined) doc['Members@odata.nextLink'] = nextLink;
  return doc;
}

// ------------------------------------------------------------------ helpers

/**
 * Issues with their full paths. A "count or list" union that fails inside the list reports one
 * opaque invalid_union; the branch that was the right type tells what is actually wrong.
 */
function flattenIssues(issues: readonly z.core.$ZodIssue[], prefix: PropertyKey[] = []): Array<{ path: string; message: string }> {
  const out: Array<{ path: string; message: string }> = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'invalid_union') {
      const plausible = issue.errors.filter((branch) => !branch.some((i) => i.code === 'invalid_type' && i.path.length === 0));
      if (plausible.length === 1) {
        out.push(...flattenIssues(plausible[0]!, path));
        continue;
      }
    }
    out.push({ path: path.map(String).join('.'), message: issue.message });
  }
  return out;
}

function validationError(res: Response, error: z.ZodError): void {
  const issues = flattenIssues(error.issues);
  res.status(400).json({
    error: {
      code: 'validation_error',
      message: issues.map((i) => `${i.path || '(body)'}: ${i.message}`).join('; '),
      issues,
    },
  });
}

function errorBody(res: Response, status: number, code: string, message: string): void {
  res.status(status).json({ error: { code, message } });
}

/** A Redfish error answer: `error.code` and one `@Message.ExtendedInfo` entry carry the Base registry MessageId. */
function redfishError(res: Response, status: number, messageId: string, message: string, resolution = 'None.'): void {
  const id = `Base.1.8.${messageId}`;
  res.status(status).json({
    error: {
      code: id,
      message,
      '@Message.ExtendedInfo': [
        { '@odata.type': '#Message.v1_0_0.Message', MessageId: id, Message: message, Severity: status >= 500 ? 'Critical' : 'Warning', Resolution: resolution },
      ],
    },
  });
}

function sameSecret(expected: string, given: string): boolean {
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(given, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Whether an `Authorization: Basic ...` header carries exactly these credentials. */
function basicMatches(creds: SimCredentials, header: string | undefined): boolean {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!m) return false;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return false;
  // Both compared, always: no early exit revealing which one differed.
  const userOk = sameSecret(creds.username, decoded.slice(0, colon));
  const passOk = sameSecret(creds.password, decoded.slice(colon + 1));
  return userOk && passOk;
}

/** A non-negative integer query parameter ($skip, $top); undefined when absent, NaN when malformed. */
function queryInt(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^\d{1,9}$/.test(value)) return NaN;
  return Number(value);
}

/** Paths the service root lives at: readable without credentials, as Redfish requires. */
const UNAUTHENTICATED = new Set(['/redfish', '/redfish/', '/redfish/v1', '/redfish/v1/']);

const ACTION_PATH = /^\/redfish\/v1\/Nodes\/([^/]+)\/Actions\/([^/]+)\/ComposedNode\.(AttachResource|DetachResource|AttachEndpoint|DetachEndpoint)$/;

// ------------------------------------------------------------------ server

export async function startPodmSimulator(opts: PodmSimulatorOptions = {}): Promise<PodmSimulator> {
  const host = opts.host ?? '127.0.0.1';
  const podms = new Map<string, PodmEntry>();
  /** Latency timers of pending requests. Action effect timers live on their pod manager. */
  const requestTimers = new Set<NodeJS.Timeout>();
  let url = '';

  const baseUrlFor = (id: string) => `${url}/p/${encodeURIComponent(id)}`;

  const mustGet = (id: string): PodmEntry => {
    const p = podms.get(id);
    if (!p) throw new SimNotFoundError('unknown_podm', `no simulated pod manager "${id}"`);
    return p;
  };
  const mustGetResource = (p: PodmEntry, rid: string): Res => {
    const r = p.resources.get(rid);
    if (!r) throw new SimNotFoundError('unknown_resource', `pod manager "${p.id}" has no resource "${rid}"`);
    return r;
  };
  const mustGetNode = (p: PodmEntry, nid: string): Node => {
    const n = p.nodes.get(nid);
    if (!n) throw new SimNotFoundError('unknown_node', `pod manager "${p.id}" has no node "${nid}"`);
    return n;
  };

  // ---------------------------------------------------------- operations

  const listOf = (p: PodmEntry): Res[] => (p.list ??= [...p.resources.values()]);

  /** Make reads report the resource on `nodeId` (or free). */
  const showAttachment = (p: PodmEntry, r: Res, nodeId: string | null): void => {
    if (r.visibleNodeId !== null) p.nodes.get(r.visibleNodeId)?.attached.delete(r.id);
    const node = nodeId === null ? undefined : p.nodes.get(nodeId);
    if (node) node.attached.add(r.id);
    r.visibleNodeId = node ? node.id : null;
  };

  /** Decide where the resource is now; reads show it after `delayMs` unless something newer shows first. */
  const decideAttachment = (p: PodmEntry, r: Res, nodeId: string | null, delayMs: number): void => {
    r.nodeId = nodeId;
    const version = ++r.version;
    const show = () => {
      if (p.removed || p.resources.get(r.id) !== r || version <= r.visibleVersion) return;
      r.visibleVersion = version;
      showAttachment(p, r, nodeId);
    };
    if (delayMs <= 0) return show();
    const timer = setTimeout(() => {
      p.timers.delete(timer);
      show();
    }, delayMs);
    p.timers.add(timer);
  };

  const planNodes = (p: PodmEntry, input: NodesInput, taken: Set<string>): Node[] => {
    const specs = typeof input === 'number' ? Array.from({ length: input }, () => ({}) as { id?: string; name?: string; state?: string }) : input;
    let next = p.nodeIndex;
    const out: Node[] = [];
    for (const spec of specs) {
      let id = spec.id;
      if (id === undefined) {
        do id = String(++next);
        while (p.nodes.has(id) || taken.has(id));
      } else if (p.nodes.has(id) || taken.has(id)) {
        throw new SimConflictError(`node "${id}" already exists on pod manager "${p.id}"`);
      }
      taken.add(id);
      out.push({
        id,
        uri: nodeUri(id),
        name: spec.name ?? `Composed Node ${id}`,
        state: spec.state ?? 'Assembled',
        uuid: stableUuid(`${p.id}/node/${id}`),
        attached: new Set(),
      });
    }
    p.nodeIndex = next;
    return out;
  };

  /**
   * Build resources without touching the pod manager, so a bad list changes nothing. Generated
   * resource n (1-based, numbering shared with described ones that take no id) depends only on
   * the seed and n: same seed, same resources.
   */
  const planResources = (
    p: PodmEntry,
    input: ResourcesInput,
    nodeIds: readonly string[],
    attachedFraction: number,
  ): Array<{ res: Res; node: string | null }> => {
    const taken = new Set<string>();
    const out: Array<{ res: Res; node: string | null }> = [];
    const free = (id: string) => !p.resources.has(id) && !taken.has(id);
    const knownNode = (id: string) => p.nodes.has(id) || nodeIds.includes(id);
    let next = p.resourceIndex;
    const seed = p.seed;

    if (typeof input === 'number') {
      for (let made = 0; made < input; ) {
        const index = ++next;
        const type = generatedType(seed, index);
        const id = `${ID_PREFIX[type]}-${index}`;
        if (!free(id)) continue;
        const models = MODELS[type];
        const m = models[mix(seed, index, 1) % models.length]!;
        const poolId = `pool-${1 + (mix(seed, index, 2) % p.pools)}`;
        const serial = mix(seed, index, 3).toString(16).toUpperCase().padStart(8, '0');
        const res: Res = {
          id,
          type,
          uri: resourceUri(type, poolId, id),
          name: `${DEFAULT_NAME[type]} ${index}`,
          poolId,
          state: 'Enabled',
          health: 'OK',
          vendor: m.vendor,
          model: m.model,
          serialNumber: `${m.serialPrefix}${serial}`,
          nodeId: null,
          visibleNodeId: null,
          version: 0,
          visibleVersion: 0,
        };
        if (m.capacityGiB !== undefined) res.capacityGiB = m.capacityGiB;
        if (m.protocol !== undefined) res.protocol = m.protocol;
        if (m.mediaType !== undefined) res.mediaType = m.mediaType;
        if (m.speedMbps !== undefined) res.speedMbps = m.speedMbps;
        if (type === 'nic') {
          const h = mix(seed, index, 6);
          res.macAddress = `02:${[(index >>> 8) & 0xff, index & 0xff, h >>> 24, (h >>> 16) & 0xff, (h >>> 8) & 0xff]
            .map((b) => b.toString(16).padStart(2, '0'))
            .join(':')}`;
        }
        let node: string | null = null;
        if (attachedFraction > 0 && nodeIds.length > 0 && mix(seed, index, 4) / 0x1_0000_0000 < attachedFraction) {
          node = nodeIds[mix(seed, index, 5) % nodeIds.length]!;
        }
        taken.add(id);
        out.push({ res, node });
        made++;
      }
    } else {
      for (const spec of input) {
        let id = spec.id;
        if (id === undefined) {
          do id = `${ID_PREFIX[spec.type]}-${++next}`;
          while (!free(id));
        } else if (!free(id)) {
          throw new SimConflictError(`resource "${id}" already exists on pod manager "${p.id}"`);
        }
        if (spec.node != null && !knownNode(spec.node)) {
          throw new SimInvalidError(`resource "${id}" names node "${spec.node}", which pod manager "${p.id}" does not have`);
        }
        const m = MODELS[spec.type][0]!;
        const poolId = spec.poolId ?? 'pool-1';
        const capacity = spec.capacityGiB ?? m.capacityGiB;
        const protocol = spec.protocol ?? m.protocol;
        const speed = spec.speedMbps ?? m.speedMbps;
        const res: Res = {
          id,
          type: spec.type,
          uri: resourceUri(spec.type, poolId, id),
          name: spec.name ?? id,
          poolId,
          state: spec.state ?? 'Enabled',
          health: spec.health ?? 'OK',
          vendor: spec.vendor ?? m.vendor,
          model: spec.model ?? m.model,
          serialNumber: spec.serialNumber ?? `${m.serialPrefix}-${id}`,
          nodeId: null,
          visibleNodeId: null,
          version: 0,
          visibleVersion: 0,
        };
        if (capacity !== undefined) res.capacityGiB = capacity;
        if (protocol !== undefined) res.protocol = protocol;
        if (m.mediaType !== undefined) res.mediaType = m.mediaType;
        if (speed !== undefined) res.speedMbps = speed;
        taken.add(id);
        out.push({ res, node: spec.node ?? null });
      }
    }
    p.resourceIndex = next;
    return out;
  };

  const commitResources = (p: PodmEntry, planned: Array<{ res: Res; node: string | null }>): void => {
    for (const { res, node } of planned) {
      p.resources.set(res.id, res);
      p.byUri.set(res.uri, res);
      p.poolCounts.set(res.poolId, (p.poolCounts.get(res.poolId) ?? 0) + 1);
      if (node !== null) {
        res.nodeId = node;
        showAttachment(p, res, node);
      }
    }
    if (planned.length > 0) p.list = null;
  };

  const addPodm = (input: unknown): PodmEntry => {
    const cfg = simPodmConfigSchema.parse(input);
    if (podms.has(cfg.id)) throw new SimConflictError(`simulated pod manager "${cfg.id}" already exists`);
    const seed = cfg.seed ?? 1;
    const p: PodmEntry = {
      id: cfg.id,
      uuid: stableUuid(`podm/${cfg.id}/${seed}`),
      salt: createHash('sha1').update(`${cfg.id}/${Math.random()}/${Date.now()}`).digest('hex').slice(0, 10),
      seed,
      pools: cfg.pools ?? 4,
      ...(cfg.credentials ? { credentials: { ...cfg.credentials } } : {}),
      knobs: resolveKnobs(cfg),
      resources: new Map(),
      byUri: new Map(),
      list: null,
      poolCounts: new Map(),
      nodes: new Map(),
      resourceIndex: 0,
      nodeIndex: 0,
      failedUnderKnob: 0,
      counters: zeroCounters(),
      attachesApplied: new Map(),
      detachesApplied: new Map(),
      actions: [],
      timers: new Set(),
      removed: false,
    };
    const nodes = planNodes(p, cfg.nodes ?? 0, new Set());
    for (const n of nodes) p.nodes.set(n.id, n);
    commitResources(p, planResources(p, cfg.resources ?? 0, nodes.map((n) => n.id), cfg.attachedFraction ?? 0));
    podms.set(p.id, p);
    return p;
  };

  const updatePodm = (id: string, input: unknown): PodmEntry => {
    const p = mustGet(id);
    const patch = simPodmPatchSchema.parse(input);
    const { credentials, failActions, ...scalars } = patch;
    for (const [k, v] of Object.entries(scalars)) {
      if (v !== undefined) (p.knobs as unknown as Record<string, unknown>)[k] = v;
    }
    if (failActions !== undefined) {
      p.knobs.failActions = failActions === null ? null : structuredClone(failActions);
      // "Fail the next N" counts from the moment it is set.
      p.failedUnderKnob = 0;
    }
    if (credentials === null) delete p.credentials;
    else if (credentials !== undefined) p.credentials = { ...credentials };
    return p;
  };

  const removePodm = (id: string): void => {
    const p = mustGet(id);
    for (const t of p.timers) clearTimeout(t);
    p.timers.clear();
    p.removed = true;
    podms.delete(id);
  };

  const addResources = (id: string, input: unknown): SimResourceView[] => {
    const p = mustGet(id);
    const planned = planResources(p, resourcesInputSchema.parse(input), [], 0);
    commitResources(p, planned);
    return planned.map(({ res }) => resourceView(res));
  };

  const removeResource = (id: string, rid: string): void => {
    const p = mustGet(id);
    const r = mustGetResource(p, rid);
    showAttachment(p, r, null);
    p.resources.delete(rid);
    p.byUri.delete(r.uri);
    const left = (p.poolCounts.get(r.poolId) ?? 1) - 1;
    if (left > 0) p.poolCounts.set(r.poolId, left);
    else p.poolCounts.delete(r.poolId);
    p.list = null;
  };

  const moveResource = (id: string, rid: string, nodeId: unknown): SimResourceView => {
    const p = mustGet(id);
    const target = moveResourceSchema.shape.node.parse(nodeId);
    const r = mustGetResource(p, rid);
    if (target !== null) mustGetNode(p, target);
    decideAttachment(p, r, target, 0);
    return resourceView(r);
  };

  const addNodes = (id: string, input: unknown): SimNodeView[] => {
    const p = mustGet(id);
    const nodes = planNodes(p, nodesInputSchema.parse(input), new Set());
    for (const n of nodes) p.nodes.set(n.id, n);
    return nodes.map((n) => nodeView(p, n));
  };

  const removeNode = (id: string, nid: string): void => {
    const p = mustGet(id);
    mustGetNode(p, nid);
    for (const r of p.resources.values()) {
      if (r.nodeId === nid || r.visibleNodeId === nid) decideAttachment(p, r, null, 0);
    }
    p.nodes.delete(nid);
  };

  const nodeView = (p: PodmEntry, n: Node): SimNodeView => ({
    id: n.id,
    uri: n.uri,
    name: n.name,
    state: n.state,
    attached: [...n.attached],
    actions: actionTargets(p, n.id),
  });

  const statsOf = (p: PodmEntry): SimPodmStats => ({
    ...p.counters,
    attachesApplied: Object.fromEntries(p.attachesApplied),
    detachesApplied: Object.fromEntries(p.detachesApplied),
    actions: p.actions.map((a) => ({ ...a })),
  });

  const resetStats = (p: PodmEntry): void => {
    p.counters = zeroCounters();
    p.attachesApplied.clear();
    p.detachesApplied.clear();
    p.actions = [];
  };

  const view = (p: PodmEntry): SimPodmView => {
    const byType: Record<SimResourceType, number> = { storage: 0, nvme: 0, nic: 0, gpu: 0, fpga: 0 };
    let attached = 0;
    for (const r of p.resources.values()) {
      byType[r.type]++;
      if (r.visibleNodeId !== null) attached++;
    }
    return {
      id: p.id,
      baseUrl: baseUrlFor(p.id),
      uuid: p.uuid,
      auth: p.credentials ? 'basic' : null,
      seed: p.seed,
      ...structuredClone(p.knobs),
      resources: { total: p.resources.size, attached, byType },
      nodes: [...p.nodes.keys()],
      pools: [...p.poolCounts.keys()].sort(),
    };
  };

  for (const cfg of opts.podms ?? []) addPodm(cfg);

  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');

  // ------------------------------------------------------------------ admin API
  const admin = express.Router();
  admin.use(express.json({ limit: '50mb' }));

  /** Map what the operations throw to answers. */
  const adminFailure = (res: Response, err: unknown): void => {
    if (err instanceof z.ZodError) return validationError(res, err);
    if (err instanceof SimNotFoundError) return errorBody(res, 404, err.code, err.message);
    if (err instanceof SimConflictError) return errorBody(res, 409, 'conflict', err.message);
    if (err instanceof SimInvalidError) return errorBody(res, 400, 'invalid_reference', err.message);
    throw err;
  };
  /** Run an operation, answering its failure. */
  const attempt = (res: Response, op: () => void): void => {
    try {
      op();
    } catch (err) {
      adminFailure(res, err);
    }
  };

  admin.get('/podms', (_req, res) => {
    res.json({ podms: [...podms.values()].map(view) });
  });
  admin.post('/podms', (req, res) => attempt(res, () => res.status(201).json(view(addPodm(req.body)))));
  admin.get('/podms/:id', (req, res) => attempt(res, () => res.json(view(mustGet(req.params.id)))));
  admin.patch('/podms/:id', (req, res) => attempt(res, () => res.json(view(updatePodm(req.params.id, req.body)))));
  admin.delete('/podms/:id', (req, res) =>
    attempt(res, () => {
      removePodm(req.params.id);
      res.status(204).end();
    }),
  );
  admin.post('/podms/:id/resources', (req, res) =>
    attempt(res, () => {
      mustGet(req.params.id);
      const body = addResourcesSchema.parse(req.body);
      res.status(201).json({ added: addResources(req.params.id, body.resources) });
    }),
  );
  admin.get('/podms/:id/resources/:rid', (req, res) =>
    attempt(res, () => res.json(resourceView(mustGetResource(mustGet(req.params.id), req.params.rid)))),
  );
  admin.delete('/podms/:id/resources/:rid', (req, res) =>
    attempt(res, () => {
      removeResource(req.params.id, req.params.rid);
      res.status(204).end();
    }),
  );
  admin.post('/podms/:id/resources/:rid/move', (req, res) =>
    attempt(res, () => {
      mustGetResource(mustGet(req.params.id), req.params.rid);
      const body = moveResourceSchema.parse(req.body);
      res.json(moveResource(req.params.id, req.params.rid, body.node));
    }),
  );
  admin.post('/podms/:id/nodes', (req, res) =>
    attempt(res, () => {
      mustGet(req.params.id);
      const body = addNodesSchema.parse(req.body);
      res.status(201).json({ added: addNodes(req.params.id, body.nodes) });
    }),
  );
  admin.get('/podms/:id/nodes/:nid', (req, res) =>
    attempt(res, () => {
      const p = mustGet(req.params.id);
      res.json(nodeView(p, mustGetNode(p, req.params.nid)));
    }),
  );
  admin.delete('/podms/:id/nodes/:nid', (req, res) =>
    attempt(res, () => {
      removeNode(req.params.id, req.params.nid);
      res.status(204).end();
    }),
  );
  admin.get('/podms/:id/stats', (req, res) => attempt(res, () => res.json(statsOf(mustGet(req.params.id)))));
  admin.delete('/podms/:id/stats', (req, res) =>
    attempt(res, () => {
      resetStats(mustGet(req.params.id));
      res.status(204).end();
    }),
  );

  app.use('/_sim', admin);

  // ------------------------------------------------------------- pod manager API
  /** Find the pod manager, count the request, apply the fault knobs, then authenticate. */
  const front = (req: Request<{ podmId: string }>, res: Response, next: NextFunction): void => {
    const id = req.params.podmId;
    const p = podms.get(id);
    if (!p) return redfishError(res, 404, 'ResourceMissingAtURI', `no simulated pod manager "${id}"`);
    p.counters.requests++;
    // Knobs are read once, on arrival, so a request is not half-affected by a concurrent PATCH.
    const knobs = p.knobs;
    res.locals.podm = p;
    res.set('OData-Version', '4.0');

    if (knobs.down) {
      req.socket.destroy();
      return;
    }
    // Accepted and never answered: the client's timeout (or close()) ends it.
    if (knobs.hang) return;
    const answer = () => {
      if (knobs.failRate > 0 && Math.random() < knobs.failRate) {
        res.set('Retry-After', '1');
        return redfishError(res, 503, 'ServiceTemporarilyUnavailable', 'the pod manager is temporarily unavailable', 'Retry later.');
      }
      if (knobs.malformed) {
        res.status(200).type('application/json').send('{"@odata.id": "/redfish/v1/", "Members": [');
        return;
      }
      if (p.credentials && !UNAUTHENTICATED.has(req.path) && !basicMatches(p.credentials, req.get('authorization'))) {
        res.set('WWW-Authenticate', `Basic realm="${p.id}"`);
        const given = req.get('authorization') !== undefined;
        return redfishError(res, 401, 'NoValidSession', given ? 'the credentials are not valid for this pod manager' : 'this pod manager requires HTTP Basic credentials');
      }
      next();
    };
    if (knobs.latencyMs <= 0) return answer();
    const timer = setTimeout(() => {
      requestTimers.delete(timer);
      if (res.destroyed) return;
      if (p.removed) return redfishError(res, 404, 'ResourceMissingAtURI', `no simulated pod manager "${id}"`);
      answer();
    }, knobs.latencyMs);
    requestTimers.add(timer);
    // A client that gave up (timeout, abort) needs no answer.
    res.on('close', () => {
      clearTimeout(timer);
      requestTimers.delete(timer);
    });
  };

  const api = express.Router({ mergeParams: true });
  api.use(express.json({ limit: '1mb' }));
  const podmOf = (res: Response): PodmEntry => res.locals.podm as PodmEntry;

  /** The `$skip` / `$top` of a paged collection, or undefined after answering 400. */
  const paging = (req: Request, res: Response, max: number): { skip: number; top: number } | undefined => {
    const skip = queryInt(req.query.$skip) ?? 0;
    const top = queryInt(req.query.$top) ?? max;
    if (Number.isNaN(skip) || Number.isNaN(top) || top < 1) {
      redfishError(res, 400, 'QueryParameterValueFormatError', '$skip must be a non-negative integer and $top a positive integer');
      return undefined;
    }
    return { skip, top: Math.min(top, max) };
  };

  const pooledResources = (req: Request, res: Response): void => {
    const p = podmOf(res);
    const page = paging(req, res, p.knobs.maxPageSize);
    if (!page) return;
    const uri = '/redfish/v1/PooledResources';
    const type = '#PooledResourceCollection.PooledResourceCollection';
    const { partial, empty } = p.knobs;
    if (empty) {
      p.counters.pooledPages++;
      return void res.json(collection(uri, type, 'Pooled Resources', []));
    }
    if (partial === 'failPage' && page.skip > 0) {
      return redfishError(res, 503, 'ServiceTemporarilyUnavailable', 'the pod manager is temporarily unavailable', 'Retry later.');
    }
    const all = listOf(p);
    const slice = all.slice(page.skip, page.skip + page.top);
    if (partial === 'dropMember' && slice.length > 0) slice.pop();
    let nextSkip: number | undefined = page.skip + page.top < all.length ? page.skip + page.top : undefined;
    if (partial === 'endEarly') nextSkip = undefined;
    if (partial === 'skipPage' && page.skip === 0 && nextSkip !== undefined) {
      nextSkip = page.top * 2 < all.length ? page.top * 2 : undefined;
    }
    p.counters.pooledPages++;
    const next = nextSkip === undefined ? undefined : `${uri}?$skip=${nextSkip}&$top=${page.top}`;
    res.json(collection(uri, type, 'Pooled Resources', slice.map(renderResource), all.length, next));
  };

  const nodesCollection = (req: Request, res: Response): void => {
    const p = podmOf(res);
    const page = paging(req, res, p.knobs.maxPageSize);
    if (!page) return;
    const expandParam = req.query.$expand;
    // `$expand=.` / `*` / `~` with or without `($levels=1)`: members inline.
    const expand = typeof expandParam === 'string' && /^[.*~]/.test(expandParam);
    const all = [...p.nodes.values()];
    const slice = all.slice(page.skip, page.skip + page.top);
    const more = page.skip + page.top < all.length;
    const uri = '/redfish/v1/Nodes';
    const next = more
      ? `${uri}?$skip=${page.skip + page.top}&$top=${page.top}${expand ? `&$expand=${encodeURIComponent(expandParam)}` : ''}`
      : undefined;
    const members = slice.map((n) => (expand ? renderNode(p, n) : ref(n.uri)));
    res.json(collection(uri, '#ComposedNodeCollection.ComposedNodeCollection', 'Composed Nodes Collection', members, all.length, next));
  };

  /** GET of anything but the two paged collections and the actions; `count` false for a mere existence check. */
  const readDocument = (p: PodmEntry, path: string, count = true): Record<string, unknown> | undefined => {
    if (path === '/redfish' || path === '/redfish/') return { v1: '/redfish/v1/' };
    if (path === '/redfish/v1' || path === '/redfish/v1/') {
      return {
        '@odata.id': '/redfish/v1/',
        '@odata.type': '#ServiceRoot.v1_1_0.ServiceRoot',
        Id: 'RootService',
        Name: `Pod Manager ${p.id}`,
        RedfishVersion: '1.1.0',
        UUID: p.uuid,
        Chassis: ref('/redfish/v1/Chassis'),
        Systems: ref('/redfish/v1/Systems'),
        Nodes: ref('/redfish/v1/Nodes'),
        Fabrics: ref('/redfish/v1/Fabrics'),
        Oem: {
          Intel_RackScale: {
            '@odata.type': '#Intel.Oem.ServiceRoot',
            ApiVersion: '2.3.0',
            PooledResources: ref('/redfish/v1/PooledResources'),
          },
        },
      };
    }
    if (!path.startsWith('/redfish/v1/')) return undefined;
    const r = p.byUri.get(path);
    if (r) {
      if (count) p.counters.resourceReads++;
      return renderResource(r);
    }
    const seg = path.split('/').slice(3);
    const [top, a, b, c] = seg;
    if (top === 'Nodes' && a !== undefined && b === undefined) {
      const n = p.nodes.get(a);
      if (!n) return undefined;
      if (count) p.counters.nodeReads++;
      return renderNode(p, n);
    }
    if (top === 'Systems') {
      if (a === undefined) {
        return collection('/redfish/v1/Systems', '#ComputerSystemCollection.ComputerSystemCollection', 'Computer Systems', [...p.nodes.keys()].map((id) => ref(`/redfish/v1/Systems/${id}`)));
      }
      const n = b === undefined ? p.nodes.get(a) : undefined;
      if (!n) return undefined;
      return {
        '@odata.id': `/redfish/v1/Systems/${n.id}`,
        '@odata.type': '#ComputerSystem.v1_3_0.ComputerSystem',
        Id: n.id,
        Name: `System of ${n.name}`,
        SystemType: 'Physical',
        PowerState: 'On',
        Status: { State: 'Enabled', Health: 'OK' },
      };
    }
    if (top === 'Chassis') {
      if (a === undefined) {
        return collection('/redfish/v1/Chassis', '#ChassisCollection.ChassisCollection', 'Chassis', [...p.poolCounts.keys()].sort().map((id) => ref(`/redfish/v1/Chassis/${id}`)));
      }
      if (!p.poolCounts.has(a)) return undefined;
      const base = `/redfish/v1/Chassis/${a}`;
      if (b === undefined) {
        return {
          '@odata.id': base,
          '@odata.type': '#Chassis.v1_5_0.Chassis',
          Id: a,
          Name: `Pool ${a}`,
          ChassisType: 'Drawer',
          Drives: ref(`${base}/Drives`),
          NetworkAdapters: ref(`${base}/NetworkAdapters`),
          PCIeDevices: ref(`${base}/PCIeDevices`),
          Oem: { Intel_RackScale: { '@odata.type': '#Intel.Oem.Chassis', PoolId: a } },
        };
      }
      const types: Record<string, SimResourceType[]> = { Drives: ['storage'], NetworkAdapters: ['nic'], PCIeDevices: ['gpu', 'fpga'] };
      const wanted = types[b];
      if (!wanted || c !== undefined) return undefined;
      const members = listOf(p)
        .filter((r) => r.poolId === a && wanted.includes(r.type))
        .map((r) => ref(r.uri));
      return collection(`${base}/${b}`, `#${b.replace(/s$/, '')}Collection.${b.replace(/s$/, '')}Collection`, b, members);
    }
    if (top === 'Fabrics') {
      if (a === undefined) return collection('/redfish/v1/Fabrics', '#FabricCollection.FabricCollection', 'Fabrics', [ref('/redfish/v1/Fabrics/PCIe')]);
      if (a !== 'PCIe') return undefined;
      if (b === undefined) {
        return { '@odata.id': '/redfish/v1/Fabrics/PCIe', '@odata.type': '#Fabric.v1_0_0.Fabric', Id: 'PCIe', Name: 'PCIe Fabric', FabricType: 'PCIe', Endpoints: ref('/redfish/v1/Fabrics/PCIe/Endpoints') };
      }
      if (b === 'Endpoints' && c === undefined) {
        const members = listOf(p)
          .filter((r) => r.type === 'nvme')
          .map((r) => ref(r.uri));
        return collection('/redfish/v1/Fabrics/PCIe/Endpoints', '#EndpointCollection.EndpointCollection', 'PCIe Endpoints', members);
      }
    }
    return undefined;
  };

  const logAction = (p: PodmEntry, rec: Omit<SimActionRecord, 'at'>): void => {
    p.actions.push({ ...rec, at: new Date().toISOString() });
    if (p.actions.length > ACTION_LOG_CAPACITY) p.actions.splice(0, p.actions.length - ACTION_LOG_CAPACITY);
  };

  /** The resource a body's `@odata.id` names: relative to the base URL, or absolute under it. */
  const resourceNamed = (p: PodmEntry, odataId: string): Res | undefined => {
    let path = odataId;
    const base = baseUrlFor(p.id);
    if (path.startsWith(`${base}/`)) path = path.slice(base.length);
    return p.byUri.get(path.length > 1 ? path.replace(/\/+$/, '') : path);
  };

  const runAction = (req: Request, res: Response, nodeId: string, op: 'attach' | 'detach'): void => {
    const p = podmOf(res);
    if (op === 'attach') p.counters.attachCalls++;
    else p.counters.detachCalls++;
    const node = p.nodes.get(nodeId);
    const base = { op, nodeId, resourceId: null, resourceUri: null } as const;
    if (!node) {
      logAction(p, { ...base, status: 404, outcome: 'not_found' });
      return redfishError(res, 404, 'ResourceMissingAtURI', `no composed node "${nodeId}"`);
    }
    const body = actionBodySchema.safeParse(req.body);
    if (!body.success) {
      logAction(p, { ...base, status: 400, outcome: 'invalid' });
      const issue = body.error.issues[0];
      const where = issue && issue.path.length ? issue.path.join('.') : 'the request body';
      return redfishError(res, 400, 'PropertyValueFormatError', `${where}: ${issue?.message ?? 'invalid'}; expected {"Resource": {"@odata.id": "<uri>"}}`);
    }
    const { Resource, CapacityGiB, Protocol } = body.data;
    const uri = Resource['@odata.id'];
    const extra = { ...(CapacityGiB !== undefined ? { capacityGiB: CapacityGiB } : {}), ...(Protocol !== undefined ? { protocol: Protocol } : {}) };
    const r = resourceNamed(p, uri);
    if (!r) {
      logAction(p, { ...base, resourceUri: uri, status: 404, outcome: 'not_found', ...extra });
      return redfishError(res, 404, 'ResourceNotFound', `no pooled resource at "${uri}"`);
    }
    const rec = { op, nodeId, resourceId: r.id, resourceUri: uri, ...extra };
    const fail = p.knobs.failActions;
    const failing = fail !== null && (fail.actions ?? ['attach', 'detach']).includes(op) && (fail.times === undefined || p.failedUnderKnob < fail.times);
    const failNow = () => {
      p.failedUnderKnob++;
      p.counters.actionsFailed++;
      redfishError(res, 500, 'InternalError', `the ${op} of "${r.id}" failed inside the pod manager`, 'Read the resource back before retrying.');
    };
    if (failing && fail.mode === 'beforeApply') {
      logAction(p, { ...rec, status: 500, outcome: 'failed_before_apply' });
      return failNow();
    }
    const elsewhere = r.nodeId !== null && r.nodeId !== nodeId;
    if (elsewhere) {
      p.counters.conflicts++;
      logAction(p, { ...rec, status: 409, outcome: 'conflict' });
      const verb = op === 'attach' ? 'attached' : 'detached from this node';
      return redfishError(res, 409, 'ResourceInUse', `resource "${r.id}" is attached to node "${r.nodeId}" and cannot be ${verb}`, 'Detach it from that node first.');
    }
    const changes = op === 'attach' ? r.nodeId === null : r.nodeId === nodeId;
    if (changes) {
      decideAttachment(p, r, op === 'attach' ? nodeId : null, p.knobs.actionDelayMs);
      const applied = op === 'attach' ? p.attachesApplied : p.detachesApplied;
      applied.set(r.id, (applied.get(r.id) ?? 0) + 1);
    }
    if (failing) {
      logAction(p, { ...rec, status: 500, outcome: 'failed_after_apply' });
      return failNow();
    }
    logAction(p, { ...rec, status: 204, outcome: changes ? 'applied' : 'noop' });
    res.status(204).end();
  };

  api.use((req: Request, res: Response) => {
    const p = podmOf(res);
    let path: string;
    try {
      path = decodeURIComponent(req.path);
    } catch {
      return redfishError(res, 400, 'QueryParameterValueFormatError', 'the path is not valid percent-encoding');
    }
    if (path.length > 1 && path.endsWith('/') && path !== '/redfish/v1/' && path !== '/redfish/') path = path.replace(/\/+$/, '');

    if (req.method === 'POST') {
      const m = ACTION_PATH.exec(path);
      const legacy = p.knobs.legacyActions;
      // Only the targets this pod manager advertises now: its salt, its generation of names.
      if (m && m[2] === p.salt && /Endpoint$/.test(m[3]!) === legacy) {
        return runAction(req, res, m[1]!, m[3]!.startsWith('Attach') ? 'attach' : 'detach');
      }
      if (readDocument(p, path, false) || path === '/redfish/v1/PooledResources' || path === '/redfish/v1/Nodes') {
        return redfishError(res, 405, 'OperationNotAllowed', `${req.method} is not allowed on ${path}`);
      }
      return redfishError(res, 404, 'ResourceMissingAtURI', `nothing at ${path}`);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return redfishError(res, 405, 'OperationNotAllowed', `${req.method} is not allowed on ${path}`);
    }
    if (path === '/redfish/v1/PooledResources') return pooledResources(req, res);
    if (path === '/redfish/v1/Nodes') return nodesCollection(req, res);
    const doc = readDocument(p, path);
    if (!doc) return redfishError(res, 404, 'ResourceMissingAtURI', `nothing at ${path}`);
    res.json(doc);
  });

  api.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const e = err as { type?: string; status?: number; message?: string };
    if (e.type === 'entity.parse.failed') return redfishError(res, 400, 'MalformedJSON', 'the request body is not valid JSON');
    if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) return redfishError(res, e.status, 'GeneralError', e.message ?? 'bad request');
    redfishError(res, 500, 'InternalError', e.message ?? 'internal error');
  });

  app.use('/p/:podmId', front, api);

  app.use((_req: Request, res: Response) => {
    errorBody(res, 404, 'not_found', 'pod managers live under /p/<id>, the admin API under /_sim/podms');
  });

  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const e = err as { type?: string; status?: number; message?: string };
    if (e.type === 'entity.parse.failed') return errorBody(res, 400, 'invalid_json', 'request body is not valid JSON');
    if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
      return errorBody(res, e.status, 'bad_request', e.message ?? 'bad request');
    }
    errorBody(res, 500, 'internal', e.message ?? 'internal error');
  });

  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(opts.port ?? 0, host);
    s.once('listening', () => resolve(s));
    s.once('error', reject);
  });
  const port = (server.address() as AddressInfo).port;
  url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= new Promise<void>((resolve, reject) => {
      for (const t of requestTimers) clearTimeout(t);
      requestTimers.clear();
      for (const p of podms.values()) {
        for (const t of p.timers) clearTimeout(t);
        p.timers.clear();
      }
      server.close((err) => (err ? reject(err) : resolve()));
      // Delayed and hanging requests and idle keep-alive connections would otherwise hold close() open.
      server.closeAllConnections();
    });
    return closing;
  };

  return {
    url,
    port,
    baseUrlFor,
    addPodm: (cfg) => void addPodm(cfg),
    updatePodm: (id, patch) => void updatePodm(id, patch),
    removePodm,
    getPodm: (id) => {
      const p = podms.get(id);
      return p ? view(p) : undefined;
    },
    addResources: (id, resources) => addResources(id, resources),
    removeResource,
    moveResource: (id, rid, nodeId) => moveResource(id, rid, nodeId),
    addNodes: (id, nodes) => addNodes(id, nodes),
    removeNode,
    stats: (id) => statsOf(mustGet(id)),
    resetStats: (id) => resetStats(mustGet(id)),
    getResource: (id, rid) => {
      const r = mustGet(id).resources.get(rid);
      return r ? resourceView(r) : undefined;
    },
    getNode: (id, nid) => {
      const p = mustGet(id);
      const n = p.nodes.get(nid);
      return n ? nodeView(p, n) : undefined;
    },
    close,
  };
}
