import { loadConfigOrExit } from './config';
import { createLogger } from './log';
import { installRuntimeLogging } from './temporal/runtime-logging';
import { createWorker } from './worker-setup';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const log = createLogger('worker', config.LOG_LEVEL);
  installRuntimeLogging(config.LOG_LEVEL);
  const { worker, db, connection } = await createWorker(config, { workflowBundlePath: config.WORKFLOW_BUNDLE_PATH || undefined });
  log({ msg: 'worker started', taskQueue: config.TEMPORAL_TASK_QUEUE, temporal: config.TEMPORAL_ADDRESS, namespace: config.TEMPORAL_NAMESPACE });
  try {
    await worker.run(); // returns after SIGINT/SIGTERM (the SDK installs those handlers)
  } finally {
    await connection.close();
    await db.$disconnect();
    log({ msg: 'worker stopped' });
  }
}

main().catch((err) => {
  console.error(`worker failed: ${(err as Error).stack ?? err}`);
  process.exit(1);
});
