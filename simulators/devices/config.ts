/**
 * Simulated device definitions: the zod schemas that validate what tests and operators send
 * (at creation and through PATCH), the resolved shapes the server keeps, and their defaults.
 */
import { z } from 'zod';

export const SIM_DEVICE_KINDS = ['redfish', 'hypervisor-cluster', 'storage-array'] as const;
export type SimDeviceKind = (typeof SIM_DEVICE_KINDS)[number];

const deviceIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be 1-64 letters, digits, ".", "_" or "-"');
const resourceIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be a URL-safe identifier');
const text = z.string().min(1).max(256);
const count = z.number().int().min(0).max(1_000_000);
const gib = z.number().min(0).max(1e9);
const bytes = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const simCredentialsSchema = z.strictObject({
  username: z.string().min(1).max(128),
  password: z.string().min(1).max(256),
});
export type SimCredentials = z.output<typeof simCredentialsSchema>;

/** Fault and timing knobs shared by every kind. */
const knobShape = {
  /** Delay before answering, in milliseconds. */
  latencyMs: z.number().int().min(0).max(600_000),
  /** Chance (0..1) of answering 503 instead; 0 never, 1 always. */
  failRate: z.number().min(0).max(1),
  /** Destroy the connection without answering (connection reset). */
  down: z.boolean(),
  /** Accept the request and never answer. */
  hang: z.boolean(),
  /** Answer 200 with a body that is not valid JSON. */
  malformed: z.boolean(),
};
export interface SimKnobs {
  latencyMs: number;
  failRate: number;
  down: boolean;
  hang: boolean;
  malformed: boolean;
}
const optionalKnobShape = {
  latencyMs: knobShape.latencyMs.optional(),
  failRate: knobShape.failRate.optional(),
  down: knobShape.down.optional(),
  hang: knobShape.hang.optional(),
  malformed: knobShape.malformed.optional(),
};

// ---------------------------------------------------------------- redfish facts
const redfishSystemSchema = z.strictObject({
  id: resourceIdSchema,
  manufacturer: text,
  model: text,
  serialNumber: text,
  powerState: z.enum(['On', 'Off', 'PoweringOn', 'PoweringOff', 'Paused']),
  state: z.enum(['Enabled', 'Disabled', 'StandbyOffline', 'InTest', 'Starting', 'Absent', 'UnavailableOffline']),
  health: z.enum(['OK', 'Warning', 'Critical']),
  processorCount: count,
  processorModel: text,
  memoryGiB: gib,
});
const redfishChassisSchema = z.strictObject({
  id: resourceIdSchema,
  chassisType: text,
  manufacturer: text,
  model: text,
  serialNumber: text,
});
export type RedfishSystemFacts = z.output<typeof redfishSystemSchema>;
export type RedfishChassisFacts = z.output<typeof redfishChassisSchema>;
export interface RedfishFacts {
  redfishVersion: string;
  uuid: string;
  bmcFirmwareVersion: string;
  systems: RedfishSystemFacts[];
  chassis: RedfishChassisFacts[];
}
const redfishFactsInputSchema = z.strictObject({
  redfishVersion: z.string().regex(/^\d+\.\d+\.\d+$/, 'must look like 1.15.0').optional(),
  uuid: text.optional(),
  bmcFirmwareVersion: text.optional(),
  /** Replaces the list; each item is merged over the current item at the same index (or a default). */
  systems: z.array(redfishSystemSchema.partial()).max(64).optional(),
  chassis: z.array(redfishChassisSchema.partial()).max(64).optional(),
});
export type RedfishFactsInput = z.input<typeof redfishFactsInputSchema>;

// ------------------------------------------------------ hypervisor cluster facts
const hypervisorHostSchema = z.strictObject({
  name: text,
  cpus: count,
  memoryGiB: gib,
  state: z.enum(['up', 'down', 'maintenance']),
});
export type HypervisorHostFacts = z.output<typeof hypervisorHostSchema>;
export interface HypervisorClusterFacts {
  name: string;
  version: string;
  hypervisor: string;
  hosts: HypervisorHostFacts[];
}
const hypervisorFactsInputSchema = z.strictObject({
  name: text.optional(),
  version: text.optional(),
  hypervisor: text.optional(),
  hosts: z.array(hypervisorHostSchema.partial()).max(1024).optional(),
});
export type HypervisorClusterFactsInput = z.input<typeof hypervisorFactsInputSchema>;

