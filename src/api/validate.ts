import type { Request } from 'express';
import type { z } from 'zod';
import { fromZodError } from './errors';

/** Parses one part of a request; the parsed (coerced) value is what handlers use, never the raw input. */
export function parse<S extends z.ZodType>(schema: S, req: Request, where: 'body' | 'query' | 'params'): z.infer<S> {
  const result = schema.safeParse(req[where] ?? {});
  if (!result.success) throw fromZodError(result.error, where);
  return result.data;
}
