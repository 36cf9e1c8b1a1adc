/**
 * Simulated pod manager definitions: the zod schemas that validate what tests and operators send
 * (at creation, through PATCH, when adding resources and nodes, when moving a resource), the
 * resolved knobs the server keeps and their defaults, the attach/detach action body, and the
 * deterministic generator of pooled resources (same seed and index, same resource).
 */
import { z } from 'zod';

export const SIM_RESOURCE_TYPES = ['storage', 'nvme', 'nic', 'gpu', 'fpga'] as const;
export type SimResourceType = (typeof SIM_RESOURCE_TYPES)[number];

/** Redfish `Status.State` values a resource or node may report. */
export const REDFISH_STATES = ['Enabled', 'Disabled', 'StandbyOffline', 'StandbySpare', 'InTest', 'Starting', 'Absent', 'UnavailableOffline'] as const;
export const REDFISH_HEALTH = ['OK', 'Warning', 'Critical'] as const;
/** Intel RSD `ComposedNodeState` values. */
export const COMPOSED_NODE_STATES = ['Allocating', 'Allocated', 'Assembling', 'Assembled', 'Failed'] as const;

/** Ids end up in URL paths and `@odata.id` values: keep them URL-safe. */
export const podmIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit');
const refSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'must be 1-128 letters, digits, ".", "_" or "-", starting with a letter or digit');
export const resourceIdSchema = refSchema;
export const nodeIdSchema = refSchema;
export const poolIdSchema = refSchema;

/** At most this many resources (or nodes) in one creation or one add. */
export const MAX_RESOURCES_PER_ADD = 200_000;
export const MAX_NODES_PER_ADD = 10_000;

// ------------------------------------------------------------------- knobs
export const PARTIAL_MODES = ['dropMember', 'skipPage', 'endEarly', 'failPage'] as const;
export type PartialMode = (typeof PARTIAL_MODES)[number];

const failActionsSchema = z.strictObject({
  /**
   * beforeApply: answer 500 and change nothing. afterApply: make the change (it shows after
   * actionDelayMs, as usual), then answer 500 anyway: the caller cannot tell it happened.
   */
  mode: z.enum(['beforeApply', 'afterApply']),
  /** Which actions fail; absent: both. */
  actions: z.array(z.enum(['attach', 'detach'])).min(1).max(2).optional(),
  /** Fail only the next N matching calls (counted from the creation or PATCH that sets this); absent: every one. */
  times: z.number().int().min(1).max(1_000_000).optional(),
});
export type SimFailActions = z.output<typeof failActionsSchema>;

const knobShape = {
  /** Delay before answering every pod manager request, in milliseconds. */
  latencyMs: z.number().int().min(0).max(600_000),
  /** Chance (0..1) of answering 503 instead; 0 never, 1 always. */
  failRate: z.number().min(0).max(1),
  /** Destroy the connection without answering (connection reset). */
  down: z.boolean(),
  /** Accept the request and never answer it (until the client gives up or the simulator closes). */
  hang: z.boolean(),
  /** Answer 200 with a body that is not valid JSON. */
  malformed: z.boolean(),
  /** How the PooledResources collection lies about its contents (see README); null: it does not. */
  partial: z.enum(PARTIAL_MODES).nullable(),
  /** PooledResources answers 200, zero members and a count of 0, while resources exist (the Valence-wipe case). */
  empty: z.boolean(),
  /** How long after an accepted attach/detach the change shows in reads. */
  actionDelayMs: z.number().int().min(0).max(3_600_000),
  /** Make attach/detach answer 500, before or after applying the change; null: never. */
  failActions: failActionsSchema.nullable(),
  /** Advertise the older RSD action names `#ComposedNode.AttachEndpoint` / `DetachEndpoint`. */
  legacyActions: z.boolean(),
  /** The largest page the PooledResources and Nodes collections serve, whatever `$top` asks. */
  maxPageSize: z.number().int().min(1).max(100_000),
};

export interface SimPodmKnobs {
  latencyMs: number;
  failRate: number;
  down: boolean;
  hang: boolean;
  malformed: boolean;
  partial: PartialMode | null;
  empty: boolean;
  actionDelayMs: number;
  failActions: SimFailActions | null;
  legacyActions: boolean;
  maxPageSize: number;
}

export const DEFAULT_PODM_KNOBS: Readonly<SimPodmKnobs> = Object.freeze({
  latencyMs: 0,
  failRate: 0,
  down: false,
  hang: false,
  malformed: false,
  partial: null,
  empty: false,
  actionDelayMs: 20,
  failActions: null,
  legacyActions: false,
  maxPageSize: 1000,
});

const optionalKnobShape = {
  latencyMs: knobShape.latencyMs.optional(),
  failRate: knobShape.failRate.optional(),
  down: knobShape.down.optional(),
  hang: knobShape.hang.optional(),
  malformed: knobShape.malformed.optional(),
  partial: knobShape.partial.optional(),
  empty: knobShape.empty.optional(),
  actionDelayMs: knobShape.actionDelayMs.optional(),
  failActions: knobShape.failActions.optional(),
  legacyActions: knobShape.legacyActions.optional(),
  maxPageSize: knobShape.maxPageSize.optional(),
};

