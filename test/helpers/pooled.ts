import request from 'supertest';
import type { createApp } from '../../src/api/app';
import type { Db } from '../../src/db/client';
import { eventually } from './stack';

type App = ReturnType<typeof createApp>;

/** Registers a pod manager through the API and waits for its first sync to be recorded. */
export async function registerPodm(app: App, db: Db, name: string, url: string, extra: Record<string, unknown> = {}) {
  const res = await request(app).post('/v1/podmanagers').send({ name, url, ...extra });
  if (res.status !== 201) throw new Error(`register ${name}: ${res.status} ${JSON.stringify(res.body)}`);
  const id = res.body.podmanager.id as string;
  await eventually(async () => ((await db.podManager.findUniqueOrThrow({ where: { id } })).lastSyncAt ? true : undefined), 30_000, `first sync of ${name}`);
  return { id, workflowId: res.body.operation.workflowId as string };
}

/** What a pod manager's rows look like, to prove a failed sync changed nothing. */
export async function snapshot(db: Db, podmId: string) {
  const rows = await db.pooledDevice.findMany({ where: { podmId }, orderBy: { resourceUri: 'asc' } });
  return rows.map((r) => `${r.resourceUri} ${r.state} ${r.nodeId} ${r.deletedAt?.toISOString() ?? '-'} ${r.updatedAt.toISOString()}`);
}

export async function untilOperationDone(app: App, workflowId: string, timeoutMs = 60_000) {
  return eventually(async () => {
    const op = (await request(app).get(`/v1/operations/${workflowId}`)).body;
    return op.status && op.status !== 'RUNNING' ? op : undefined;
  }, timeoutMs, `operation ${workflowId}`);
}
