import express, { type Express } from 'express';
import { randomUUID } from 'node:crypto';
import { DRIVERS } from '../drivers/registry';
import type { ApiDeps } from './deps';
import { devicesRouter } from './devices/router';
import { maintenanceRouter } from './maintenance/router';
import { deviceConsumersRouter, servicesRouter } from './services/router';
import { errorHandler, notFoundRoute } from './errors';
import { operationsRouter } from './operations/router';
import { nodesRouter, podManagersRouter, pooledRouter } from './pooled/router';

/** Builds the API; `listen` lives in src/server.ts so tests drive the app in-process. */
export function createApp(deps: ApiDeps): Express {
  const log = deps.log ?? (() => undefined);
  const app = express();
  app.disable('x-powered-by');
  app.use((req, res, next) => {
    res.locals.requestId = req.header('x-request-id') ?? randomUUID();
    res.setHeader('x-request-id', res.locals.requestId);
    // Until authentication lands (issue 5) every caller is the anonymous API user.
    res.locals.actor = 'api:anonymous';
    next();
  });
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

  app.use('/v1/devices/:id/maintenance', maintenanceRouter(deps));
  app.use('/v1/devices/:id', deviceConsumersRouter(deps));
  app.use('/v1/devices', devicesRouter(deps));
  app.use('/v1/services', servicesRouter(deps));
  app.use('/v1/podmanagers', podManagersRouter(deps));
  app.use('/v1/pooled', pooledRouter(deps));
  app.use('/v1/nodes', nodesRouter(deps));
  app.use('/v1/operations', operationsRouter(deps));
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
