import { Client, Connection, ServiceError, WorkflowNotFoundError } from '@temporalio/client';
import request from 'supertest';
import { createApp } from '../../src/api/app';
import { mapInfrastructureError } from '../../src/api/errors';
import { createDb, type Db } from '../../src/db/client';
import { Prisma } from '../../src/generated/prisma/client';
import { freePort } from '../helpers/temporal-server';

/**
 * Temporal and Prisma errors become API errors in one place (src/api/errors.ts): checked with a
 * real database and a real Temporal address that do not answer, and on each error class.
 */
let deadDb: Db;
let deadTemporal: Connection;
let liveTemporal: Connection;
let liveDb: Db;

beforeAll(async () => {
  const port = await freePort();
  deadDb = createDb(`postgresql://nobody@127.0.0.1:${port}/nothing`);
  deadTemporal = await Connection.lazy({ address: `127.0.0.1:${await freePort()}` });
  liveTemporal = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS! });
  liveDb = createDb(process.env.DATABASE_URL!);
});
afterAll(async () => {
  await deadDb?.$disconnect();
  await liveDb?.$disconnect();
  await deadTemporal?.close();
  await liveTemporal?.close();
});

test('the database out of reach: 503 database_unavailable in the one error shape, on reads and writes', async () => {
  const app = createApp({ db: deadDb, temporal: new Client({ connection: liveTemporal }), taskQueue: 'unused' });
  for (const req of [request(app).get('/v1/devices'), request(app).get('/v1/pooled'), request(app).post('/v1/podmanagers').send({ name: 'p', url: 'http://127.0.0.1:1' })]) {
    const res = await req;
    if (res.status === 422) continue; // the pod manager is checked before the database is touched
    expect(res.status).toBe(503);
    expect(res.body).toEqual({ error: { code: 'database_unavailable', message: 'the database did not answer; try again' } });
  }
}, 60_000);

test('Temporal out of reach: 503 temporal_unavailable', async () => {
  const app = createApp({ db: liveDb, temporal: new Client({ connection: deadTemporal }), taskQueue: 'unused' });
  const res = await request(app).get('/v1/operations/onboard-nothing-here');
  expect(res.status).toBe(503);
  expect(res.body.error.code).toBe('temporal_unavailable');
  const list = await request(app).get('/v1/operations');
  expect(list.status).toBe(503);
  expect(list.body.error.code).toBe('temporal_unavailable');
}, 60_000);

test('each error class maps to its status and code', () => {
  const known = (code: string) => new Prisma.PrismaClientKnownRequestError('x', { code, clientVersion: 'test', meta: { target: ['name'] } });
  expect(mapInfrastructureError(known('P2002'))).toMatchObject({ status: 409, code: 'conflict', details: { fields: ['name'] } });
  expect(mapInfrastructureError(known('P2025'))).toMatchObject({ status: 404, code: 'not_found' });
  expect(mapInfrastructureError(known('P1001'))).toMatchObject({ status: 503, code: 'database_unavailable' });
  expect(mapInfrastructureError(Object.assign(new Error('wrapped'), { cause: Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }) }))).toMatchObject({ status: 503, code: 'database_unavailable' });
  expect(mapInfrastructureError(new WorkflowNotFoundError('gone', 'onboard-x', undefined))).toMatchObject({ status: 404, code: 'operation_not_found' });
  expect(mapInfrastructureError(new ServiceError('unavailable'))).toMatchObject({ status: 503, code: 'temporal_unavailable' });
  expect(mapInfrastructureError(new Error('a bug'))).toBeUndefined();
  expect(mapInfrastructureError(known('P2003'))).toBeUndefined();
});
