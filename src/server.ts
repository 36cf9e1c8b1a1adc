import { createApp } from './api/app';
import { loadConfigOrExit, onboardTimingsFrom } from './config';
import { createDb } from './db/client';
import { syncDriverCatalog } from './db/driver-catalog';
import { DRIVERS } from './drivers/registry';
import { createLogger } from './log';
import { fileSecretStore } from './secrets';
import { connectTemporalClient } from './temporal/client';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const log = createLogger('api', config.LOG_LEVEL);
  const db = createDb(config.DATABASE_URL);
  await syncDriverCatalog(db, DRIVERS);
  const temporal = await connectTemporalClient(config);
  const app = createApp({
    db,
    temporal,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    onboardTimings: onboardTimingsFrom(config),
    secrets: fileSecretStore(config.SECRETS_FILE),
    serviceRequestTimeoutMs: config.SERVICE_REQUEST_TIMEOUT_MS,
    podmRequestTimeoutMs: config.PODM_REQUEST_TIMEOUT_MS,
    bodyLimit: config.API_BODY_LIMIT,
    log,
  });
  const server = app.listen(config.PORT, config.HOST, () => {
    log({ msg: 'api listening', url: `http://${config.HOST}:${config.PORT}` });
  });
  const stop = () => {
    server.close(() => {
      void Promise.all([db.$disconnect(), temporal.connection.close()]).finally(() => process.exit(0));
    });
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err) => {
  console.error(`api failed: ${(err as Error).stack ?? err}`);
  process.exit(1);
});
