import { Client, Connection } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import type { Server } from 'node:http';
import { Client as PgClient } from 'pg';
import { createApp } from '../src/api/app';
import type { ApiDeps } from '../src/api/deps';
import { loadConfig, type Config } from '../src/config';
import { createDb, type Db } from '../src/db/client';
import { syncDriverCatalog } from '../src/db/driver-catalog';
import { migrate } from '../src/db/migrate';
import { DRIVERS } from '../src/drivers/registry';
import { installRuntimeLogging } from '../src/temporal/runtime-logging';
import { createWorker } from '../src/worker-setup';
import { startDevServer, type DevServer } from '../test/helpers/temporal-server';

/**
 * The real stack for benchmarks, in one process: a Temporal dev server (the CLI's, in memory),
 * a fresh migrated PostgreSQL database, a worker, and the API listening on a free port.
 * Everything is torn down (database dropped) by `close`.
 */
export interface BenchStack {
  config: Config;
  db: Db;
  temporal: Client;
  worker: Worker;
  api: string;
  close(): Promise<void>;
}

export async function startBenchStack(api: Partial<ApiDeps> = {}): Promise<BenchStack> {
  installRuntimeLogging('error', 'bench-worker');
  const dbName = `device_lifecycle_bench_${process.pid}`;
  const admin = new PgClient({ connectionString: 'postgresql://postgres@127.0.0.1:5432/postgres' });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
  await admin.query(`CREATE DATABASE "${dbName}"`);
  await admin.end();
  const databaseUrl = `postgresql://postgres@127.0.0.1:5432/${dbName}`;
  await migrate(databaseUrl);
  const server: DevServer = await startDevServer();
  const config = loadConfig({ ...process.env, DATABASE_URL: databaseUrl, TEMPORAL_ADDRESS: server.address, TEMPORAL_TASK_QUEUE: 'bench' });
  const db = createDb(databaseUrl, { max: 10 });
  await syncDriverCatalog(db, DRIVERS);
  const connection = await Connection.connect({ address: server.address });
  const temporal = new Client({ connection });
  const { worker, db: workerDb } = await createWorker(config);
  const running = worker.run();
  const app = createApp({ db, temporal, taskQueue: config.TEMPORAL_TASK_QUEUE, ...api });
  const http: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const { port } = http.address() as { port: number };
  return {
    config,
    db,
    temporal,
    worker,
    api: `http://127.0.0.1:${port}`,
    async close() {
      http.close();
      worker.shutdown();
      await running;
      await workerDb.$disconnect();
      await connection.close();
      await db.$disconnect();
      await server.stop();
      const a = new PgClient({ connectionString: 'postgresql://postgres@127.0.0.1:5432/postgres' });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
      await a.end();
    },
  };
}

export async function json(method: string, url: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

export async function until<T>(check: () => Promise<T | undefined>, timeoutMs: number, what: string, everyMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`bench: ${what} not reached in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface BenchRow {
  bench: string;
  case: string;
  ours: string;
  baseline: string;
  ratio: string;
  note: string;
}

export function printTable(rows: BenchRow[]): string {
  const cols: (keyof BenchRow)[] = ['bench', 'case', 'ours', 'baseline', 'ratio', 'note'];
  const width = (c: keyof BenchRow) => Math.max(c.length, ...rows.map((r) => r[c].length));
  const line = (r: Record<keyof BenchRow, string>) => `| ${cols.map((c) => r[c].padEnd(width(c))).join(' | ')} |`;
  const header = line(Object.fromEntries(cols.map((c) => [c, c])) as Record<keyof BenchRow, string>);
  const sep = `|${cols.map((c) => '-'.repeat(width(c) + 2)).join('|')}|`;
  return [header, sep, ...rows.map(line)].join('\n');
}
