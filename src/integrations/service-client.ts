/**
 * HTTP client for the services that consume a device (a compute service on a hypervisor host, a
 * volume backend on a storage array): cordon and uncordon the device (Nova os-services style
 * status with a reason), list the workloads on it, migrate or stop them.
 *
 * Every request has a timeout, every answer is checked with zod, and every way a request can go
 * wrong is a ServiceClientError whose `kind` tells the caller what to do about it:
 * - `unreachable`: connection failure, timeout, 5xx, 408; the service may come back, retry;
 * - `budget`: 429, the service's disruption budget refuses for now; retry after `retryAfterMs`;
 * - `rejected`: 401/403 (the token is missing or not accepted) or 409 (the service refuses in the
 *   workload's current state); retrying the same request will not help;
 * - `not_found`: 404 (unknown service, device or workload);
 * - `protocol`: anything else (other 4xx, a redirect, a body that is not JSON or not the expected
 *   shape): the client and the service disagree, retrying will not help.
 * Messages name the method, URL and status, never the token.
 */
import { sendOnce, statusText } from './http-transport';
import { z } from 'zod';

export type ServiceClientErrorKind = 'unreachable' | 'budget' | 'rejected' | 'not_found' | 'protocol';

export class ServiceClientError extends Error {
  /** HTTP status, when the service answered. */
  readonly status?: number;
  /** The service's error code (`error.code` of its JSON error body), when it sent one. */
  readonly code?: string;
  /** How long the service asked to wait before retrying (429; from `retry_after_ms` or `Retry-After`). */
  readonly retryAfterMs?: number;

  constructor(
    readonly kind: ServiceClientErrorKind,
    message: string,
    details: { status?: number; code?: string; retryAfterMs?: number } = {},
  ) {
    super(message);
    this.name = 'ServiceClientError';
    if (details.status !== undefined) this.status = details.status;
    if (details.code !== undefined) this.code = details.code;
    if (details.retryAfterMs !== undefined) this.retryAfterMs = details.retryAfterMs;
  }

  /** Whether the same request may succeed later. */
  get retryable(): boolean {
    return this.kind === 'unreachable' || this.kind === 'budget';
  }
}

// ------------------------------------------------------------------ shapes

export const serviceDescriptionSchema = z.object({
  id: z.string(),
  kind: z.enum(['compute', 'volume', 'network']),
  host: z.string(),
});
export type ServiceDescription = z.output<typeof serviceDescriptionSchema>;

export const deviceServiceStatusSchema = z.object({
  device: z.string(),
  status: z.enum(['enabled', 'disabled']),
  disabled_reason: z.string().nullable(),
});
export type DeviceServiceStatus = z.output<typeof deviceServiceStatusSchema>;

export const workloadSchema = z.object({
  id: z.string(),
  name: z.string(),
  kind: z.enum(['instance', 'volume']),
  state: z.enum(['active', 'migrating', 'stopped', 'error']),
  /** The device it runs on; a migrating workload is still on its source device until it lands. */
  device: z.string(),
  /** Why the latest migration failed (a failed migration leaves the workload active where it was). */
  last_error: z.string().nullable(),
});
export type Workload = z.output<typeof workloadSchema>;

const workloadListSchema = z.object({ workloads: z.array(workloadSchema) });

export interface MigrateResult {
  /**
   * true (202): a migration of the workload is running, started by this request or by an earlier
   * one with the same key (or another key). false (200): nothing is running for this request: the
   * workload is no longer on `fromDevice`, or the migration this key started has ended (landed or
   * failed; check `workload.device` and `workload.last_error`).
   */
  accepted: boolean;
  workload: Workload;
}

export interface ServiceClientOptions {
  /** The service's base URL, e.g. http://127.0.0.1:7102/s/nova-compute-1 */
  baseUrl: string;
  /** Sent as `X-Auth-Token` on every request when given. */
  token?: string;
  /** Upper bound on one request, connection to last byte. */
  timeoutMs: number;
}

