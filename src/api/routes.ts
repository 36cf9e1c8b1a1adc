import type { z } from 'zod';
import type { Access } from '../auth/roles';
import { createDeviceBody, deviceParams, listDevicesQuery, retryBody } from './devices/schema';
import { emptyBody, retryDrainBody, startMaintenanceBody } from './maintenance/schema';
import { codecBody } from './codec/schema';
import { abandonBody, listOperationsQuery, noBody, operationParams } from './operations/schema';
import { createPodmBody, idParam, listPooledQuery, nodeActionBody, refreshBody } from './pooled/schema';
import { createServiceBody, serviceParams } from './services/schema';

export type Method = 'get' | 'post' | 'delete';

/**
 * Every route of the API, in one declarative table: who may call it (the auth middleware reads
 * `access`), and what it takes (the OpenAPI document is generated from the same zod schemas the
 * handlers validate with). test/api/auth.test.ts and test/api/openapi.test.ts fail when a route
 * registered with Express has no row here, or a row has no route.
 *
 * Roles: reader reads; operator also starts and steers operations (onboard, maintenance,
 * retry/cancel/resume/abandon, attach/detach, refresh); admin also registers and deletes
 * services and pod managers.
 */
export interface RouteSpec {
  method: Method;
  /** Express form: `/v1/devices/:id`. */
  path: string;
  access: Access;
  tag: string;
  summary: string;
  params?: z.ZodObject;
  query?: z.ZodType;
  body?: z.ZodType;
  /** Success status and what it answers. */
  success: { status: number; description: string };
}

const ok = (description: string) => ({ status: 200, description });
const accepted = (description: string) => ({ status: 202, description });
const created = (description: string) => ({ status: 201, description });

