import { Client, Connection } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig, type Config } from '../../src/config';
import { createDb, type Db } from '../../src/db/client';
import { syncDriverCatalog } from '../../src/db/driver-catalog';
import { DRIVERS } from '../../src/drivers/registry';
import { installRuntimeLogging } from '../../src/temporal/runtime-logging';
import { createWorker } from '../../src/worker-setup';
import { startDeviceSimulator, type DeviceSimulator } from '../../simulators/devices/server';

// Tests expect activity failures by design: only errors are worth printing.
installRuntimeLogging('error', 'test-worker');

export const uniq = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

/** Short bounds for onboarding runs in tests (there is no time-skipping server here). */
export const FAST_ONBOARD = {
  verifyTimeoutMs: 5_000,
  verifyMaxAttempts: 2,
  verifyInitialIntervalMs: 100,
  verifyMaxIntervalMs: 200,
  dbTimeoutMs: 10_000,
};

export interface TestStack {
  config: Config;
  db: Db;
  temporal: Client;
  worker: Worker;
  sim: DeviceSimulator;
  secretsFile: string;
  writeSecrets(secrets: Record<string, { username: string; password: string }>): void;
  close(): Promise<void>;
}

/**
 * Real parts for one test file: the dev server and database from global setup, a worker on a
 * task queue of its own (so files run in parallel without stealing each other's tasks), the
 * device simulator over HTTP, and a secrets file.
 */
export async function startTestStack(opts: { worker?: boolean } = {}): Promise<TestStack> {
  const dir = mkdtempSync(path.join(tmpdir(), 'dl-test-'));
  const secretsFile = path.join(dir, 'secrets.json');
  writeFileSync(secretsFile, '{}');
  const config = loadConfig({
    ...process.env,
    TEMPORAL_TASK_QUEUE: uniq('tq'),
    SECRETS_FILE: secretsFile,
    DEVICE_REQUEST_TIMEOUT_MS: '2000',
  });
  const db = createDb(config.DATABASE_URL, { max: 5 });
  await syncDriverCatalog(db, DRIVERS); // as src/server.ts does at start
  // On a busy CI machine the first call once failed its default 10 s connect deadline 0.07 s
  // after it was sent (the process had spent the rest before sending it): allow more.
  const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS, connectTimeout: '60s' });
  const temporal = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  const sim = await startDeviceSimulator({ port: 0 });
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;
  let workerDb: Db | undefined;
  if (opts.worker !== false) {
    const handle = await createWorker(config, { workflowBundlePath: process.env.TEST_WORKFLOW_BUNDLE });
    worker = handle.worker;
    workerDb = handle.db;
    running = worker.run();
  }
  return {
    config,
    db,
    temporal,
    worker: worker as Worker,
    sim,
    secretsFile,
    writeSecrets(secrets) {
      writeFileSync(secretsFile, JSON.stringify(secrets));
    },
    async close() {
      if (worker && running) {
        worker.shutdown();
        await running;
      }
      await workerDb?.$disconnect();
      await sim.close();
      await connection.close();
      await db.$disconnect();
    },
  };
}

/** Polls until `check` returns a value (not undefined) or the time is up. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 20_000, label = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${label}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A run's history with every payload decoded, to search for what Temporal stored. */
export async function decodedHistory(handle: { fetchHistory(): Promise<unknown> }): Promise<string> {
  const history = await handle.fetchHistory();
  return JSON.stringify(history, (key, value) =>
    key === 'data' && typeof value === 'string' ? Buffer.from(value, 'base64').toString('utf8') : value,
  );
}

/** An http URL on a loopback port where nothing listens (connection refused). */
export async function closedEndpoint(): Promise<string> {
  const { freePort } = await import('./temporal-server');
  return `http://127.0.0.1:${await freePort()}`;
}
