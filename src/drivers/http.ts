/**
 * JSON over HTTP for device drivers: one request with a timeout, and every way it can go wrong
 * mapped to a DriverError whose message tells an operator what happened (method, URL, status)
 * without ever carrying the password or an authorization header.
 */
import { sendOnce, statusText } from '../integrations/http-transport';
import type { z } from 'zod';
import type { Credentials } from '../domain/device-types';
import { DriverError, type DriverFailureKind, type VerifyContext } from './types';

export interface JsonCall {
  method?: 'GET' | 'POST' | 'DELETE';
  /** Path below the endpoint's base URL, starting with "/". */
  path: string;
  headers?: Record<string, string>;
  /** Sent as JSON. */
  body?: unknown;
  /**
   * The driver's first contact with the endpoint. A 404/405/410, a redirect or an answer that is
   * not JSON then means the endpoint is not what this driver manages (`incompatible`) rather
   * than a broken answer (`protocol`).
   */
  probe?: boolean;
}

export interface JsonReply {
  status: number;
  /** Parsed JSON; undefined for an empty 204. */
  body: unknown;
  /** "GET http://host:port/path", for messages. */
  label: string;
}

const EXCERPT_MAX = 160;

export function basicAuthorization(credentials: Credentials): string {
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`, 'utf8').toString('base64')}`;
}

/** Replace any trace of the secret (password, Basic token) in a message. */
export function redact(message: string, credentials?: Credentials): string {
  if (!credentials) return message;
  let out = message;
  for (const secret of [basicAuthorization(credentials).slice('Basic '.length), credentials.password]) {
    if (secret) out = out.split(secret).join('***');
  }
  return out;
}

function fail(kind: DriverFailureKind, message: string, credentials?: Credentials): never {
  throw new DriverError(kind, redact(message, credentials));
}

/** The endpoint's base URL, checked. Credentials in the URL are refused: they would end up in logs. */
export function parseEndpoint(endpoint: string, credentials?: Credentials): URL {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return fail('incompatible', `endpoint "${endpoint}" is not a valid URL`, credentials);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    fail('incompatible', `endpoint must be an http:// or https:// URL, got ${url.protocol}//...`);
  }
  if (url.username || url.password) {
    fail('incompatible', `endpoint ${url.protocol}//${url.host}${url.pathname} embeds credentials in the URL; use a credentials reference instead`);
  }
  return url;
}

/** Append `path` to the endpoint's base path (a device's paths are relative to its base URL). */
export function resolveUrl(endpoint: URL, path: string): URL {
  const base = endpoint.pathname.replace(/\/+$/, '');
  const url = new URL(endpoint.origin);
  url.pathname = `${base}${path.startsWith('/') ? path : `/${path}`}`;
  return url;
}


/** A short message from a device's JSON error body (Redfish or plain), to help the operator. */
function deviceSays(text: string, credentials?: Credentials): string {
  let message: unknown;
  try {
    const body = JSON.parse(text) as Record<string, unknown>;
    const error = body.error as Record<string, unknown> | string | undefined;
    if (typeof error === 'object' && error !== null) {
      const info = error['@Message.ExtendedInfo'];
      const first = Array.isArray(info) ? (info[0] as Record<string, unknown> | undefined) : undefined;
      message = first?.Message ?? error.message;
    } else {
      message = body.message ?? error;
    }
  } catch {
    return '';
  }
  if (typeof message !== 'string' || message.trim() === '') return '';
  // A device that echoes the secret back gets no excerpt at all.
  if (credentials && redact(message, credentials) !== message) return '';
  const clean = message.replace(/\s+/g, ' ').trim();
  return ` (device says: "${clean.length > EXCERPT_MAX ? `${clean.slice(0, EXCERPT_MAX)}...` : clean}")`;
}


