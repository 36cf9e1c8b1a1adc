import request from 'supertest';
import { createApp } from '../../src/api/app';
import type { ApiDeps } from '../../src/api/deps';
import { DOCS_CSP } from '../../src/api/docs';
import { expressRoutes } from '../../src/api/express-routes';
import { openApiPath } from '../../src/api/openapi';
import { ROUTES } from '../../src/api/routes';
import { createDeviceBody } from '../../src/api/devices/schema';
import { createTokenStore, parseTokenList } from '../../src/auth/tokens';

// Neither the document nor the docs page touches the database or Temporal.
const deps = { db: {}, temporal: {}, taskQueue: 'unused' } as unknown as ApiDeps;
const app = createApp({ ...deps, auth: createTokenStore(parseTokenList('r:reader:openapi-reader-token-0001')) });

async function documentOf(): Promise<any> {
  const res = await request(app).get('/v1/openapi.json').expect(200).expect('content-type', /json/);
  return res.body;
}

test('GET /v1/openapi.json is an OpenAPI 3.1 document, open without a token', async () => {
  const doc = await documentOf();
  expect(doc.openapi).toBe('3.1.0');
  expect(doc.components.securitySchemes.bearer).toEqual({ type: 'http', scheme: 'bearer' });
});

test('every route Express serves is in the document, and the document has nothing else', async () => {
  const doc = await documentOf();
  const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>)
    .flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`))
    .sort();
  const served = expressRoutes(app)
    .map((r) => `${r.method.toUpperCase()} ${openApiPath(r.path)}`)
    .sort();
  expect(served.length).toBeGreaterThan(25);
  expect(documented).toEqual(served);
});

test('each operation names its role, its path parameters and its security', async () => {
  const doc = await documentOf();
  for (const route of ROUTES) {
    const op = doc.paths[openApiPath(route.path)][route.method];
    expect(op['x-required-role']).toBe(route.access);
    expect(op.security).toEqual(route.access === 'public' ? [] : [{ bearer: [] }]);
    const pathParams = op.parameters.filter((p: { in: string }) => p.in === 'path').map((p: { name: string }) => p.name);
    expect(pathParams).toEqual([...route.path.matchAll(/:(\w+)/g)].map((m) => m[1]));
    if (route.access !== 'public') expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['401', '403']));
    expect(Object.keys(op.responses)).toContain(String(route.success.status));
  }
});

test('request bodies and queries come from the zod schemas the handlers validate with', async () => {
  const doc = await documentOf();
  const body = doc.paths['/v1/devices'].post.requestBody.content['application/json'].schema;
  expect(body.required.sort()).toEqual(['endpoint', 'name', 'type', 'vendor']);
  expect(body.additionalProperties).toBe(false);
  expect(body.properties.type.enum).toEqual(createDeviceBody.shape.type.options);
  // Input side: a duration is a number of seconds or a string, before it is parsed to ms.
  const maintenance = doc.paths['/v1/devices/{id}/maintenance'].post.requestBody.content['application/json'].schema;
  expect(maintenance.properties.drainTimeout.anyOf.map((s: { type: string }) => s.type).sort()).toEqual(['number', 'string']);
  const query = doc.paths['/v1/devices'].get.parameters.filter((p: { in: string }) => p.in === 'query');
  expect(query.map((p: { name: string }) => p.name)).toEqual(['state', 'type', 'vendor', 'driver', 'limit', 'offset']);
  expect(query.every((p: { required: boolean }) => p.required === false)).toBe(true);
  const ops = doc.paths['/v1/operations'].get.parameters.map((p: { name: string }) => p.name);
  expect(ops).toEqual(expect.arrayContaining(['deviceId', 'type', 'status', 'pageSize', 'nextPageToken']));
});

test('GET /v1/docs is a self-contained HTML page that renders from openapi.json', async () => {
  const res = await request(app).get('/v1/docs').expect(200).expect('content-type', /html/);
  expect(res.headers['content-security-policy']).toBe(DOCS_CSP);
  expect(res.text).toContain("fetch('/v1/openapi.json')");
  // No external assets: nothing is loaded from another origin.
  expect(res.text).not.toMatch(/<script[^>]+src=|<link[^>]+href=|https?:\/\/(?!json-schema)/);
});
