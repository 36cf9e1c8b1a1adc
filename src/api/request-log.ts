import type { RequestHandler } from 'express';
import type { LogFn } from '../log';

/**
 * One JSON line per request, when it finishes (or the client goes away): method, path (without
 * the query string), status, duration, request id and actor. Never headers or bodies, so never
 * the Authorization header.
 */
export function requestLog(log: LogFn): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    const path = req.path;
    let done = false;
    const write = (aborted: boolean) => {
      if (done) return;
      done = true;
      const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
      log({
        level: res.statusCode >= 500 ? 'error' : 'info',
        msg: 'request',
        method: req.method,
        path,
        status: aborted ? 499 : res.statusCode,
        durationMs: Math.round(durationMs * 10) / 10,
        requestId: res.locals.requestId,
        actor: res.locals.actor,
        ...(aborted ? { aborted: true } : {}),
      });
    };
    res.once('finish', () => write(false));
    res.once('close', () => write(!res.writableFinished));
    next();
  };
}
