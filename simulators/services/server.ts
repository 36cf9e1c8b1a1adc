/**
 * Service simulator: one HTTP server hosting many simulated OpenStack-style services (a compute
 * service on a hypervisor host, a volume backend on a storage array...), each at its own base
 * URL `http://HOST:PORT/s/<serviceId>`, plus an admin API under `/_sim/services` to add, remove
 * and tune services (fault and budget knobs, stuck workloads, the token) while it runs.
 *
 * A service consumes devices; workloads run on a device through it. Maintenance cordons a device
 * (`PUT .../devices/<ref>/status` disabled), drains it (migrates or stops each workload) and
 * uncordons it. Migrations run on timers, so thousands of workloads and dozens of concurrent
 * migrations cost nothing but memory; every lookup is by id in a Map.
 */
import { timingSafeEqual } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import {
  addWorkloadsSchema,
  deviceRefSchema,
  deviceStatusBodySchema,
  idempotencyKeySchema,
  migrateBodySchema,
  resolveKnobs,
  simServiceConfigSchema,
  simServicePatchSchema,
  workloadIdSchema,
  workloadsInputSchema,
  type SimServiceConfig,
  type SimServiceKind,
  type SimServiceKnobs,
  type SimServicePatch,
  type WorkloadKind,
  type WorkloadSpec,
  type WorkloadState,
  type WorkloadsInput,
} from './config';

export type { SimServiceConfig, SimServicePatch, SimServiceKnobs, WorkloadSpec, WorkloadsInput } from './config';

/** A workload as the service API shows it. */
export interface SimWorkload {
  id: string;
  name: string;
  kind: WorkloadKind;
  state: WorkloadState;
  /** The device it runs on (a migrating workload is still on its source device until it lands). */
  device: string;
  last_error: string | null;
}

export interface SimDeviceStatus {
  device: string;
  status: 'enabled' | 'disabled';
  disabled_reason: string | null;
}

export interface SimStatusChange {
  device: string;
  status: 'enabled' | 'disabled';
  reason: string | null;
  /** ISO 8601. */
  at: string;
}

export interface SimServiceStats {
  /** Per workload id: migrations actually started (distinct idempotency keys that started one). */
  migrationsStarted: Record<string, number>;
  /** Migrations that landed on their target / that failed (stuck workloads). */
  migrationsLanded: number;
  migrationsFailed: number;
  /** Every migrate request that reached the service (past the fault knobs and authentication). */
  migrateRequests: number;
  /** Migrate requests answered 429 by the budget. */
  refused429: number;
  /** Workloads stopped (a replayed stop is not counted twice). */
  stops: number;
  /** Every request that reached the service, whatever the knobs did with it. */
  requests: number;
  /** Actual changes of a device's status or reason, in order (a repeated identical PUT adds nothing). */
  statusChanges: SimStatusChange[];
  /** Migrations running now. */
  inFlight: number;
}

/** The admin view of a service: configuration and a summary per device, never the token. */
export interface SimServiceView extends SimServiceKnobs {
  id: string;
  kind: SimServiceKind;
  host: string;
  /** "token" when requests need `X-Auth-Token`, else null. */
  auth: 'token' | null;
  baseUrl: string;
  devices: Record<string, { status: 'enabled' | 'disabled'; disabled_reason: string | null; workloads: number }>;
}

export interface ServiceSimulatorOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  services?: SimServiceConfig[];
}

export interface ServiceSimulator {
  /** e.g. http://127.0.0.1:7102 */
  url: string;
  port: number;
  /** Base URL of one service: `${url}/s/${id}`. */
  baseUrlFor(id: string): string;
  /** Throws a ZodError on invalid configuration, an Error on a duplicate service or workload id. */
  addService(cfg: SimServiceConfig): void;
  /** Throws a ZodError on an invalid patch, an Error on an unknown id. */
  updateService(id: string, patch: SimServicePatch): void;
  /** Ends the service's running migrations. Throws on an unknown id. */
  removeService(id: string): void;
  /** The admin view of one service, or undefined. */
  getService(id: string): SimServiceView | undefined;
  /** Add workloads to a device (N generated ones, or one per spec); returns them. */
  addWorkloads(id: string, deviceRef: string, workloads: WorkloadsInput): SimWorkload[];
  /** Counters for assertions (a copy). */
  stats(id: string): SimServiceStats;
  /** Zero the counters (running migrations keep running and still count as in flight). */
  resetStats(id: string): void;
  /** Workloads currently on a device, as the service API lists them (copies). */
  workloadsOn(id: string, deviceRef: string): SimWorkload[];
  /** One workload wherever it is (a copy), or undefined. */
  getWorkload(id: string, workloadId: string): SimWorkload | undefined;
  deviceStatus(id: string, deviceRef: string): SimDeviceStatus;
  close(): Promise<void>;
}

