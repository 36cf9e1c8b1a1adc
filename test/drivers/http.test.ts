import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { parseShape, requestJson } from '../../src/drivers/http';
import { redfishDriver } from '../../src/drivers/redfish';
import { expectDriverError } from './helpers';

type Route = (req: IncomingMessage, res: ServerResponse) => void;
const routes = new Map<string, Route>();
let server: Server;
let base: string;
const creds = { username: 'svc', password: 'Http-Secret-8080' };

function json(status: number, body: unknown, headers: Record<string, string> = {}): Route {
  return (_req, res) => {
    res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const route = routes.get(req.url ?? '');
    if (route) return route(req, res);
    res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"message":"nope"}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  routes.set('/ok', json(200, { a: 1 }));
  routes.set('/redirect', json(302, {}, { Location: '/elsewhere?token=abc' }));
  routes.set('/html', (_req, res) => void res.writeHead(200, { 'Content-Type': 'text/html' }).end('<html></html>'));
  routes.set('/badjson', (_req, res) => void res.writeHead(200, { 'Content-Type': 'application/json' }).end('{oops'));
  routes.set('/forbidden', json(403, { error: { message: 'role Operator lacks Login privilege' } }));
  routes.set('/echo', json(401, { message: `bad password ${creds.password}` }));
  routes.set('/busy', json(429, { message: 'slow down' }));
  routes.set('/teapot', json(418, { message: 'short and stout' }));
  routes.set('/redfish/v1/', json(200, { hello: 'world' }));
  routes.set('/gone/redfish/v1/', json(200, { RedfishVersion: '1.0.0' }));
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const ctx = (over: Partial<{ endpoint: string; timeoutMs: number }> = {}) => ({ endpoint: base, credentials: creds, timeoutMs: 2000, ...over });

test('a 2xx JSON answer resolves with the parsed body and a label without secrets', async () => {
  const reply = await requestJson(ctx(), { path: '/ok' });
  expect(reply).toEqual({ status: 200, body: { a: 1 }, label: `GET ${base}/ok` });
});

test('endpoints that are not http(s) URLs, or embed credentials, are refused without echoing them', async () => {
  await expectDriverError(requestJson(ctx({ endpoint: 'not a url' }), { path: '/' }), 'incompatible', { message: /is not a valid URL/ });
  await expectDriverError(requestJson(ctx({ endpoint: 'ftp://host/x' }), { path: '/' }), 'incompatible', { message: /must be an http/ });
  await expectDriverError(
    requestJson(ctx({ endpoint: `http://svc:${creds.password}@127.0.0.1:1/d/x` }), { path: '/' }),
    'incompatible',
    { message: /embeds credentials in the URL/, secretOf: creds },
  );
});

test('redirects are not followed: incompatible on a probe, protocol otherwise, query strings dropped', async () => {
  const probe = await expectDriverError(requestJson(ctx(), { path: '/redirect', probe: true }), 'incompatible', {
    message: /answered 302 Found \(a redirect to \/elsewhere\)/,
  });
  expect(probe.message).not.toContain('token=abc');
  await expectDriverError(requestJson(ctx(), { path: '/redirect' }), 'protocol', { message: /302/ });
});

test('non-JSON content: incompatible on a probe; invalid JSON: protocol', async () => {
  await expectDriverError(requestJson(ctx(), { path: '/html', probe: true }), 'incompatible', { message: /"text\/html" instead of JSON/ });
  await expectDriverError(requestJson(ctx(), { path: '/badjson', probe: true }), 'protocol', { message: /not valid JSON \(5 bytes\)/ });
});

test('404 is incompatible only on the first contact; later it is a protocol failure', async () => {
  await expectDriverError(requestJson(ctx(), { path: '/missing', probe: true }), 'incompatible', { message: /404 Not Found/ });
  await expectDriverError(requestJson(ctx(), { path: '/missing' }), 'protocol', { message: /unexpected 404 Not Found \(device says: "nope"\)/ });
});

test('403 with credentials is a rejection, quoting the device', async () => {
  await expectDriverError(requestJson(ctx(), { path: '/forbidden' }), 'credentials_rejected', {
    message: /403 Forbidden: the device rejected the credentials for user "svc" \(device says: "role Operator lacks Login privilege"\)/,
  });
});

test('a device that echoes the password gets no excerpt', async () => {
  const err = await expectDriverError(requestJson(ctx(), { path: '/echo' }), 'credentials_rejected', { secretOf: creds });
  expect(err.message).not.toContain('device says');
});

test('429 is transient (unreachable); other 4xx are protocol failures', async () => {
  await expectDriverError(requestJson(ctx(), { path: '/busy' }), 'unreachable', { message: /429 Too Many Requests/ });
  await expectDriverError(requestJson(ctx(), { path: '/teapot' }), 'protocol', { message: /418 I'm a Teapot/i });
});

test('parseShape names the offending fields', () => {
  const schema = z.object({ name: z.string(), size: z.number() });
  expect(() => parseShape(schema, { status: 200, body: { name: 1 }, label: 'GET http://x/y' })).toThrow(
    /GET http:\/\/x\/y answered an unexpected shape: name: .*; size: /,
  );
});

test('the Redfish driver calls JSON that is not a service root incompatible', async () => {
  await expectDriverError(redfishDriver.verify(ctx()), 'incompatible', { message: /not a Redfish service root/ });
  await expectDriverError(redfishDriver.verify(ctx({ endpoint: `${base}/gone` })), 'incompatible', {
    message: /exposes neither Systems nor Chassis/,
  });
});
