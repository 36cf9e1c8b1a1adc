import request from 'supertest';
import { createApp } from '../../src/api/app';
import { eventually, FAST_ONBOARD, startTestStack, uniq, type TestStack } from '../helpers/stack';

let stack: TestStack;
let app: ReturnType<typeof createApp>;
beforeAll(async () => {
  stack = await startTestStack();
  app = createApp({ db: stack.db, temporal: stack.temporal, taskQueue: stack.config.TEMPORAL_TASK_QUEUE, onboardTimings: FAST_ONBOARD });
  stack.sim.addDevice({ id: 'ops-rf', kind: 'redfish', credentials: { username: 'u', password: 'ops-secret' } });
  stack.writeSecrets({ 'ops-good': { username: 'u', password: 'ops-secret' } });
});
afterAll(async () => {
  await stack?.close();
});

async function onboard(): Promise<{ id: string; name: string; workflowId: string }> {
  const name = uniq('ops-list');
  const res = await request(app)
    .post('/v1/devices')
    .send({ name, type: 'SERVER', vendor: 'Contoso', endpoint: `${stack.sim.baseUrlFor('ops-rf')}?n=${name}`, credentialsRef: 'ops-good' })
    .expect(202);
  return { id: res.body.device.id, name, workflowId: res.body.operation.workflowId };
}

/** Visibility is eventually consistent: poll until the listing answers what we expect. */
async function listUntil(query: string, predicate: (body: any) => boolean) {
  return eventually(async () => {
    const res = await request(app).get(`/v1/operations?${query}`).expect(200);
    return predicate(res.body) ? res.body : undefined;
  }, 20_000, `GET /v1/operations?${query}`);
}

test('lists runs by DeviceId, DeviceName, OperationType and ExecutionStatus', async () => {
  const [a, b] = [await onboard(), await onboard()];
  const byId = await listUntil(`deviceId=${a.id}`, (body) => body.items.length === 1 && body.items[0].status === 'COMPLETED');
  expect(byId.items[0]).toMatchObject({
    workflowId: a.workflowId,
    type: 'onboard',
    workflowType: 'onboardDevice',
    deviceId: a.id,
    deviceName: a.name,
    status: 'COMPLETED',
    href: `/v1/operations/${a.workflowId}`,
  });
  expect(byId.nextPageToken).toBeNull();
  const byName = await listUntil(`deviceName=${b.name}&type=onboard&status=completed`, (body) => body.items.length === 1);
  expect(byName.items[0].workflowId).toBe(b.workflowId);
  expect((await request(app).get(`/v1/operations?deviceName=${b.name}&type=maintenance`).expect(200)).body.items).toEqual([]);
  expect((await request(app).get(`/v1/operations?deviceName=${b.name}&status=RUNNING`).expect(200)).body.items).toEqual([]);
});

test('pages with nextPageToken', async () => {
  await onboard();
  await onboard();
  const first = await listUntil('type=onboard&pageSize=1', (body) => body.items.length === 1 && body.nextPageToken !== null);
  const second = (await request(app).get(`/v1/operations?type=onboard&pageSize=1&nextPageToken=${first.nextPageToken}`).expect(200)).body;
  expect(second.items).toHaveLength(1);
  expect(second.items[0].workflowId).not.toBe(first.items[0].workflowId);
});

test.each([
  ['status=sleeping', 'status'],
  ['type=reboot', 'type'],
  ['pageSize=0', 'pageSize'],
  ['deviceId=a"%20OR%20true', 'deviceId'],
  ['nextPageToken=%2B%2B', 'nextPageToken'],
  ['color=blue', 'color'],
])('refuses %s naming the field', async (query, field) => {
  const res = await request(app).get(`/v1/operations?${query}`).expect(400);
  expect(res.body.error.code).toBe('validation_failed');
  expect(JSON.stringify(res.body.error.details)).toContain(field);
});

test('a page token that is not ours, or from another listing, is 400 invalid_page_token (not a 20 s stall then 503)', async () => {
  const first = await listUntil('pageSize=1', (body) => body.nextPageToken !== null);
  const other = await request(app).get(`/v1/operations?type=attach&pageSize=1&nextPageToken=${first.nextPageToken}`).expect(400);
  expect(other.body.error.code).toBe('invalid_page_token');
  const res = await request(app).get('/v1/operations?type=onboard&nextPageToken=bm90LWEtdG9rZW4');
  expect(res.status).toBe(400);
  expect(res.body.error.code).toBe('invalid_page_token');
});