// ----------------------------------------------------------- storage array facts
const storagePoolSchema = z.strictObject({
  name: text,
  sizeBytes: bytes,
  usedBytes: bytes,
});
export type StoragePoolFacts = z.output<typeof storagePoolSchema>;
export interface StorageArrayFacts {
  name: string;
  model: string;
  serial: string;
  firmware: string;
  capacityBytes: number;
  usedBytes: number;
  pools: StoragePoolFacts[];
}
const storageFactsInputSchema = z.strictObject({
  name: text.optional(),
  model: text.optional(),
  serial: text.optional(),
  firmware: text.optional(),
  capacityBytes: bytes.optional(),
  usedBytes: bytes.optional(),
  pools: z.array(storagePoolSchema.partial()).max(256).optional(),
});
export type StorageArrayFactsInput = z.input<typeof storageFactsInputSchema>;

// ------------------------------------------------------------- device configs
const commonConfigShape = {
  id: deviceIdSchema,
  ...optionalKnobShape,
  /** Absent: the device demands no authentication. */
  credentials: simCredentialsSchema.optional(),
};

/** What `POST /_sim/devices` and `addDevice` accept. */
export const simDeviceConfigSchema = z.discriminatedUnion('kind', [
  z.strictObject({ ...commonConfigShape, kind: z.literal('redfish'), facts: redfishFactsInputSchema.optional() }),
  z.strictObject({
    ...commonConfigShape,
    kind: z.literal('hypervisor-cluster'),
    facts: hypervisorFactsInputSchema.optional(),
  }),
  z.strictObject({ ...commonConfigShape, kind: z.literal('storage-array'), facts: storageFactsInputSchema.optional() }),
]);
export type SimDeviceConfig = z.input<typeof simDeviceConfigSchema>;

const factsInputSchemaByKind = {
  redfish: redfishFactsInputSchema,
  'hypervisor-cluster': hypervisorFactsInputSchema,
  'storage-array': storageFactsInputSchema,
} as const;

/** What `PATCH /_sim/devices/:id` and `updateDevice` accept; facts are checked against the device's kind. */
export function simDevicePatchSchema(kind: SimDeviceKind) {
  return z.strictObject({
    ...optionalKnobShape,
    /** null removes authentication. */
    credentials: simCredentialsSchema.nullable().optional(),
    facts: factsInputSchemaByKind[kind].optional(),
  });
}
export interface SimDevicePatch extends Partial<SimKnobs> {
  credentials?: SimCredentials | null;
  facts?: RedfishFactsInput | HypervisorClusterFactsInput | StorageArrayFactsInput;
}

interface SimDeviceCommon extends SimKnobs {
  id: string;
  credentials?: SimCredentials;
}
export type SimDevice =
  | (SimDeviceCommon & { kind: 'redfish'; facts: RedfishFacts })
  | (SimDeviceCommon & { kind: 'hypervisor-cluster'; facts: HypervisorClusterFacts })
  | (SimDeviceCommon & { kind: 'storage-array'; facts: StorageArrayFacts });

// ------------------------------------------------------------------ defaults
const TIB = 1024 ** 4;

function defaultRedfishSystem(deviceId: string, index: number): RedfishSystemFacts {
  return {
    id: String(index + 1),
    manufacturer: 'Contoso',
    model: 'CX-2200 Rack Server',
    serialNumber: `CX2200-${deviceId.toUpperCase()}-${index + 1}`,
    powerState: 'On',
    state: 'Enabled',
    health: 'OK',
    processorCount: 2,
    processorModel: 'Contoso Xenith 6430 32-Core',
    memoryGiB: 512,
  };
}

function defaultRedfishChassis(deviceId: string, index: number): RedfishChassisFacts {
  return {
    id: String(index + 1),
    chassisType: 'RackMount',
    manufacturer: 'Contoso',
    model: 'CX-2200 2U Chassis',
    serialNumber: `CH2200-${deviceId.toUpperCase()}-${index + 1}`,
  };
}

function defaultHost(index: number): HypervisorHostFacts {
  return { name: `node-${index + 1}`, cpus: 64, memoryGiB: 512, state: 'up' };
}

function defaultPool(index: number): StoragePoolFacts {
  return { name: `pool-${String.fromCharCode(97 + (index % 26))}`, sizeBytes: 25 * TIB, usedBytes: 10 * TIB };
}

/** A deterministic, UUID-shaped identifier derived from the device id (so restarts keep it). */
function stableUuid(deviceId: string): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (let i = 0; i < deviceId.length; i++) {
    h1 = Math.imul(h1 ^ deviceId.charCodeAt(i), 0x01000193) >>> 0;
    h2 = Math.imul(h2 + deviceId.charCodeAt(i), 0x5bd1e995) >>> 0;
  }
  const hex = (h1.toString(16).padStart(8, '0') + h2.toString(16).padStart(8, '0')).repeat(2);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** Merge a list patch item by item over the current list (or defaults), keeping the patch's length. */