// ------------------------------------------------------------------ state

class SimNotFoundError extends Error {}
class SimConflictError extends Error {}

interface Migration {
  workloadId: string;
  from: string;
  to: string;
  state: 'running' | 'landed' | 'failed' | 'abandoned';
  landsAt: number;
  timer?: NodeJS.Timeout;
}

/** What one idempotency key did on a service. */
type KeyRecord = { op: 'migrate'; workloadId: string; migration: Migration } | { op: 'stop'; workloadId: string };

interface ServiceEntry {
  id: string;
  kind: SimServiceKind;
  host: string;
  token?: string;
  knobs: SimServiceKnobs;
  stuck: Set<string>;
  workloads: Map<string, SimWorkload>;
  /** Device ref → ids of the workloads occupying it, in arrival order. */
  onDevice: Map<string, Set<string>>;
  /** Device ref → last index used for a generated workload id. */
  generated: Map<string, number>;
  statuses: Map<string, { status: 'enabled' | 'disabled'; disabled_reason: string | null }>;
  keys: Map<string, KeyRecord>;
  /** Workload id → its running migration. */
  running: Map<string, Migration>;
  /** Migrations refused so far under the current `budget.refuseFirst`. */
  refusedByFirst: number;
  counters: Omit<SimServiceStats, 'migrationsStarted' | 'statusChanges' | 'inFlight'>;
  migrationsStarted: Map<string, number>;
  statusChanges: SimStatusChange[];
  removed: boolean;
}

function zeroCounters(): ServiceEntry['counters'] {
  return { migrationsLanded: 0, migrationsFailed: 0, migrateRequests: 0, refused429: 0, stops: 0, requests: 0 };
}

function copyWorkload(w: SimWorkload): SimWorkload {
  return { id: w.id, name: w.name, kind: w.kind, state: w.state, device: w.device, last_error: w.last_error };
}

function defaultWorkloadKind(kind: SimServiceKind): WorkloadKind {
  return kind === 'volume' ? 'volume' : 'instance';
}

function occupants(svc: ServiceEntry, device: string): Set<string> {
  let set = svc.onDevice.get(device);
  if (!set) {
    set = new Set();
    svc.onDevice.set(device, set);
  }
  return set;
}

/**
 * Build the workloads for one device without touching the service, so a bad list changes
 * nothing; ids already used (on the service or earlier in the list) are a conflict.
 */
function planWorkloads(svc: ServiceEntry, device: string, input: WorkloadsInput, taken: Set<string>): SimWorkload[] {
  const kind = defaultWorkloadKind(svc.kind);
  let next = svc.generated.get(device) ?? 0;
  const out: SimWorkload[] = [];
  /** The next free generated id, and its index (which also names the workload). */
  const generate = (): [string, number] => {
    for (;;) {
      const id = `${svc.id}-${device}-w${++next}`;
      if (!svc.workloads.has(id) && !taken.has(id)) return [id, next];
    }
  };
  const specs: WorkloadSpec[] = typeof input === 'number' ? Array.from({ length: input }, () => ({})) : input;
  for (const spec of specs) {
    let id: string;
    let defaultName: string;
    const wkind = spec.kind ?? kind;
    if (spec.id === undefined) {
      const [generated, index] = generate();
      id = generated;
      defaultName = `${wkind}-${String(index).padStart(4, '0')}`;
    } else {
      id = spec.id;
      defaultName = id;
      if (svc.workloads.has(id) || taken.has(id)) {
        throw new SimConflictError(`workload "${id}" already exists on service "${svc.id}"`);
      }
    }
    taken.add(id);
    out.push({
      id,
      name: spec.name ?? defaultName,
      kind: wkind,
      state: spec.state ?? 'active',
      device,
      last_error: spec.state === 'error' ? 'workload is in error (simulated)' : null,
    });
  }
  svc.generated.set(device, next);
  return out;
}