export const ROUTES: readonly RouteSpec[] = [
  { method: 'get', path: '/health', access: 'public', tag: 'meta', summary: 'Database and Temporal reachability', success: ok('ok, or 503 degraded') },
  { method: 'get', path: '/v1/openapi.json', access: 'public', tag: 'meta', summary: 'This API as an OpenAPI 3.1 document', success: ok('the document') },
  { method: 'get', path: '/v1/docs', access: 'public', tag: 'meta', summary: 'Browsable list of operations (HTML)', success: ok('an HTML page') },
  { method: 'get', path: '/v1/drivers', access: 'reader', tag: 'drivers', summary: 'Drivers this build ships', success: ok('drivers') },

  // Devices
  { method: 'post', path: '/v1/devices', access: 'operator', tag: 'devices', summary: 'Record a device (ENROLLED) and start its onboarding', body: createDeviceBody, success: accepted('{device, operation}') },
  { method: 'get', path: '/v1/devices', access: 'reader', tag: 'devices', summary: 'List devices', query: listDevicesQuery, success: ok('{items, total, limit, offset}') },
  { method: 'get', path: '/v1/devices/:id', access: 'reader', tag: 'devices', summary: 'One device (uuid or name), with its running operation', params: deviceParams, success: ok('the device') },
  { method: 'get', path: '/v1/devices/:id/events', access: 'reader', tag: 'devices', summary: "A device's audit trail", params: deviceParams, success: ok('{items}') },
  { method: 'get', path: '/v1/devices/:id/services', access: 'reader', tag: 'devices', summary: 'Services consuming a device', params: deviceParams, success: ok('{items}') },
  { method: 'get', path: '/v1/devices/:id/workloads', access: 'reader', tag: 'devices', summary: "A device's workloads, asked live of each service", params: deviceParams, success: ok('{items, complete, errors}') },

  // Maintenance
  { method: 'post', path: '/v1/devices/:id/maintenance', access: 'operator', tag: 'maintenance', summary: 'Cordon, drain and hold a device in MAINTENANCE', params: deviceParams, body: startMaintenanceBody, success: accepted('{operation}') },
  { method: 'get', path: '/v1/devices/:id/maintenance', access: 'reader', tag: 'maintenance', summary: 'Maintenance phase and drain progress', params: deviceParams, success: ok('status') },
  { method: 'post', path: '/v1/devices/:id/maintenance/resume', access: 'operator', tag: 'maintenance', summary: 'Uncordon, re-verify, ACTIVE', params: deviceParams, body: emptyBody, success: accepted('decision accepted') },
  { method: 'post', path: '/v1/devices/:id/maintenance/retry', access: 'operator', tag: 'maintenance', summary: 'Retry a drain that missed its deadline', params: deviceParams, body: retryDrainBody, success: accepted('decision accepted') },
  { method: 'post', path: '/v1/devices/:id/maintenance/cancel', access: 'operator', tag: 'maintenance', summary: 'Cancel a maintenance (rolls the cordon back)', params: deviceParams, body: emptyBody, success: accepted('cancel requested') },
  // Same as POST .../cancel: steering an operation, not deleting a resource.
  { method: 'delete', path: '/v1/devices/:id/maintenance', access: 'operator', tag: 'maintenance', summary: 'Cancel a maintenance (same as POST .../cancel)', params: deviceParams, body: emptyBody, success: accepted('cancel requested') },

  // Operations
  { method: 'get', path: '/v1/operations', access: 'reader', tag: 'operations', summary: 'List runs from Temporal visibility', query: listOperationsQuery, success: ok('{items, nextPageToken}') },
  { method: 'get', path: '/v1/operations/:workflowId', access: 'reader', tag: 'operations', summary: 'Status, step, attempts, last error, progress, result', params: operationParams, success: ok('the operation') },
  { method: 'post', path: '/v1/operations/:workflowId/retry', access: 'operator', tag: 'operations', summary: 'Retry a failed verification (or a maintenance drain)', params: operationParams, body: retryBody, success: accepted('retry accepted') },
  { method: 'post', path: '/v1/operations/:workflowId/abandon', access: 'operator', tag: 'operations', summary: 'Give up an onboarding (device ABANDONED)', params: operationParams, body: abandonBody, success: accepted('abandon accepted') },
  { method: 'post', path: '/v1/operations/:workflowId/cancel', access: 'operator', tag: 'operations', summary: 'Cancel a run', params: operationParams, body: noBody, success: accepted('cancel requested') },

  // Services
  { method: 'post', path: '/v1/services', access: 'admin', tag: 'services', summary: 'Register a service and the devices it consumes', body: createServiceBody, success: created('the service') },
  { method: 'get', path: '/v1/services', access: 'reader', tag: 'services', summary: 'List services', success: ok('{items}') },
  { method: 'get', path: '/v1/services/:id', access: 'reader', tag: 'services', summary: 'One service (uuid or name)', params: serviceParams, success: ok('the service') },

  // Pod managers and pooled devices
  { method: 'post', path: '/v1/podmanagers', access: 'admin', tag: 'pooled', summary: 'Register a pod manager and start its sync', body: createPodmBody, success: created('{podmanager, operation}') },
  { method: 'get', path: '/v1/podmanagers', access: 'reader', tag: 'pooled', summary: 'List pod managers', success: ok('{items}') },
  { method: 'get', path: '/v1/podmanagers/:id', access: 'reader', tag: 'pooled', summary: 'One pod manager, last sync and live progress', params: idParam, success: ok('the pod manager') },
  { method: 'get', path: '/v1/podmanagers/:id/events', access: 'reader', tag: 'pooled', summary: "A pod manager's audit trail: registration, syncs that changed or failed, refreshes, deletion", params: idParam, success: ok('{items}') },
  { method: 'delete', path: '/v1/podmanagers/:id', access: 'admin', tag: 'pooled', summary: 'Stop the sync and mark its devices VANISHED', params: idParam, success: ok('{id, deleted, devicesMarked}') },
  { method: 'post', path: '/v1/podmanagers/:id/refresh', access: 'operator', tag: 'pooled', summary: 'Run a sync now and answer its result', params: idParam, body: refreshBody, success: ok('{podmanager, result}') },
  { method: 'get', path: '/v1/pooled', access: 'reader', tag: 'pooled', summary: 'Pooled devices (Valence fields)', query: listPooledQuery, success: ok('{items, total, limit, offset}') },
  { method: 'get', path: '/v1/pooled/:id', access: 'reader', tag: 'pooled', summary: 'One pooled device', params: idParam, success: ok('the pooled device') },
  { method: 'get', path: '/v1/pooled/:id/events', access: 'reader', tag: 'pooled', summary: "A pooled device's audit trail: attach/detach requests and their outcomes", params: idParam, success: ok('{items}') },
  { method: 'get', path: '/v1/nodes', access: 'reader', tag: 'pooled', summary: 'Composed nodes', success: ok('{items}') },
  { method: 'post', path: '/v1/nodes/:id/action', access: 'operator', tag: 'pooled', summary: 'Attach or detach a pooled device (Valence-compatible)', params: idParam, body: nodeActionBody, success: accepted('{operation, device_id, node_id}') },

  // Codec endpoint for the Temporal UI / CLI (sealed payloads). Decoding reveals data: operator.
  { method: 'post', path: '/v1/codec/encode', access: 'operator', tag: 'codec', summary: 'Seal payloads with the current key (Temporal codec server protocol)', body: codecBody, success: ok('{payloads}; 404 codec_not_configured without PAYLOAD_CODEC_KEYS') },
  { method: 'post', path: '/v1/codec/decode', access: 'operator', tag: 'codec', summary: 'Open sealed payloads (Temporal codec server protocol)', body: codecBody, success: ok('{payloads}; 404 codec_not_configured without PAYLOAD_CODEC_KEYS') },
];

interface Compiled {
  route: RouteSpec;
  regexp: RegExp;
  literals: number;
}

/** Express matches paths case-insensitively, with an optional trailing slash: so does this. */
function compile(route: RouteSpec): Compiled {
  const segments = route.path.split('/').filter(Boolean);
  const pattern = segments
    .map((s) => (s.startsWith(':') ? '/[^/]+' : `/${s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`))
    .join('');
  return { route, regexp: new RegExp(`^${pattern || ''}/?$`, 'i'), literals: segments.filter((s) => !s.startsWith(':')).length };
}

const COMPILED = ROUTES.map(compile);

/** The table row for a request, or undefined when no route serves it (HEAD is GET). */
export function findRoute(method: string, path: string): RouteSpec | undefined {
  const m = (method.toLowerCase() === 'head' ? 'get' : method.toLowerCase()) as Method;
  let best: Compiled | undefined;
  for (const c of COMPILED) {
    if (c.route.method !== m || !c.regexp.test(path)) continue;
    if (!best || c.literals > best.literals) best = c;
  }
  return best?.route;
}
