import { Router } from 'express';
import { conflict, invalid, notFound } from '../../domain/errors';
import { isCompatible, getDriver } from '../../drivers/registry';
import { Prisma } from '../../generated/prisma/client';
import { createServiceClient } from '../../integrations/service-client';
import type { ApiDeps } from '../deps';
import { deviceParams } from '../devices/schema';
import { findDevice } from '../devices/service';
import { parse } from '../validate';
import { createServiceBody, serviceParams } from './schema';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function presentService(s: Prisma.ServiceGetPayload<{ include: { consumes: { include: { device: true } } } }>) {
  return {
    id: s.id,
    name: s.name,
    kind: s.kind,
    host: s.host,
    endpoint: s.endpoint,
    credentialsRef: s.credentialsRef,
    devices: s.consumes.map((c) => ({
      deviceId: c.deviceId,
      device: c.device.name,
      deviceRef: c.deviceRef,
      driver: c.driverName,
      cordoned: c.cordonedBy !== null,
      cordonedBy: c.cordonedBy,
      cordonReason: c.cordonReason,
    })),
    createdAt: s.createdAt,
  };
}

export function servicesRouter(deps: ApiDeps): Router {
  const router = Router();

  router.post('/', async (req, res) => {
    const body = parse(createServiceBody, req, 'body');
    const links = [];
    for (const [i, link] of body.devices.entries()) {
      const device = await findDevice(deps.db, link.device).catch(() => {
        throw invalid('unknown_device', `devices[${i}]: device ${link.device} does not exist`, { field: `devices.${i}.device` });
      });
      if (link.driver) {
        const driver = getDriver(link.driver);
        if (!driver) throw invalid('unknown_driver', `devices[${i}]: no driver named ${link.driver}`, { field: `devices.${i}.driver` });
        if (!isCompatible(driver, device)) {
          throw invalid('incompatible_driver', `devices[${i}]: driver ${link.driver} cannot serve ${device.name}`, { field: `devices.${i}.driver` });
        }
      }
      links.push({ deviceId: device.id, deviceRef: link.deviceRef ?? device.name, driverName: link.driver ?? device.driverName });
    }
    if (new Set(links.map((l) => l.deviceId)).size !== links.length) {
      throw invalid('duplicate_device', 'a device is listed twice');
    }
    try {
      const created = await deps.db.service.create({
        data: {
          name: body.name,
          kind: body.kind,
          host: body.host,
          endpoint: body.endpoint,
          credentialsRef: body.credentialsRef,
          consumes: { create: links },
        },
        include: { consumes: { include: { device: true } } },
      });
      res.status(201).location(`/v1/services/${created.id}`).json(presentService(created));
    } catch (err) {
      if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002') {
        throw conflict('service_exists', `a service with this name or endpoint already exists`);
      }
      throw err;
    }
  });

  router.get('/', async (_req, res) => {
    const services = await deps.db.service.findMany({ include: { consumes: { include: { device: true } } }, orderBy: { name: 'asc' } });
    res.json({ items: services.map(presentService) });
  });

  router.get('/:id', async (req, res) => {
    const { id } = parse(serviceParams, req, 'params');
    const service = await deps.db.service.findUnique({
      where: UUID.test(id) ? { id } : { name: id },
      include: { consumes: { include: { device: true } } },
    });
    if (!service) throw notFound('service', id);
    res.json(presentService(service));
  });

  return router;
}

/** Mounted under /v1/devices/:id: the services that consume a device, and its workloads. */
export function deviceConsumersRouter(deps: ApiDeps): Router {
  const router = Router({ mergeParams: true });

  router.get('/services', async (req, res) => {
    const device = await findDevice(deps.db, parse(deviceParams, req, 'params').id);
    const consumers = await deps.db.serviceDevice.findMany({ where: { deviceId: device.id }, include: { service: true } });
    res.json({
      items: consumers.map((c) => ({
        serviceId: c.serviceId,
        service: c.service.name,
        kind: c.service.kind,
        host: c.service.host,
        deviceRef: c.deviceRef,
        driver: c.driverName,
        cordoned: c.cordonedBy !== null,
        cordonedBy: c.cordonedBy,
        cordonReason: c.cordonReason,
      })),
    });
  });

  /** Asked live of each consuming service; a drain's per-workload progress is merged in. */
  router.get('/workloads', async (req, res) => {
    const device = await findDevice(deps.db, parse(deviceParams, req, 'params').id);
    const consumers = await deps.db.serviceDevice.findMany({ where: { deviceId: device.id }, include: { service: true } });
    const items: Record<string, unknown>[] = [];
    const errors: { service: string; error: string }[] = [];
    for (const c of consumers) {
      let token: string | undefined;
      if (c.service.credentialsRef) token = (await deps.secrets?.resolve(c.service.credentialsRef))?.password;
      const client = createServiceClient({ baseUrl: c.service.endpoint, token, timeoutMs: deps.serviceRequestTimeoutMs ?? 5_000 });
      try {
        const workloads = await client.listWorkloads(c.deviceRef);
        const known = await deps.db.workload.findMany({ where: { serviceId: c.serviceId, externalId: { in: workloads.map((w) => w.id) } } });
        const byId = new Map(known.map((k) => [k.externalId, k]));
        for (const w of workloads) {
          const row = byId.get(w.id);
          items.push({ id: w.id, name: w.name, kind: w.kind, state: w.state, service: c.service.name, drainOp: row?.drainOp ?? null, drainStatus: row?.drainStatus ?? null, lastError: w.last_error ?? row?.lastError ?? null });
        }
      } catch (err) {
        errors.push({ service: c.service.name, error: (err as Error).message });
      }
    }
    res.json({ items, complete: errors.length === 0, errors });
  });

  return router;
}
