import { STATUS_CODES } from 'node:http';

/**
 * The transport the device drivers and the service and pod manager clients share: one fetch,
 * bounded in time, redirects never followed (they would carry our credentials wherever they
 * point), and failures described in an operator's words naming the peer.
 */
export function statusText(status: number): string {
  return `${status} ${STATUS_CODES[status] ?? ''}`.trim();
}

export function describeNetworkError(err: unknown, peer: string): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const code = cause?.code ?? (err as { code?: string }).code;
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused (nothing is listening there) [ECONNREFUSED]';
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
      return `the connection was closed by ${peer} before it answered [${code}]`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `the host name could not be resolved [${code}]`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `no route to the host [${code}]`;
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return `the connection attempt timed out [${code}]`;
    default: {
      const detail = cause?.message ?? (err as Error).message ?? String(err);
      return code ? `${detail} [${code}]` : detail;
    }
  }
}

export type Sent =
  | { ok: true; status: number; text: string; headers: Headers }
  /** `message` continues a label such as "GET http://...": "timed out after ..." or "failed: ...". */
  | { ok: false; message: string };

export async function sendOnce(
  url: string | URL,
  init: { method: string; headers: Record<string, string>; body?: string },
  timeoutMs: number,
  peer: string,
): Promise<Sent> {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  try {
    const res = await fetch(url, { ...init, signal: controller.signal, redirect: 'manual' });
    const text = await res.text();
    return { ok: true, status: res.status, text, headers: res.headers };
  } catch (err) {
    if (timedOut) return { ok: false, message: `timed out after ${timeoutMs} ms without an answer from ${peer}` };
    return { ok: false, message: `failed: ${describeNetworkError(err, peer)}` };
  } finally {
    clearTimeout(timer);
  }
}
