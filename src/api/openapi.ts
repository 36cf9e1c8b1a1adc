import { z } from 'zod';
import { ROUTES, type RouteSpec } from './routes';

/**
 * The OpenAPI 3.1 document, generated from the route table and the very zod schemas the
 * handlers validate with (their input side: what a client sends, before coercion/transforms).
 */
type JsonSchema = Record<string, unknown>;

const toSchema = (schema: z.ZodType): JsonSchema => {
  const out = z.toJSONSchema(schema, { io: 'input', target: 'draft-2020-12', unrepresentable: 'any' }) as JsonSchema;
  delete out.$schema;
  return out;
};

/** `/v1/devices/:id` → `/v1/devices/{id}`. */
export const openApiPath = (expressPath: string) => expressPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

function parameters(route: RouteSpec): JsonSchema[] {
  const out: JsonSchema[] = [];
  const pathNames = [...route.path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1]!);
  const paramShapes = (route.params?.shape ?? {}) as Record<string, z.ZodType>;
  for (const name of pathNames) {
    const schema = paramShapes[name];
    out.push({ name, in: 'path', required: true, schema: schema ? toSchema(schema) : { type: 'string' } });
  }
  if (route.query) {
    const query = toSchema(route.query) as { properties?: Record<string, JsonSchema>; required?: string[] };
    for (const [name, schema] of Object.entries(query.properties ?? {})) {
      const { description, ...rest } = schema;
      out.push({ name, in: 'query', required: (query.required ?? []).includes(name), schema: rest, ...(description ? { description } : {}) });
    }
  }
  return out;
}

const errorRef = { $ref: '#/components/schemas/Error' };
const errorResponse = (description: string) => ({ description, content: { 'application/json': { schema: errorRef } } });

function operation(route: RouteSpec): JsonSchema {
  const responses: Record<string, unknown> = {
    [String(route.success.status)]: { description: route.success.description },
  };
  if (route.params || route.query || route.body) responses['400'] = errorResponse('validation_failed: the field and why');
  if (route.access !== 'public') {
    responses['401'] = errorResponse('unauthenticated: no, malformed, unknown or revoked bearer token');
    responses['403'] = errorResponse(`forbidden: needs role ${route.access}`);
  }
  if (route.params) responses['404'] = errorResponse('not found');
  if (route.method !== 'get') responses['409'] = errorResponse('conflict: busy, closed or already exists');
  const op: JsonSchema = {
    operationId: `${route.method}${openApiPath(route.path).replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
    summary: route.summary,
    tags: [route.tag],
    'x-required-role': route.access,
    security: route.access === 'public' ? [] : [{ bearer: [] }],
    parameters: parameters(route),
    responses,
  };
  if (route.body) op.requestBody = { required: true, content: { 'application/json': { schema: toSchema(route.body) } } };
  return op;
}

export function buildOpenApi(routes: readonly RouteSpec[] = ROUTES): JsonSchema {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const p = openApiPath(route.path);
    paths[p] ??= {};
    paths[p]![route.method] = operation(route);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Device lifecycle control plane',
      version: 'v1',
      description:
        'Durable device operations (onboarding, maintenance, pooled attach/detach, pod manager sync) behind a thin API. ' +
        'Every route but /health, /v1/openapi.json and /v1/docs needs `Authorization: Bearer <token>`; ' +
        'roles reader < operator < admin (x-required-role on each operation). Errors are {"error": {"code", "message", "details?"}}.',
    },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message'],
              properties: { code: { type: 'string' }, message: { type: 'string' }, details: { type: 'object' } },
            },
          },
        },
      },
    },
    security: [{ bearer: [] }],
    paths,
  };
}
