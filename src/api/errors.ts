import { ServiceError, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { ZodError } from 'zod';
import { DomainError } from '../domain/errors';
import { Prisma } from '../generated/prisma/client';
import { temporalUnavailable } from './operations/temporal';

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

const DB_DOWN_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', '57P01', '57P03', 'P1001', 'P1002', 'P1017']);

/** A connection-level failure anywhere in an error's cause chain (pg driver, Prisma adapter). */
function databaseDown(err: unknown): boolean {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (typeof e.code === 'string' && DB_DOWN_CODES.has(e.code)) return true;
  }
  return err instanceof Prisma.PrismaClientInitializationError;
}

/**
 * The one place where errors of Temporal and Prisma that a route did not map itself become API
 * errors: a missing run is 404, a refused update 409, Temporal or the database out of reach 503,
 * a unique or missing row 409/404. Anything else stays a 500 (logged, never shown).
 */
export function mapInfrastructureError(err: unknown): DomainError | undefined {
  if (err instanceof WorkflowNotFoundError) return new DomainError(404, 'operation_not_found', `operation ${err.workflowId} not found`);
  if (err instanceof WorkflowUpdateFailedError) return new DomainError(409, 'update_refused', err.cause?.message ?? err.message);
  if (err instanceof ServiceError) return temporalUnavailable(err);
  if (err instanceof Prisma.PrismaClientKnownRequestError) {
    if (err.code === 'P2002') return new DomainError(409, 'conflict', 'a row with the same unique value exists (written concurrently?)', { fields: err.meta?.target ?? null });
    if (err.code === 'P2025') return new DomainError(404, 'not_found', 'the row this request needs no longer exists');
  }
  if (databaseDown(err)) return new DomainError(503, 'database_unavailable', 'the database did not answer; try again');
  return undefined;
}

export function errorHandler(log: (entry: Record<string, unknown>) => void): ErrorRequestHandler {
  return (err, req, res, _next) => {
    let status = 500;
    let body: ErrorBody = { error: { code: 'internal_error', message: 'internal error' } };
    const mapped = err instanceof DomainError ? undefined : mapInfrastructureError(err);
    const domain = err instanceof DomainError ? err : mapped;
    if (domain) {
      status = domain.status;
      body = { error: { code: domain.code, message: domain.message, ...(domain.details ? { details: domain.details } : {}) } };
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
    if (mapped && status >= 500) log({ level: 'warn', msg: 'dependency unavailable', method: req.method, path: req.path, code: mapped.code, err: String(err?.message ?? err) });
    else if (status >= 500) log({ level: 'error', msg: 'request failed', method: req.method, path: req.path, err: String(err?.stack ?? err) });
    res.status(status).json(body);
  };
}
