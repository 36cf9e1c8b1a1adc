/**
 * Simulated service definitions: the zod schemas that validate what tests and operators send
 * (at creation, through PATCH and when adding workloads), the resolved shapes the server keeps,
 * and their defaults. The service API's own request bodies are validated here too.
 */
import { z } from 'zod';

export const SIM_SERVICE_KINDS = ['compute', 'volume', 'network'] as const;
export type SimServiceKind = (typeof SIM_SERVICE_KINDS)[number];

export const WORKLOAD_KINDS = ['instance', 'volume'] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];

export const WORKLOAD_STATES = ['active', 'migrating', 'stopped', 'error'] as const;
export type WorkloadState = (typeof WORKLOAD_STATES)[number];

/** Ids and device references end up in URL paths: keep them URL-safe. */
const refSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'must be 1-128 letters, digits, ".", "_" or "-", starting with a letter or digit');
export const serviceIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be 1-64 letters, digits, ".", "_" or "-"');
export const deviceRefSchema = refSchema;
export const workloadIdSchema = refSchema;

/** At most this many workloads per device in one creation or one add. */
export const MAX_WORKLOADS_PER_ADD = 100_000;

// ------------------------------------------------------------------- knobs
const budgetSchema = z.strictObject({
  /** 429 while this many migrations are in flight on the service (a disruption budget). */
  maxInFlight: z.number().int().min(0).max(100_000).optional(),
  /** Refuse the next N migrations that would start with 429 (counted from creation or from the PATCH that sets it). */
  refuseFirst: z.number().int().min(0).max(1_000_000).optional(),
  /** Refuse every migration that would start before this time (epoch milliseconds). */
  refuseUntilMs: z.number().int().min(0).max(8.64e15).optional(),
  /** The wait a 429 advises; absent: computed (time until a slot frees or the window ends; 1000 ms for refuseFirst). */
  retryAfterMs: z.number().int().min(0).max(3_600_000).optional(),
});
export type SimBudget = z.output<typeof budgetSchema>;

const knobShape = {
  /** Delay before answering every service request, in milliseconds. */
  latencyMs: z.number().int().min(0).max(600_000),
  /** How long a migration takes before the workload lands (or fails, when stuck). */
  migrationMs: z.number().int().min(0).max(3_600_000),
  /** Chance (0..1) of answering 503 instead; 0 never, 1 always. */
  failRate: z.number().min(0).max(1),
  /** Destroy the connection without answering (connection reset). */
  down: z.boolean(),
  /** Answer 200 with a body that is not valid JSON. */
  malformed: z.boolean(),
  /** Disruption budget; an empty object refuses nothing. */
  budget: budgetSchema,
  /** Workload ids whose migrations always fail: they go back to active on the same device with last_error. */
  stuck: z.array(workloadIdSchema).max(100_000),
  /** Where a migration from a device lands; a device not listed lands on `<device>-target`. */
  targets: z.record(deviceRefSchema, deviceRefSchema),
};

export interface SimServiceKnobs {
  latencyMs: number;
  migrationMs: number;
  failRate: number;
  down: boolean;
  malformed: boolean;
  budget: SimBudget;
  stuck: string[];
  targets: Record<string, string>;
}

const optionalKnobShape = {
  latencyMs: knobShape.latencyMs.optional(),
  migrationMs: knobShape.migrationMs.optional(),
  failRate: knobShape.failRate.optional(),
  down: knobShape.down.optional(),
  malformed: knobShape.malformed.optional(),
  budget: knobShape.budget.optional(),
  stuck: knobShape.stuck.optional(),
  targets: knobShape.targets.optional(),
};

export const DEFAULT_SERVICE_KNOBS: Readonly<SimServiceKnobs> = Object.freeze({
  latencyMs: 0,
  migrationMs: 20,
  failRate: 0,
  down: false,
  malformed: false,
  budget: {},
  stuck: [],
  targets: {},
});

const tokenSchema = z
  .string()
  .min(1)
  .max(512)
  .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces (it travels in a header)');

