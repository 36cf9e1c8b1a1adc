import { Router } from 'express';
import type { ApiDeps } from '../deps';
import { deviceParams } from '../devices/schema';
import { findDevice } from '../devices/service';
import { parse } from '../validate';
import { emptyBody, retryDrainBody, startMaintenanceBody } from './schema';
import { cancelMaintenance, decideMaintenance, maintenanceStatus, startMaintenance } from './service';

/** Mounted at /v1/devices/:id/maintenance. */
export function maintenanceRouter(deps: ApiDeps): Router {
  const router = Router({ mergeParams: true });
  const device = async (req: Parameters<Parameters<typeof router.get>[1]>[0]) =>
    findDevice(deps.db, parse(deviceParams, req, 'params').id);

  router.post('/', async (req, res) => {
    const target = await device(req);
    const body = parse(startMaintenanceBody, req, 'body');
    const operation = await startMaintenance(deps, target, body, res.locals.actor);
    res.status(202).location(operation.href).json({ operation });
  });

  router.get('/', async (req, res) => {
    res.json(await maintenanceStatus(deps, await device(req)));
  });

  router.post('/resume', async (req, res) => {
    const target = await device(req);
    parse(emptyBody, req, 'body');
    res.status(202).json(await decideMaintenance(deps, target, { kind: 'resume' }, res.locals.actor));
  });

  router.post('/retry', async (req, res) => {
    const target = await device(req);
    const body = parse(retryDrainBody, req, 'body');
    res.status(202).json(await decideMaintenance(deps, target, { kind: 'retry', drainTimeoutMs: body.drainTimeout }, res.locals.actor));
  });

  const cancel = async (req: Parameters<Parameters<typeof router.get>[1]>[0], res: Parameters<Parameters<typeof router.get>[1]>[1]) => {
    const target = await device(req);
    parse(emptyBody, req, 'body');
    res.status(202).json(await cancelMaintenance(deps, target, res.locals.actor));
  };
  router.post('/cancel', cancel);
  router.delete('/', cancel);
  return router;
}
