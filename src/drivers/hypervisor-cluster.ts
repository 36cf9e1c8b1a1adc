/**
 * Driver for Nimbus Cluster Manager, a hypervisor cluster manager: a session is opened with
 * HTTP Basic auth (POST /api/v1/sessions → {token}), then the cluster is read with the token in
 * X-Auth-Token. The session is closed again whatever happens, since such managers cap sessions.
 */
import { z } from 'zod';
import type { Discovery } from '../domain/device-types';
import { basicAuthorization, parseShape, requestJson } from './http';
import { DriverError, type DeviceDriver, type VerifyContext } from './types';

const sessionSchema = z.object({ token: z.string().min(1) });

const clusterSchema = z.object({
  name: z.string(),
  product: z.string(),
  version: z.string(),
  hypervisor: z.string(),
  hosts: z.array(
    z.object({
      name: z.string(),
      cpus: z.number().int().min(0),
      memoryGiB: z.number().min(0),
      state: z.string(),
    }),
  ),
});

async function verifyNimbusCluster(ctx: VerifyContext): Promise<Discovery> {
  const auth: Record<string, string> = ctx.credentials ? { Authorization: basicAuthorization(ctx.credentials) } : {};
  const sessionReply = await requestJson(ctx, { method: 'POST', path: '/api/v1/sessions', headers: auth, body: {}, probe: true });
  const { token } = parseShape(sessionSchema, sessionReply, ctx.credentials);

  let cluster: z.output<typeof clusterSchema>;
  try {
    const reply = await requestJson(ctx, { path: '/api/v1/cluster', headers: { 'X-Auth-Token': token } });
    cluster = parseShape(clusterSchema, reply, ctx.credentials);
    if (!/nimbus/i.test(cluster.product)) {
      throw new DriverError('incompatible', `${reply.label} reports product "${cluster.product}", not Nimbus Cluster Manager`);
    }
  } finally {
    await requestJson(ctx, { method: 'DELETE', path: `/api/v1/sessions/${encodeURIComponent(token)}`, headers: { 'X-Auth-Token': token } }).catch(
      () => undefined, // Best effort: the session expires on its own.
    );
  }

  return {
    capabilities: {
      protocol: 'nimbus-api',
      product: cluster.product,
      version: cluster.version,
      hypervisor: cluster.hypervisor,
      clusterName: cluster.name,
      hostCount: cluster.hosts.length,
      hostsUp: cluster.hosts.filter((h) => h.state.toLowerCase() === 'up').length,
    },
    capacity: {
      vcpus: cluster.hosts.reduce((sum, h) => sum + h.cpus, 0),
      memoryGiB: cluster.hosts.reduce((sum, h) => sum + h.memoryGiB, 0),
    },
  };
}

export const nimbusClusterDriver: DeviceDriver = {
  name: 'nimbus-cluster',
  version: '1.0.0',
  description: 'Nimbus Cluster Manager (KVM hypervisor clusters) over its REST API with session tokens',
  deviceTypes: ['HYPERVISOR'],
  vendors: ['Nimbus'],
  verify: verifyNimbusCluster,
};