// --------------------------------------------------------------- workloads
export const workloadSpecSchema = z.strictObject({
  id: workloadIdSchema.optional(),
  name: z.string().min(1).max(255).optional(),
  kind: z.enum(WORKLOAD_KINDS).optional(),
  /** "error": a broken workload the service refuses to migrate (it can still be stopped). */
  state: z.enum(['active', 'error']).optional(),
});
export type WorkloadSpec = z.input<typeof workloadSpecSchema>;

/** A number generates that many workloads; a list describes each one (missing fields get defaults). */
export const workloadsInputSchema = z.union([
  z.number().int().min(0).max(MAX_WORKLOADS_PER_ADD),
  z.array(workloadSpecSchema).max(MAX_WORKLOADS_PER_ADD),
]);
export type WorkloadsInput = number | WorkloadSpec[];

/** What `POST /_sim/services/:id/workloads` accepts. */
export const addWorkloadsSchema = z.strictObject({
  device: deviceRefSchema,
  workloads: workloadsInputSchema,
});

// ---------------------------------------------------------------- services
/** What `POST /_sim/services` and `addService` accept. */
export const simServiceConfigSchema = z.strictObject({
  id: serviceIdSchema,
  kind: z.enum(SIM_SERVICE_KINDS),
  /** The host the service runs on (e.g. "compute-3"); informational. */
  host: z.string().min(1).max(255),
  /** Absent: no authentication. Present: every service request needs `X-Auth-Token: <token>`. */
  token: tokenSchema.optional(),
  ...optionalKnobShape,
  /** The devices the service consumes and the workloads on each at start. */
  devices: z.record(deviceRefSchema, z.strictObject({ workloads: workloadsInputSchema.optional() })).optional(),
});
export type SimServiceConfig = z.input<typeof simServiceConfigSchema>;
export type ParsedSimServiceConfig = z.output<typeof simServiceConfigSchema>;

/** What `PATCH /_sim/services/:id` and `updateService` accept: knobs and the token. */
export const simServicePatchSchema = z.strictObject({
  ...optionalKnobShape,
  /** null removes authentication. */
  token: tokenSchema.nullable().optional(),
});
export type SimServicePatch = z.input<typeof simServicePatchSchema>;

/** Resolved knobs of a new service: defaults filled in. */
export function resolveKnobs(cfg: Partial<SimServiceKnobs>): SimServiceKnobs {
  return {
    latencyMs: cfg.latencyMs ?? DEFAULT_SERVICE_KNOBS.latencyMs,
    migrationMs: cfg.migrationMs ?? DEFAULT_SERVICE_KNOBS.migrationMs,
    failRate: cfg.failRate ?? DEFAULT_SERVICE_KNOBS.failRate,
    down: cfg.down ?? DEFAULT_SERVICE_KNOBS.down,
    malformed: cfg.malformed ?? DEFAULT_SERVICE_KNOBS.malformed,
    budget: { ...(cfg.budget ?? {}) },
    stuck: [...(cfg.stuck ?? [])],
    targets: { ...(cfg.targets ?? {}) },
  };
}

// ----------------------------------------------------- service API bodies
export const DISABLED_REASON_MAX = 255;

/**
 * `PUT <base>/devices/<ref>/status`, as Nova's os-services: disabling needs a reason (1-255
 * characters); enabling takes none (a reason with "enabled" is refused, as Nova refuses it).
 */
export const deviceStatusBodySchema = z
  .strictObject({
    status: z.enum(['enabled', 'disabled']),
    disabled_reason: z.string().max(DISABLED_REASON_MAX).nullable().optional(),
  })
  .superRefine((body, ctx) => {
    const reason = body.disabled_reason ?? '';
    if (body.status === 'disabled' && reason.trim() === '') {
      ctx.addIssue({ code: 'custom', path: ['disabled_reason'], message: 'a reason is required when disabling' });
    }
    if (body.status === 'enabled' && reason !== '') {
      ctx.addIssue({ code: 'custom', path: ['disabled_reason'], message: 'only allowed with status "disabled"' });
    }
  });

export const migrateBodySchema = z.strictObject({ from_device: deviceRefSchema });

/** Printable ASCII, 1-255 characters (UUIDs, workflow-derived keys). */
export const idempotencyKeySchema = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[\x20-\x7e]+$/, 'must be printable ASCII');