/** HTTP Basic credentials; the user name cannot hold ":" (RFC 7617). */
export const credentialsSchema = z.strictObject({
  username: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[^:\x00-\x1f]+$/, 'must not contain ":" or control characters'),
  password: z
    .string()
    .min(1)
    .max(128)
    .regex(/^[^\x00-\x1f]+$/, 'must not contain control characters'),
});
export type SimCredentials = z.output<typeof credentialsSchema>;

// --------------------------------------------------------------- resources
export const resourceSpecSchema = z.strictObject({
  /** Absent: generated as `<prefix>-<n>` (drive, nvme, nic, gpu, fpga), numbering shared with generated resources. */
  id: resourceIdSchema.optional(),
  type: z.enum(SIM_RESOURCE_TYPES),
  name: z.string().min(1).max(255).optional(),
  /** The pool (a chassis/drawer) the resource sits in; default "pool-1". */
  poolId: poolIdSchema.optional(),
  /** A node of the same pod manager it is attached to at start; absent or null: free. */
  node: nodeIdSchema.nullable().optional(),
  state: z.enum(REDFISH_STATES).optional(),
  health: z.enum(REDFISH_HEALTH).optional(),
  vendor: z.string().min(1).max(255).optional(),
  model: z.string().min(1).max(255).optional(),
  serialNumber: z.string().min(1).max(255).optional(),
  /** storage and nvme: capacity; gpu: memory. */
  capacityGiB: z.number().positive().max(1_000_000).optional(),
  /** storage: SAS, SATA...; nvme: NVMe, NVMeOverFabrics. */
  protocol: z.string().min(1).max(64).optional(),
  /** nic: link speed. */
  speedMbps: z.number().int().positive().max(10_000_000).optional(),
});
export type ResourceSpec = z.input<typeof resourceSpecSchema>;

/** A number generates that many resources (types mixed, seeded); a list describes each one. */
export const resourcesInputSchema = z.union([
  z.number().int().min(0).max(MAX_RESOURCES_PER_ADD),
  z.array(resourceSpecSchema).max(MAX_RESOURCES_PER_ADD),
]);
export type ResourcesInput = number | ResourceSpec[];

export const nodeSpecSchema = z.strictObject({
  /** Absent: generated as "1", "2"... (numbering continues across adds). */
  id: nodeIdSchema.optional(),
  name: z.string().min(1).max(255).optional(),
  state: z.enum(COMPOSED_NODE_STATES).optional(),
});
export type NodeSpec = z.input<typeof nodeSpecSchema>;

export const nodesInputSchema = z.union([
  z.number().int().min(0).max(MAX_NODES_PER_ADD),
  z.array(nodeSpecSchema).max(MAX_NODES_PER_ADD),
]);
export type NodesInput = number | NodeSpec[];

/** What `POST /_sim/podms/:id/resources` accepts. */
export const addResourcesSchema = z.strictObject({ resources: resourcesInputSchema });
/** What `POST /_sim/podms/:id/nodes` accepts. */
export const addNodesSchema = z.strictObject({ nodes: nodesInputSchema });
/** What `POST /_sim/podms/:id/resources/:rid/move` accepts: a node id, or null to free it. */
export const moveResourceSchema = z.strictObject({ node: nodeIdSchema.nullable() });

// ------------------------------------------------------------ pod managers
/** What `POST /_sim/podms` and `addPodm` accept. */
export const simPodmConfigSchema = z.strictObject({
  id: podmIdSchema,
  /** Absent: no authentication. Present: every request but the service root needs HTTP Basic. */
  credentials: credentialsSchema.optional(),
  /** Seeds the generator: the same seed gives the same resources (types, pools, serials) at the same indexes. */
  seed: z.number().int().min(0).max(0xffffffff).optional(),
  /** How many pools generated resources spread over ("pool-1".."pool-N"); default 4. */
  pools: z.number().int().min(1).max(1000).optional(),
  /** Nodes first (so resources can be attached to them at start); a number generates "1".."N". */
  nodes: nodesInputSchema.optional(),
  resources: resourcesInputSchema.optional(),
  /** Fraction (0..1) of generated resources attached to a generated-or-listed node at start (seeded); default 0. */
  attachedFraction: z.number().min(0).max(1).optional(),
  ...optionalKnobShape,
});
export type SimPodmConfig = z.input<typeof simPodmConfigSchema>;
export type ParsedSimPodmConfig = z.output<typeof simPodmConfigSchema>;

/** What `PATCH /_sim/podms/:id` and `updatePodm` accept: knobs and the credentials. */
export const simPodmPatchSchema = z.strictObject({
  ...optionalKnobShape,
  /** null removes authentication. */
  credentials: credentialsSchema.nullable().optional(),
});
export type SimPodmPatch = z.input<typeof simPodmPatchSchema>;