function mergeList<T>(current: T[], patch: Partial<T>[] | undefined, makeDefault: (index: number) => T): T[] {
  if (patch === undefined) return current;
  return patch.map((item, i) => ({ ...(current[i] ?? makeDefault(i)), ...dropUndefined(item) }));
}

function dropUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function mergeRedfishFacts(deviceId: string, current: RedfishFacts, patch: RedfishFactsInput): RedfishFacts {
  const { systems, chassis, ...scalars } = patch;
  return {
    ...current,
    ...dropUndefined(scalars),
    systems: mergeList(current.systems, systems, (i) => defaultRedfishSystem(deviceId, i)),
    chassis: mergeList(current.chassis, chassis, (i) => defaultRedfishChassis(deviceId, i)),
  };
}

function mergeHypervisorFacts(current: HypervisorClusterFacts, patch: HypervisorClusterFactsInput): HypervisorClusterFacts {
  const { hosts, ...scalars } = patch;
  return { ...current, ...dropUndefined(scalars), hosts: mergeList(current.hosts, hosts, defaultHost) };
}

function mergeStorageFacts(current: StorageArrayFacts, patch: StorageArrayFactsInput): StorageArrayFacts {
  const { pools, ...scalars } = patch;
  return { ...current, ...dropUndefined(scalars), pools: mergeList(current.pools, pools, defaultPool) };
}

const DEFAULT_KNOBS: SimKnobs = { latencyMs: 0, failRate: 0, down: false, hang: false, malformed: false };

/** Validate a device configuration and fill in defaults. Throws a ZodError on bad input. */
export function resolveSimDevice(input: unknown): SimDevice {
  const cfg = simDeviceConfigSchema.parse(input);
  const common: SimDeviceCommon = {
    id: cfg.id,
    latencyMs: cfg.latencyMs ?? DEFAULT_KNOBS.latencyMs,
    failRate: cfg.failRate ?? DEFAULT_KNOBS.failRate,
    down: cfg.down ?? DEFAULT_KNOBS.down,
    hang: cfg.hang ?? DEFAULT_KNOBS.hang,
    malformed: cfg.malformed ?? DEFAULT_KNOBS.malformed,
    ...(cfg.credentials ? { credentials: cfg.credentials } : {}),
  };
  switch (cfg.kind) {
    case 'redfish': {
      const base: RedfishFacts = {
        redfishVersion: '1.15.0',
        uuid: stableUuid(cfg.id),
        bmcFirmwareVersion: '4.40.10',
        systems: [defaultRedfishSystem(cfg.id, 0)],
        chassis: [defaultRedfishChassis(cfg.id, 0)],
      };
      return { ...common, kind: 'redfish', facts: mergeRedfishFacts(cfg.id, base, cfg.facts ?? {}) };
    }
    case 'hypervisor-cluster': {
      const base: HypervisorClusterFacts = {
        name: `${cfg.id}-cluster`,
        version: '8.2.1',
        hypervisor: 'kvm',
        hosts: [defaultHost(0), defaultHost(1), defaultHost(2)],
      };
      return { ...common, kind: 'hypervisor-cluster', facts: mergeHypervisorFacts(base, cfg.facts ?? {}) };
    }
    case 'storage-array': {
      const base: StorageArrayFacts = {
        name: cfg.id,
        model: 'AS-9200',
        serial: `AS9200-${cfg.id.toUpperCase()}`,
        firmware: '6.4.2',
        capacityBytes: 50 * TIB,
        usedBytes: 20 * TIB,
        pools: [defaultPool(0), defaultPool(1)],
      };
      return { ...common, kind: 'storage-array', facts: mergeStorageFacts(base, cfg.facts ?? {}) };
    }
  }
}

/** Validate a patch against the device's kind and apply it. Throws a ZodError on bad input. */
export function patchSimDevice(device: SimDevice, input: unknown): SimDevice {
  const patch = simDevicePatchSchema(device.kind).parse(input);
  const { credentials, facts, ...knobs } = patch;
  const next = { ...device, ...dropUndefined(knobs) } as SimDevice;
  if (credentials === null) delete next.credentials;
  else if (credentials !== undefined) next.credentials = credentials;
  if (facts !== undefined) {
    switch (next.kind) {
      case 'redfish':
        next.facts = mergeRedfishFacts(next.id, next.facts, facts as RedfishFactsInput);
        break;
      case 'hypervisor-cluster':
        next.facts = mergeHypervisorFacts(next.facts, facts as HypervisorClusterFactsInput);
        break;
      case 'storage-array':
        next.facts = mergeStorageFacts(next.facts, facts as StorageArrayFactsInput);
        break;
    }
  }
  return next;
}
