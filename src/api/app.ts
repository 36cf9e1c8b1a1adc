import express, { type Express } from 'express';
import { randomUUID } from 'node:crypto';
import { DRIVERS } from '../drivers/registry';
import type { ApiDeps } from './deps';
import { codecCors, codecRouter } from './codec/router';
import { devicesRouter } from './devices/router';
import { maintenanceRouter } from './maintenance/router';
import { deviceConsumersRouter, servicesRouter } from './services/router';
import { errorHandler, notFoundRoute } from './errors';
import { operationsRouter } from './operations/router';
import { nodesRouter, podManagersRouter, pooledRouter } from './pooled/router';
import { authenticate } from '../auth/middleware';
import { DOCS_CSP, DOCS_HTML } from './docs';
import { buildOpenApi } from './openapi';
import { requestLog } from './request-log';
import { findRoute } from './routes';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Builds the API; `listen` lives in src/server.ts so tests drive the app in-process.
 * With `deps.auth` every route but the public ones needs a bearer token whose role the route
 * table (src/api/routes.ts) allows; without it (in-process tests only: src/server.ts always
 * passes it) every caller is `api:anonymous`.
 */
export function createApp(deps: ApiDeps): Express {
  const log = deps.log ?? (() => undefined);
  const app = express();
  app.disable('x-powered-by');
  app.use((req, res, next) => {
    const given = req.header('x-request-id');
    res.locals.requestId = given && REQUEST_ID.test(given) ? given : randomUUID();
    res.setHeader('x-request-id', res.locals.requestId);
    res.locals.actor = deps.auth ? undefined : 'api:anonymous';
    next();
  });
  app.use(requestLog(log));
  // CORS preflights for the codec endpoint carry no token: answered before authentication.
  app.use(codecCors(deps.codecCorsOrigin ?? 'http://localhost:8233'));
  // Before the body is parsed: a refused request does nothing at all.
  if (deps.auth) app.use(authenticate(deps.auth, (method, path) => findRoute(method, path)?.access));
  // Any JSON-ish body is parsed (so a wrong content type cannot slip past validation as {}).
  app.use(express.json({ limit: deps.bodyLimit ?? '64kb', type: () => true, strict: true }));

  app.get('/health', async (_req, res) => {
    const checks: Record<string, string> = {};
    await deps.db.$queryRaw`SELECT 1`.then(() => (checks.database = 'ok'), (e: Error) => (checks.database = e.message));
    await deps.temporal.connection.workflowService
      .getSystemInfo({})
      .then(() => (checks.temporal = 'ok'), (e: Error) => (checks.temporal = e.message));
    const ok = Object.values(checks).every((v) => v === 'ok');
    res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'degraded', checks });
  });

  const openapi = buildOpenApi();
  app.get('/v1/openapi.json', (_req, res) => {
    res.json(openapi);
  });
  app.get('/v1/docs', (_req, res) => {
    res.setHeader('content-security-policy', DOCS_CSP);
    res.type('html').send(DOCS_HTML);
  });

  app.use('/v1/devices/:id/maintenance', maintenanceRouter(deps));
  app.use('/v1/devices/:id', deviceConsumersRouter(deps));
  app.use('/v1/devices', devicesRouter(deps));
  app.use('/v1/services', servicesRouter(deps));
  app.use('/v1/podmanagers', podManagersRouter(deps));
  app.use('/v1/pooled', pooledRouter(deps));
  app.use('/v1/nodes', nodesRouter(deps));
  app.use('/v1/operations', operationsRouter(deps));
  app.use('/v1/codec', codecRouter(deps));
  app.get('/v1/drivers', (_req, res) => {
    res.json({
      items: DRIVERS.map((d) => ({
        name: d.name,
        version: d.version,
        description: d.description,
        deviceTypes: d.deviceTypes,
        vendors: d.vendors,
        models: d.models ?? [],
      })),
    });
  });

  app.use(notFoundRoute);
  app.use(errorHandler(log));
  return app;
}