export interface ServiceClient {
  readonly baseUrl: string;
  describe(): Promise<ServiceDescription>;
  /** Cordon ("disabled", with a reason: the service refuses to disable without one) or uncordon ("enabled"). Idempotent. */
  setDeviceStatus(deviceRef: string, status: 'enabled' | 'disabled', reason?: string): Promise<DeviceServiceStatus>;
  getDeviceStatus(deviceRef: string): Promise<DeviceServiceStatus>;
  /** The workloads on the device now (stopped ones are no longer on it). */
  listWorkloads(deviceRef: string): Promise<Workload[]>;
  /** undefined when the service says it has no such workload. */
  getWorkload(id: string): Promise<Workload | undefined>;
  /**
   * Ask the service to move the workload off `fromDevice`. The same key never starts a second
   * migration, so a caller that crashed may resend it; a new attempt after a failed one needs a
   * new key.
   */
  migrateWorkload(id: string, fromDevice: string, idempotencyKey: string): Promise<MigrateResult>;
  /** Stop the workload (it then no longer occupies its device). Idempotent per key, and on a stopped workload. */
  stopWorkload(id: string, idempotencyKey: string): Promise<Workload>;
}

// ------------------------------------------------------------------ transport

const EXCERPT_MAX = 160;
const TOKEN_PATTERN = /^[\x21-\x7e]+$/;
const IDEMPOTENCY_KEY_PATTERN = /^[\x20-\x7e]{1,255}$/;



