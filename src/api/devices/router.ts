import { Router } from 'express';
import { auditTrail } from '../../db/audit';
import type { ApiDeps } from '../deps';
import { parse } from '../validate';
import { presentDevice } from './present';
import { createDeviceBody, deviceParams, listDevicesQuery } from './schema';
import { createDevice, findDevice } from './service';

export function devicesRouter(deps: ApiDeps): Router {
  const router = Router();

  router.post('/', async (req, res) => {
    const body = parse(createDeviceBody, req, 'body');
    const { device, operation } = await createDevice(deps, body, res.locals.actor);
    res.status(202).location(`/v1/devices/${device.id}`).json({ device: presentDevice(device), operation });
  });

  router.get('/', async (req, res) => {
    const q = parse(listDevicesQuery, req, 'query');
    const where = { state: q.state, type: q.type, vendor: q.vendor, driverName: q.driver };
    const [items, total] = await Promise.all([
      deps.db.device.findMany({ where, orderBy: { createdAt: 'asc' }, take: q.limit, skip: q.offset }),
      deps.db.device.count({ where }),
    ]);
    res.json({ items: items.map(presentDevice), total, limit: q.limit, offset: q.offset });
  });

  router.get('/:id', async (req, res) => {
    const { id } = parse(deviceParams, req, 'params');
    res.json(presentDevice(await findDevice(deps.db, id)));
  });

  router.get('/:id/events', async (req, res) => {
    const { id } = parse(deviceParams, req, 'params');
    const device = await findDevice(deps.db, id);
    res.json({ items: await auditTrail(deps.db, { deviceId: device.id }) });
  });

  return router;
}
