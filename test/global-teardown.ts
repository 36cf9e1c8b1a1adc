import { Client } from 'pg';
import type { DevServer } from './helpers/temporal-server';

export default async function globalTeardown(): Promise<void> {
  const g = globalThis as {
    __TEMPORAL_DEV_SERVER__?: DevServer;
    __TEST_DATABASE__?: { adminUrl: string; dbName: string; keep: boolean };
  };
  await g.__TEMPORAL_DEV_SERVER__?.stop();
  const db = g.__TEST_DATABASE__;
  if (db && !db.keep) {
    const admin = new Client({ connectionString: db.adminUrl });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS "${db.dbName}" WITH (FORCE)`);
    await admin.end();
  }
}