/** The wait a 429 asks for: the body's `retry_after_ms` if present, else `Retry-After` (seconds or an HTTP date). */
function retryAfter(body: unknown, header: string | null): number | undefined {
  const fromBody = (body as { error?: { retry_after_ms?: unknown }; retry_after_ms?: unknown } | undefined) ?? {};
  for (const v of [fromBody.error?.retry_after_ms, fromBody.retry_after_ms]) {
    if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return Math.round(v);
  }
  if (header === null) return undefined;
  const trimmed = header.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

export function createServiceClient(opts: ServiceClientOptions): ServiceClient {
  const { token, timeoutMs } = opts;
  const redact = (message: string): string => (token ? message.split(token).join('***') : message);
  const fail = (kind: ServiceClientErrorKind, message: string, details?: ConstructorParameters<typeof ServiceClientError>[2]): never => {
    throw new ServiceClientError(kind, redact(message), details);
  };

  let base: URL;
  try {
    base = new URL(opts.baseUrl);
  } catch {
    // The URL could hold anything; keep it out of the message beyond its length.
    return fail('protocol', `service base URL is not a valid URL (${opts.baseUrl.length} characters)`);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    fail('protocol', `service base URL must be http:// or https://, got ${base.protocol}//...`);
  }
  if (base.username || base.password) {
    fail('protocol', `service base URL ${base.protocol}//${base.host}${base.pathname} embeds credentials; use a credentials reference instead`);
  }
  if (token !== undefined && !TOKEN_PATTERN.test(token)) {
    fail('protocol', 'the service token must be printable ASCII without spaces (it travels in the X-Auth-Token header)');
  }
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) fail('protocol', `timeoutMs must be a positive number, got ${timeoutMs}`);
  const basePath = base.pathname.replace(/\/+$/, '');
  const baseUrl = `${base.origin}${basePath}`;

  const serviceSays = (body: unknown): string => {
    const error = (body as { error?: unknown } | undefined)?.error;
    const message = typeof error === 'object' && error !== null ? (error as { message?: unknown }).message : undefined;
    if (typeof message !== 'string' || message.trim() === '') return '';
    const clean = redact(message.replace(/\s+/g, ' ').trim());
    return ` (service says: "${clean.length > EXCERPT_MAX ? `${clean.slice(0, EXCERPT_MAX)}...` : clean}")`;
  };

  interface Reply {
    status: number;
    body: unknown;
    label: string;
  }

  /**
   * One request. Resolves with a 2xx JSON answer, or with a 404 when `allow404` says so;
   * everything else throws a ServiceClientError.
   */
  async function call(
    method: 'GET' | 'PUT' | 'POST',
    segments: string[],
    init: { body?: unknown; idempotencyKey?: string; allow404?: (code: string | undefined) => boolean } = {},
  ): Promise<Reply> {
    const url = new URL(base.origin);
    url.pathname = `${basePath}/${segments.map(encodeURIComponent).join('/')}`;
    const label = `${method} ${url.origin}${url.pathname}`;
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (token !== undefined) headers['X-Auth-Token'] = token;
    if (init.idempotencyKey !== undefined) {
      if (!IDEMPOTENCY_KEY_PATTERN.test(init.idempotencyKey)) {
        fail('protocol', `${label}: the idempotency key must be 1-255 printable ASCII characters`);
      }
      headers['Idempotency-Key'] = init.idempotencyKey;
    }
    let payload: string | undefined;
    if (init.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      payload = JSON.stringify(init.body);
    }

    // Redirects are not followed: they would carry the token wherever they point.
    const sent = await sendOnce(url, { method, headers, body: payload }, timeoutMs, 'the service');
    if (!sent.ok) return fail('unreachable', `${label} ${sent.message}`);
    const { status, text } = sent;
    const retryAfterHeader = sent.headers.get('retry-after');

    let body: unknown;
    let json = true;
    try {
      body = text === '' ? undefined : (JSON.parse(text) as unknown);
    } catch {
      json = false;
    }
    const errorCode = (() => {
      const error = (body as { error?: unknown } | undefined)?.error;
      const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
      return typeof code === 'string' ? code : undefined;
    })();
    const details = { status, ...(errorCode !== undefined ? { code: errorCode } : {}) };
    const says = serviceSays(body);

    if (status >= 200 && status < 300) {
      if (!json || body === undefined) {
        fail('protocol', `${label} answered ${statusText(status)} with a body that is not JSON (${text.length} bytes)`, details);
      }
      return { status, body, label };
    }
    if (status === 429) {
      const wait = retryAfter(body, retryAfterHeader);
      fail('budget', `${label} answered ${statusText(status)}: the service refuses for now${says}`, {
        ...details,
        ...(wait !== undefined ? { retryAfterMs: wait } : {}),
      });
    }
    if (status >= 500 || status === 408) {
      fail('unreachable', `${label} answered ${statusText(status)}: the service is not available${says}`, details);
    }
    if (status === 401 || status === 403) {
      const why = token === undefined ? 'the service requires a token and none was given' : 'the service did not accept the token';
      fail('rejected', `${label} answered ${statusText(status)}: ${why}${says}`, details);
    }
    if (status === 409) fail('rejected', `${label} answered ${statusText(status)}: the service refuses in the current state${says}`, details);
    if (status === 404) {
      if (init.allow404?.(errorCode)) return { status, body, label };
      fail('not_found', `${label} answered ${statusText(status)}${says}`, details);
    }
    if (status >= 300 && status < 400) {
      fail('protocol', `${label} answered ${statusText(status)} (a redirect); the base URL should point at the service itself`, details);
    }
    return fail('protocol', `${label} answered an unexpected ${statusText(status)}${says}`, details);
  }

  function parse<S extends z.ZodType>(schema: S, reply: Reply): z.output<S> {
    const result = schema.safeParse(reply.body);
    if (result.success) return result.data;
    const problems = result.error.issues
      .slice(0, 3)
      .map((i) => `${i.path.length ? i.path.join('.') : '(body)'}: ${i.message}`)
      .join('; ');
    const more = result.error.issues.length > 3 ? ` (+${result.error.issues.length - 3} more)` : '';
    return fail('protocol', `${reply.label} answered an unexpected shape: ${problems}${more}`, { status: reply.status });
  }

  return {
    baseUrl,

    async describe() {
      return parse(serviceDescriptionSchema, await call('GET', []));
    },

    async setDeviceStatus(deviceRef, status, reason) {
      const body = status === 'disabled' ? { status, disabled_reason: reason ?? null } : { status };
      return parse(deviceServiceStatusSchema, await call('PUT', ['devices', deviceRef, 'status'], { body }));
    },

    async getDeviceStatus(deviceRef) {
      return parse(deviceServiceStatusSchema, await call('GET', ['devices', deviceRef, 'status']));
    },

    async listWorkloads(deviceRef) {
      return parse(workloadListSchema, await call('GET', ['devices', deviceRef, 'workloads'])).workloads;
    },

    async getWorkload(id) {
      // Only the service's own "no such workload" means undefined: a 404 for a wrong base URL or
      // an unknown service must not read as "the workload is gone".
      const reply = await call('GET', ['workloads', id], { allow404: (code) => code === 'unknown_workload' });
      return reply.status === 404 ? undefined : parse(workloadSchema, reply);
    },

    async migrateWorkload(id, fromDevice, idempotencyKey) {
      const reply = await call('POST', ['workloads', id, 'migrate'], { body: { from_device: fromDevice }, idempotencyKey });
      return { accepted: reply.status === 202, workload: parse(workloadSchema, reply) };
    },

    async stopWorkload(id, idempotencyKey) {
      return parse(workloadSchema, await call('POST', ['workloads', id, 'stop'], { idempotencyKey }));
    },
  };
}
