import type { ErrorRequestHandler, RequestHandler } from 'express';
import { ZodError } from 'zod';
import { DomainError } from '../domain/errors';

/** The one JSON error shape: `{ error: { code, message, details? } }`. */
export interface ErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

export function fromZodError(err: ZodError, where: 'body' | 'query' | 'params'): DomainError {
  const issues = err.issues.map((issue) => {
    const field = issue.path.join('.');
    if (issue.code === 'unrecognized_keys') return { field: issue.keys.join(', '), message: `unknown field(s): ${issue.keys.join(', ')}` };
    return { field: field || where, message: issue.message };
  });
  const summary = issues.map((i) => `${i.field}: ${i.message}`).join('; ');
  return new DomainError(400, 'validation_failed', `invalid ${where}: ${summary}`, { issues });
}

export const notFoundRoute: RequestHandler = (req, _res, next) => {
  next(new DomainError(404, 'route_not_found', `no route for ${req.method} ${req.path}`));
};

export function errorHandler(log: (entry: Record<string, unknown>) => void): ErrorRequestHandler {
  return (err, req, res, _next) => {
    let status = 500;
    let body: ErrorBody = { error: { code: 'internal_error', message: 'internal error' } };
    if (err instanceof DomainError) {
      status = err.status;
      body = { error: { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) } };
    } else if (err instanceof ZodError) {
      const mapped = fromZodError(err, 'body');
      status = mapped.status;
      body = { error: { code: mapped.code, message: mapped.message, details: mapped.details } };
    } else if (err?.type === 'entity.parse.failed') {
      status = 400;
      body = { error: { code: 'malformed_json', message: `request body is not valid JSON: ${err.message}` } };
    } else if (err?.type === 'entity.too.large') {
      status = 413;
      body = { error: { code: 'payload_too_large', message: `request body exceeds ${err.limit} bytes` } };
    } else if (err?.type === 'encoding.unsupported' || err?.type === 'charset.unsupported') {
      status = 415;
      body = { error: { code: 'unsupported_encoding', message: String(err.message) } };
    } else if (typeof err?.status === 'number' && err.status >= 400 && err.status < 500) {
      status = err.status;
      body = { error: { code: 'bad_request', message: String(err.message) } };
    }
    if (status >= 500) log({ level: 'error', msg: 'request failed', method: req.method, path: req.path, err: String(err?.stack ?? err) });
    res.status(status).json(body);
  };
}