function commitWorkloads(svc: ServiceEntry, device: string, list: SimWorkload[]): void {
  const set = occupants(svc, device);
  for (const w of list) {
    svc.workloads.set(w.id, w);
    set.add(w.id);
  }
}

// ------------------------------------------------------------------ helpers

function validationError(res: Response, error: z.ZodError): void {
  res.status(400).json({
    error: {
      code: 'validation_error',
      message: z.prettifyError(error),
      issues: error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
    },
  });
}

function errorBody(res: Response, status: number, code: string, message: string, extra: Record<string, unknown> = {}): void {
  res.status(status).json({ error: { code, message, ...extra } });
}

function unknownService(res: Response, id: string): void {
  errorBody(res, 404, 'unknown_service', `no simulated service "${id}"`);
}

function sameToken(expected: string, given: string | undefined): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(given, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Retry-After in whole seconds (the HTTP header has no finer unit), rounded up. */
function retryAfterSeconds(ms: number): string {
  return String(Math.max(0, Math.ceil(ms / 1000)));
}

// ------------------------------------------------------------------ server

export async function startServiceSimulator(opts: ServiceSimulatorOptions = {}): Promise<ServiceSimulator> {
  const host = opts.host ?? '127.0.0.1';
  const services = new Map<string, ServiceEntry>();
  /** Latency timers of pending requests. Migration timers live on their migrations. */
  const requestTimers = new Set<NodeJS.Timeout>();
  let url = '';

  const baseUrlFor = (id: string) => `${url}/s/${encodeURIComponent(id)}`;

  const mustGet = (id: string): ServiceEntry => {
    const svc = services.get(id);
    if (!svc) throw new SimNotFoundError(`no simulated service "${id}"`);
    return svc;
  };

  // ---------------------------------------------------------- operations

  const addService = (input: unknown): ServiceEntry => {
    const cfg = simServiceConfigSchema.parse(input);
    if (services.has(cfg.id)) throw new SimConflictError(`simulated service "${cfg.id}" already exists`);
    const knobs = resolveKnobs(cfg);
    const svc: ServiceEntry = {
      id: cfg.id,
      kind: cfg.kind,
      host: cfg.host,
      ...(cfg.token !== undefined ? { token: cfg.token } : {}),
      knobs,
      stuck: new Set(knobs.stuck),
      workloads: new Map(),
      onDevice: new Map(),
      generated: new Map(),
      statuses: new Map(),
      keys: new Map(),
      running: new Map(),
      refusedByFirst: 0,
      counters: zeroCounters(),
      migrationsStarted: new Map(),
      statusChanges: [],
      removed: false,
    };
    const taken = new Set<string>();
    const planned: Array<[string, SimWorkload[]]> = [];
    for (const [device, spec] of Object.entries(cfg.devices ?? {})) {
      planned.push([device, planWorkloads(svc, device, spec.workloads ?? 0, taken)]);
    }
    for (const [device, list] of planned) commitWorkloads(svc, device, list);
    services.set(svc.id, svc);
    return svc;
  };

  const updateService = (id: string, input: unknown): ServiceEntry => {
    const svc = mustGet(id);
    const patch = simServicePatchSchema.parse(input);
    const { token, budget, stuck, targets, ...scalars } = patch;
    for (const [k, v] of Object.entries(scalars)) {
      if (v !== undefined) (svc.knobs as unknown as Record<string, unknown>)[k] = v;
    }
    if (budget !== undefined) {
      svc.knobs.budget = { ...budget };
      // "Refuse the first N" counts from the moment it is set.
      svc.refusedByFirst = 0;
    }
    if (stuck !== undefined) {
      svc.knobs.stuck = [...stuck];
      svc.stuck = new Set(stuck);
    }
    if (targets !== undefined) svc.knobs.targets = { ...targets };
    if (token === null) delete svc.token;
    else if (token !== undefined) svc.token = token;
    return svc;
  };

  const removeService = (id: string): void => {
    const svc = mustGet(id);
    for (const m of svc.running.values()) {
      clearTimeout(m.timer);
      m.state = 'abandoned';
    }
    svc.running.clear();
    svc.removed = true;
    services.delete(id);
  };

  const addWorkloads = (id: string, device: unknown, input: unknown): SimWorkload[] => {
    const svc = mustGet(id);
    const ref = deviceRefSchema.parse(device);
    const list = planWorkloads(svc, ref, workloadsInputSchema.parse(input), new Set());
    commitWorkloads(svc, ref, list);
    return list.map(copyWorkload);
  };

  const listOn = (svc: ServiceEntry, device: string): SimWorkload[] => {
    const ids = svc.onDevice.get(device);
    if (!ids) return [];
    const out: SimWorkload[] = [];
    for (const wid of ids) {
      const w = svc.workloads.get(wid);
      if (w) out.push(copyWorkload(w));
    }
    return out;
  };

  const statusOf = (svc: ServiceEntry, device: string): SimDeviceStatus => {
    const s = svc.statuses.get(device);
    return { device, status: s?.status ?? 'enabled', disabled_reason: s?.disabled_reason ?? null };
  };

  const setStatus = (svc: ServiceEntry, device: string, status: 'enabled' | 'disabled', reason: string | null): SimDeviceStatus => {
    const before = statusOf(svc, device);
    const next = { status, disabled_reason: status === 'disabled' ? reason : null };
    if (before.status !== next.status || before.disabled_reason !== next.disabled_reason) {
      svc.statusChanges.push({ device, status, reason: next.disabled_reason, at: new Date().toISOString() });
    }
    svc.statuses.set(device, next);
    return { device, ...next };
  };

  const statsOf = (svc: ServiceEntry): SimServiceStats => ({
    migrationsStarted: Object.fromEntries(svc.migrationsStarted),
    ...svc.counters,
    statusChanges: svc.statusChanges.map((c) => ({ ...c })),
    inFlight: svc.running.size,
  });

  const view = (svc: ServiceEntry): SimServiceView => {
    const devices: SimServiceView['devices'] = {};
    for (const ref of new Set([...svc.onDevice.keys(), ...svc.statuses.keys()])) {
      const s = statusOf(svc, ref);
      devices[ref] = { status: s.status, disabled_reason: s.disabled_reason, workloads: svc.onDevice.get(ref)?.size ?? 0 };
    }
    return {
      id: svc.id,
      kind: svc.kind,
      host: svc.host,
      auth: svc.token !== undefined ? 'token' : null,
      ...structuredClone(svc.knobs),
      baseUrl: baseUrlFor(svc.id),
      devices,
    };
  };

  /** The migration ends: the workload lands on its target, or (stuck) stays where it was with an error. */
  const finishMigration = (svc: ServiceEntry, m: Migration): void => {
    m.timer = undefined;
    if (svc.removed || m.state !== 'running') return;
    svc.running.delete(m.workloadId);
    const w = svc.workloads.get(m.workloadId);
    if (!w) return;
    w.state = 'active';
    if (svc.stuck.has(w.id)) {
      m.state = 'failed';
      w.last_error = `migration failed: no valid host found to move ${w.kind} ${w.id} off ${m.from}`;
      svc.counters.migrationsFailed++;
      return;
    }
    m.state = 'landed';
    svc.onDevice.get(m.from)?.delete(w.id);
    occupants(svc, m.to).add(w.id);
    w.device = m.to;
    w.last_error = null;
    svc.counters.migrationsLanded++;
  };

  const startMigration = (svc: ServiceEntry, w: SimWorkload, from: string): Migration => {
    const ms = svc.knobs.migrationMs;
    const m: Migration = {
      workloadId: w.id,
      from,
      to: svc.knobs.targets[from] ?? `${from}-target`,
      state: 'running',
      landsAt: Date.now() + ms,
    };
    m.timer = setTimeout(() => finishMigration(svc, m), ms);
    svc.running.set(w.id, m);
    svc.migrationsStarted.set(w.id, (svc.migrationsStarted.get(w.id) ?? 0) + 1);
    w.state = 'migrating';
    // last_error describes the latest attempt: a new one starts with a clean slate.
    w.last_error = null;
    return m;
  };

  /** The budget's verdict on starting one more migration now: undefined, or how long to wait. */
  const budgetRefusal = (svc: ServiceEntry): { retryAfterMs: number; why: string } | undefined => {
    const b = svc.knobs.budget;
    const now = Date.now();
    if (b.refuseUntilMs !== undefined && now < b.refuseUntilMs) {
      return { retryAfterMs: b.retryAfterMs ?? b.refuseUntilMs - now, why: 'migrations are paused by the disruption budget' };
    }
    if (b.refuseFirst !== undefined && svc.refusedByFirst < b.refuseFirst) {
      svc.refusedByFirst++;
      return { retryAfterMs: b.retryAfterMs ?? 1000, why: 'the disruption budget allows no migration right now' };
    }
    if (b.maxInFlight !== undefined && svc.running.size >= b.maxInFlight) {
      let soonest = Infinity;
      for (const m of svc.running.values()) soonest = Math.min(soonest, m.landsAt);
      // At least 1 ms: a slot whose timer is due but has not fired yet must not invite a hot retry loop.
      const computed = Number.isFinite(soonest) ? Math.max(1, soonest - now) : 1000;
      return {
        retryAfterMs: b.retryAfterMs ?? computed,
        why: `the disruption budget allows ${b.maxInFlight} migration(s) in flight and ${svc.running.size} are running`,
      };
    }
    return undefined;
  };

  for (const cfg of opts.services ?? []) addService(cfg);

  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');

  // ------------------------------------------------------------------ admin API
  const admin = express.Router();
  admin.use(express.json({ limit: '20mb' }));

  /** Map what the operations throw to answers. */
  const adminFailure = (res: Response, err: unknown): void => {
    if (err instanceof z.ZodError) return validationError(res, err);
    if (err instanceof SimNotFoundError) return errorBody(res, 404, 'unknown_service', err.message);
    if (err instanceof SimConflictError) return errorBody(res, 409, 'conflict', err.message);
    throw err;
  };

  admin.get('/services', (_req, res) => {
    res.json({ services: [...services.values()].map(view) });
  });

  admin.post('/services', (req, res) => {
    try {
      res.status(201).json(view(addService(req.body)));
    } catch (err) {
      adminFailure(res, err);
    }
  });

  admin.get('/services/:id', (req, res) => {
    const svc = services.get(req.params.id);
    if (!svc) return unknownService(res, req.params.id);
    res.json(view(svc));
  });

  admin.patch('/services/:id', (req, res) => {
    try {
      res.json(view(updateService(req.params.id, req.body)));
    } catch (err) {
      adminFailure(res, err);
    }
  });

  admin.delete('/services/:id', (req, res) => {
    try {
      removeService(req.params.id);
      res.status(204).end();
    } catch (err) {
      adminFailure(res, err);
    }
  });

  admin.post('/services/:id/workloads', (req, res) => {
    try {
      mustGet(req.params.id);
      const body = addWorkloadsSchema.parse(req.body);
      const added = addWorkloads(req.params.id, body.device, body.workloads);
      res.status(201).json({ device: body.device, added });
    } catch (err) {
      adminFailure(res, err);
    }
  });

  admin.get('/services/:id/stats', (req, res) => {
    const svc = services.get(req.params.id);
    if (!svc) return unknownService(res, req.params.id);
    res.json(statsOf(svc));
  });

  admin.delete('/services/:id/stats', (req, res) => {
    const svc = services.get(req.params.id);
    if (!svc) return unknownService(res, req.params.id);
    svc.counters = zeroCounters();
    svc.migrationsStarted.clear();
    svc.statusChanges = [];
    res.status(204).end();
  });

  app.use('/_sim', admin);

  // ------------------------------------------------------------- service API
  /** Find the service, count the request, apply the fault knobs, then authenticate. */
  const front = (req: Request<{ serviceId: string }>, res: Response, next: NextFunction): void => {
    const id = req.params.serviceId;
    const svc = services.get(id);
    if (!svc) return unknownService(res, id);
    svc.counters.requests++;
    // Knobs are read once, on arrival, so a request is not half-affected by a concurrent PATCH.
    const knobs = svc.knobs;
    res.locals.svc = svc;

    if (knobs.down) {
      req.socket.destroy();
      return;
    }
    const answer = () => {
      if (knobs.failRate > 0 && Math.random() < knobs.failRate) {
        res
          .status(503)
          .set('Retry-After', '1')
          .json({ error: { code: 'service_unavailable', message: 'service temporarily unavailable' } });
        return;
      }
      if (knobs.malformed) {
        res.status(200).type('application/json').send('{"simulated": "malformed", "workloads": [');
        return;
      }
      if (svc.token !== undefined && !sameToken(svc.token, req.get('x-auth-token'))) {
        const given = req.get('x-auth-token') !== undefined;
        errorBody(res, 401, 'unauthorized', given ? 'the X-Auth-Token is not valid for this service' : 'this service requires an X-Auth-Token');
        return;
      }
      next();
    };
    if (knobs.latencyMs <= 0) return answer();
    const timer = setTimeout(() => {
      requestTimers.delete(timer);
      if (!res.destroyed && !svc.removed) answer();
      else if (svc.removed && !res.destroyed) unknownService(res, id);
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
  const svcOf = (res: Response): ServiceEntry => res.locals.svc as ServiceEntry;

  /** A device ref or workload id from the path, checked; answers 400 and returns undefined when bad. */
  const pathParam = (res: Response, schema: z.ZodType<string>, value: string): string | undefined => {
    const parsed = schema.safeParse(value);
    if (parsed.success) return parsed.data;
    validationError(res, parsed.error);
    return undefined;
  };

  const idempotencyKey = (req: Request, res: Response): string | undefined => {
    const raw = req.get('idempotency-key');
    if (raw === undefined) {
      errorBody(res, 400, 'idempotency_key_required', 'this request needs an Idempotency-Key header');
      return undefined;
    }
    const parsed = idempotencyKeySchema.safeParse(raw);
    if (!parsed.success) {
      errorBody(res, 400, 'validation_error', `Idempotency-Key: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
      return undefined;
    }
    return parsed.data;
  };

  api.get('/', (_req, res) => {
    const svc = svcOf(res);
    res.json({ id: svc.id, kind: svc.kind, host: svc.host });
  });

  api.get('/devices/:deviceRef/status', (req: Request<{ deviceRef: string }>, res) => {
    const ref = pathParam(res, deviceRefSchema, req.params.deviceRef);
    if (ref === undefined) return;
    res.json(statusOf(svcOf(res), ref));
  });

  api.put('/devices/:deviceRef/status', (req: Request<{ deviceRef: string }>, res) => {
    const ref = pathParam(res, deviceRefSchema, req.params.deviceRef);
    if (ref === undefined) return;
    const body = deviceStatusBodySchema.safeParse(req.body);
    if (!body.success) return validationError(res, body.error);
    res.json(setStatus(svcOf(res), ref, body.data.status, body.data.disabled_reason ?? null));
  });

  api.get('/devices/:deviceRef/workloads', (req: Request<{ deviceRef: string }>, res) => {
    const ref = pathParam(res, deviceRefSchema, req.params.deviceRef);
    if (ref === undefined) return;
    res.json({ workloads: listOn(svcOf(res), ref) });
  });

  api.get('/workloads/:workloadId', (req: Request<{ workloadId: string }>, res) => {
    const w = svcOf(res).workloads.get(req.params.workloadId);
    if (!w) return errorBody(res, 404, 'unknown_workload', `no workload "${req.params.workloadId}"`);
    res.json(copyWorkload(w));
  });

  api.post('/workloads/:workloadId/migrate', (req: Request<{ workloadId: string }>, res) => {
    const svc = svcOf(res);
    svc.counters.migrateRequests++;
    const wid = pathParam(res, workloadIdSchema, req.params.workloadId);
    if (wid === undefined) return;
    const key = idempotencyKey(req, res);
    if (key === undefined) return;
    const body = migrateBodySchema.safeParse(req.body);
    if (!body.success) return validationError(res, body.error);
    const from = body.data.from_device;

    // A key already used: answer what it did, start nothing.
    const known = svc.keys.get(key);
    if (known) {
      if (known.op !== 'migrate' || known.workloadId !== wid) {
        return errorBody(res, 422, 'idempotency_key_reused', `Idempotency-Key already used for ${known.op} of another request`);
      }
      const w = svc.workloads.get(wid);
      if (!w) return errorBody(res, 404, 'unknown_workload', `no workload "${wid}"`);
      return void res.status(known.migration.state === 'running' ? 202 : 200).json(copyWorkload(w));
    }

    const w = svc.workloads.get(wid);
    if (!w) return errorBody(res, 404, 'unknown_workload', `no workload "${wid}"`);
    // Gone already (landed elsewhere, or stopped): nothing to do.
    if (w.state === 'stopped' || w.device !== from) return void res.status(200).json(copyWorkload(w));
    // Already moving under another key: this key joins that migration rather than starting one.
    const running = svc.running.get(wid);
    if (running) {
      svc.keys.set(key, { op: 'migrate', workloadId: wid, migration: running });
      return void res.status(202).json(copyWorkload(w));
    }
    if (w.state === 'error') {
      return errorBody(res, 409, 'workload_in_error', `workload "${wid}" is in error and cannot be migrated; stop it instead`);
    }
    const refusal = budgetRefusal(svc);
    if (refusal) {
      svc.counters.refused429++;
      res.set('Retry-After', retryAfterSeconds(refusal.retryAfterMs));
      return errorBody(res, 429, 'budget_exceeded', `${refusal.why}; retry later`, { retry_after_ms: refusal.retryAfterMs });
    }
    const m = startMigration(svc, w, from);
    svc.keys.set(key, { op: 'migrate', workloadId: wid, migration: m });
    res.status(202).json(copyWorkload(w));
  });

  api.post('/workloads/:workloadId/stop', (req: Request<{ workloadId: string }>, res) => {
    const svc = svcOf(res);
    const wid = pathParam(res, workloadIdSchema, req.params.workloadId);
    if (wid === undefined) return;
    const key = idempotencyKey(req, res);
    if (key === undefined) return;
    if (req.body !== undefined && !(typeof req.body === 'object' && req.body !== null && Object.keys(req.body).length === 0)) {
      return errorBody(res, 400, 'validation_error', 'stop takes no body (or an empty JSON object)');
    }
    const known = svc.keys.get(key);
    if (known && (known.op !== 'stop' || known.workloadId !== wid)) {
      return errorBody(res, 422, 'idempotency_key_reused', `Idempotency-Key already used for ${known.op} of another request`);
    }
    const w = svc.workloads.get(wid);
    if (!w) return errorBody(res, 404, 'unknown_workload', `no workload "${wid}"`);
    if (!known && w.state !== 'stopped') {
      if (svc.running.has(wid)) {
        return errorBody(res, 409, 'workload_busy', `workload "${wid}" is migrating; stop it once the migration ends`);
      }
      w.state = 'stopped';
      svc.onDevice.get(w.device)?.delete(wid);
      svc.counters.stops++;
    }
    svc.keys.set(key, { op: 'stop', workloadId: wid });
    res.status(200).json(copyWorkload(w));
  });

  api.use((_req: Request, res: Response) => {
    errorBody(res, 404, 'not_found', 'no such resource on this service');
  });

  app.use('/s/:serviceId', front, api);

  app.use((_req: Request, res: Response) => {
    errorBody(res, 404, 'not_found', 'services live under /s/<id>, the admin API under /_sim/services');
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
      for (const svc of services.values()) {
        for (const m of svc.running.values()) clearTimeout(m.timer);
      }
      server.close((err) => (err ? reject(err) : resolve()));
      // Delayed requests and idle keep-alive connections would otherwise hold close() open.
      server.closeAllConnections();
    });
    return closing;
  };

  return {
    url,
    port,
    baseUrlFor,
    addService: (cfg) => void addService(cfg),
    updateService: (id, patch) => void updateService(id, patch),
    removeService,
    getService: (id) => {
      const svc = services.get(id);
      return svc ? view(svc) : undefined;
    },
    addWorkloads: (id, deviceRef, workloads) => addWorkloads(id, deviceRef, workloads),
    stats: (id) => statsOf(mustGet(id)),
    resetStats: (id) => {
      const svc = mustGet(id);
      svc.counters = zeroCounters();
      svc.migrationsStarted.clear();
      svc.statusChanges = [];
    },
    workloadsOn: (id, deviceRef) => listOn(mustGet(id), deviceRef),
    getWorkload: (id, workloadId) => {
      const w = mustGet(id).workloads.get(workloadId);
      return w ? copyWorkload(w) : undefined;
    },
    deviceStatus: (id, deviceRef) => statusOf(mustGet(id), deviceRef),
    close,
  };
}
