import { bundleWorkflowCode } from '@temporalio/worker';
import { FAILURE_CONVERTER_PATH } from '../src/temporal/codec';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { migrate } from '../src/db/migrate';
import { startDevServer } from './helpers/temporal-server';

/**
 * Once per test run: a real Temporal dev server (in-memory), a fresh migrated PostgreSQL test
 * database, and the workflow bundle built once for every worker the tests start.
 */
export default async function globalSetup(): Promise<void> {
  // One database per run, so two runs on one machine (a developer's and CI's) never share one.
  const databaseUrl =
    process.env.TEST_DATABASE_URL ?? `postgresql://postgres@127.0.0.1:5432/device_lifecycle_test_${process.pid}_${Date.now().toString(36)}`;
  const url = new URL(databaseUrl);
  const dbName = url.pathname.slice(1);
  const adminUrl = new URL(databaseUrl);
  adminUrl.pathname = '/postgres';
  const admin = new Client({ connectionString: adminUrl.toString() });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
  await admin.query(`CREATE DATABASE "${dbName}"`);
  await admin.end();
  await migrate(databaseUrl);

  const server = await startDevServer();
  (globalThis as { __TEMPORAL_DEV_SERVER__?: unknown }).__TEMPORAL_DEV_SERVER__ = server;
  (globalThis as { __TEST_DATABASE__?: unknown }).__TEST_DATABASE__ = { adminUrl: adminUrl.toString(), dbName, keep: !!process.env.TEST_DATABASE_URL };

  const runDir = path.resolve(__dirname, '../.run/test');
  mkdirSync(runDir, { recursive: true });
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../src/workflows'),
    failureConverterPath: FAILURE_CONVERTER_PATH, // as the worker's own bundle has it
    logger: { trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error, log() {} } as never,
  });
  const bundlePath = path.join(runDir, 'workflow-bundle.js');
  writeFileSync(bundlePath, code);

  process.env.DATABASE_URL = databaseUrl;
  process.env.TEMPORAL_ADDRESS = server.address;
  process.env.TEST_WORKFLOW_BUNDLE = bundlePath;
}