/**
 * One JSON request against the device. Resolves only with a 2xx answer whose body is JSON;
 * everything else throws a DriverError:
 * - connection failure, timeout, 5xx, 408, 429: `unreachable` (may come back; worth retrying);
 * - 401/403: `credentials_rejected`, or `credentials_required` when the context has none;
 * - on a probe: 404/405/410, a redirect or a non-JSON answer: `incompatible`;
 * - any other 4xx or 3xx, a body that is not JSON: `protocol`.
 */
export async function requestJson(ctx: VerifyContext, call: JsonCall): Promise<JsonReply> {
  const { credentials } = ctx;
  const method = call.method ?? 'GET';
  const url = resolveUrl(parseEndpoint(ctx.endpoint, credentials), call.path);
  const label = `${method} ${url.origin}${url.pathname}`;

  const headers: Record<string, string> = { Accept: 'application/json', ...call.headers };
  let body: string | undefined;
  if (call.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(call.body);
  }

  // Redirects are not followed: a device that redirects is misconfigured or not the device
  // we think it is, and following would send our headers to wherever it points.
  const sent = await sendOnce(url, { method, headers, body }, ctx.timeoutMs, 'the device');
  if (!sent.ok) fail('unreachable', `${label} ${sent.message}`, credentials);
  const { status, text } = sent;
  const contentType = sent.headers.get('content-type') ?? '';
  const location = sent.headers.get('location');

  if (status === 401 || status === 403) {
    const says = deviceSays(text, credentials);
    if (!credentials) {
      fail('credentials_required', `${label} answered ${statusText(status)}: the device requires credentials and none were given${says}`);
    }
    fail(
      'credentials_rejected',
      `${label} answered ${statusText(status)}: the device rejected the credentials for user "${credentials.username}"${says}`,
      credentials,
    );
  }
  if (status >= 500 || status === 408 || status === 429) {
    fail('unreachable', `${label} answered ${statusText(status)}: the device's management service is not available${deviceSays(text, credentials)}`, credentials);
  }
  if (status >= 300 && status < 400) {
    const where = location ? ` to ${location.split('?')[0]}` : '';
    fail(
      call.probe ? 'incompatible' : 'protocol',
      `${label} answered ${statusText(status)} (a redirect${where}); the endpoint should answer directly — check the endpoint URL`,
      credentials,
    );
  }
  if (status < 200 || status >= 300) {
    if (call.probe && (status === 404 || status === 405 || status === 410)) {
      fail('incompatible', `${label} answered ${statusText(status)}: the endpoint does not offer this driver's API — wrong driver or wrong endpoint?`, credentials);
    }
    fail('protocol', `${label} answered an unexpected ${statusText(status)}${deviceSays(text, credentials)}`, credentials);
  }

  if (status === 204 && text === '') return { status, body: undefined, label };
  if (call.probe && !/json/i.test(contentType)) {
    fail('incompatible', `${label} answered ${contentType ? `"${contentType.split(';')[0]}"` : 'without a content type'} instead of JSON: the endpoint does not offer this driver's API`, credentials);
  }
  try {
    return { status, body: JSON.parse(text) as unknown, label };
  } catch {
    return fail('protocol', `${label} answered ${statusText(status)} with a body that is not valid JSON (${text.length} bytes)`, credentials);
  }
}

/** Check an answer's shape; a mismatch is a `protocol` failure naming the offending fields. */
export function parseShape<S extends z.ZodType>(schema: S, reply: JsonReply, credentials?: Credentials): z.output<S> {
  const result = schema.safeParse(reply.body);
  if (result.success) return result.data;
  const problems = result.error.issues
    .slice(0, 3)
    .map((i) => `${i.path.length ? i.path.join('.') : '(body)'}: ${i.message}`)
    .join('; ');
  const more = result.error.issues.length > 3 ? ` (+${result.error.issues.length - 3} more)` : '';
  return fail('protocol', `${reply.label} answered an unexpected shape: ${problems}${more}`, credentials);
}
