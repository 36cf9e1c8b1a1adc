import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from './activities';
import type { Config } from './config';
import { createDb, type Db } from './db/client';
import { syncDriverCatalog } from './db/driver-catalog';
import { DRIVERS } from './drivers/registry';
import { fileSecretStore } from './secrets';
import { codecDataConverter } from './temporal/codec';

export interface WorkerHandle {
  worker: Worker;
  db: Db;
  connection: NativeConnection;
}

/**
 * Builds a worker for the task queue: activities get the database, the secrets store and the
 * device request bound; workflows come from src/workflows (or a prebuilt bundle, for tests).
 */
export async function createWorker(
  config: Config,
  opts: { workflowBundlePath?: string; workerOptions?: Partial<WorkerOptions> } = {},
): Promise<WorkerHandle> {
  const db = createDb(config.DATABASE_URL);
  await syncDriverCatalog(db, DRIVERS);
  const connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
  const worker = await Worker.create({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    // Sealed payloads when PAYLOAD_CODEC_KEYS is set (the codec runs outside the workflow sandbox).
    ...codecDataConverter(config.PAYLOAD_CODEC_KEYS),
    activities: createActivities({
      db,
      secrets: fileSecretStore(config.SECRETS_FILE),
      deviceRequestTimeoutMs: config.DEVICE_REQUEST_TIMEOUT_MS,
      serviceRequestTimeoutMs: config.SERVICE_REQUEST_TIMEOUT_MS,
      podmRequestTimeoutMs: config.PODM_REQUEST_TIMEOUT_MS,
    }),
    ...(opts.workflowBundlePath
      ? { workflowBundle: { codePath: opts.workflowBundlePath } }
      : { workflowsPath: require.resolve('./workflows') }),
    ...opts.workerOptions,
  });
  return { worker, db, connection };
}