/** Resolved knobs of a new pod manager: defaults filled in. */
export function resolveKnobs(cfg: Partial<SimPodmKnobs>): SimPodmKnobs {
  const d = DEFAULT_PODM_KNOBS;
  return {
    latencyMs: cfg.latencyMs ?? d.latencyMs,
    failRate: cfg.failRate ?? d.failRate,
    down: cfg.down ?? d.down,
    hang: cfg.hang ?? d.hang,
    malformed: cfg.malformed ?? d.malformed,
    partial: cfg.partial ?? d.partial,
    empty: cfg.empty ?? d.empty,
    actionDelayMs: cfg.actionDelayMs ?? d.actionDelayMs,
    failActions: cfg.failActions ? structuredClone(cfg.failActions) : null,
    legacyActions: cfg.legacyActions ?? d.legacyActions,
    maxPageSize: cfg.maxPageSize ?? d.maxPageSize,
  };
}

// ------------------------------------------------------- pod manager API bodies
/**
 * `POST <attach or detach target>`: `{"Resource": {"@odata.id": "<uri>"}}`, plus `CapacityGiB`
 * (RSD 2.1) and `Protocol` (RSD 2.3) for attach. Unknown properties are refused, as a Redfish
 * service refuses them (PropertyUnknown).
 */
export const actionBodySchema = z.strictObject({
  Resource: z.object({ '@odata.id': z.string().min(1).max(2048) }),
  CapacityGiB: z.number().positive().optional(),
  Protocol: z.string().min(1).max(64).optional(),
});
export type ActionBody = z.output<typeof actionBodySchema>;

// ---------------------------------------------------------------- generator
/** A 32-bit hash of (seed, index, lane): each generated property draws from its own lane. */
export function mix(seed: number, index: number, lane: number): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  h = Math.imul(h ^ index, 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13) ^ lane, 0xc2b2ae35) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x27d4eb2f) >>> 0;
  return (h ^ (h >>> 15)) >>> 0;
}

export const ID_PREFIX: Record<SimResourceType, string> = { storage: 'drive', nvme: 'nvme', nic: 'nic', gpu: 'gpu', fpga: 'fpga' };

interface Model {
  vendor: string;
  model: string;
  serialPrefix: string;
  capacityGiB?: number;
  protocol?: string;
  mediaType?: 'SSD' | 'HDD';
  speedMbps?: number;
}

/** The catalogue generated resources are drawn from (and the defaults of described ones, first entry). */
export const MODELS: Record<SimResourceType, readonly Model[]> = {
  storage: [
    { vendor: 'Intel', model: 'SSDSC2KB960G8', serialPrefix: 'BTYF', capacityGiB: 894, protocol: 'SATA', mediaType: 'SSD' },
    { vendor: 'Seagate', model: 'ST4000NM0035', serialPrefix: 'ZC1', capacityGiB: 3726, protocol: 'SAS', mediaType: 'HDD' },
    { vendor: 'Samsung', model: 'MZ7LH1T9HMLT', serialPrefix: 'S455', capacityGiB: 1788, protocol: 'SATA', mediaType: 'SSD' },
  ],
  nvme: [
    { vendor: 'Intel', model: 'SSDPE2KX040T8', serialPrefix: 'PHLJ', capacityGiB: 3726, protocol: 'NVMe', mediaType: 'SSD' },
    { vendor: 'Samsung', model: 'MZWLL1T6HAJQ', serialPrefix: 'S3HD', capacityGiB: 1490, protocol: 'NVMe', mediaType: 'SSD' },
    { vendor: 'Micron', model: '9300 MAX', serialPrefix: 'MTFD', capacityGiB: 2980, protocol: 'NVMeOverFabrics', mediaType: 'SSD' },
  ],
  nic: [
    { vendor: 'Intel', model: 'E810-CQDA2', serialPrefix: 'E810', speedMbps: 100_000 },
    { vendor: 'Mellanox', model: 'ConnectX-5 EN', serialPrefix: 'MT17', speedMbps: 25_000 },
    { vendor: 'Broadcom', model: 'BCM57414', serialPrefix: 'BCM5', speedMbps: 25_000 },
  ],
  gpu: [
    { vendor: 'NVIDIA', model: 'Tesla V100-PCIE-32GB', serialPrefix: '0323', capacityGiB: 32 },
    { vendor: 'NVIDIA', model: 'A100-PCIE-40GB', serialPrefix: '1322', capacityGiB: 40 },
    { vendor: 'AMD', model: 'Instinct MI100', serialPrefix: 'AMI1', capacityGiB: 32 },
  ],
  fpga: [{ vendor: 'Intel', model: 'PAC Arria 10 GX', serialPrefix: 'A10G', capacityGiB: 8 }],
};

/** Generated type mix, in percent: storage 40, nvme 25, nic 20, gpu 15 (fpga only when described). */
export function generatedType(seed: number, index: number): SimResourceType {
  const roll = mix(seed, index, 0) % 100;
  if (roll < 40) return 'storage';
  if (roll < 65) return 'nvme';
  if (roll < 85) return 'nic';
  return 'gpu';
}
