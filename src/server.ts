import { createApp } from './api/app';
import { TokenConfigError, tokenStoreFromConfig, type TokenStore } from './auth/tokens';
import { loadConfigOrExit, onboardTimingsFrom, type Config } from './config';
import { createDb } from './db/client';
import { syncDriverCatalog } from './db/driver-catalog';
import { DRIVERS } from './drivers/registry';
import { createLogger } from './log';
import { fileSecretStore } from './secrets';
import { connectTemporalClient } from './temporal/client';
import { AesGcmCodec } from './temporal/codec';

/** The API never runs open: no token configured is a configuration error (exit 2, naming the variable). */
function tokensOrExit(config: Config): TokenStore {
  let store: TokenStore;
  try {
    store = tokenStoreFromConfig(config);
  } catch (err) {
    if (!(err instanceof TokenConfigError)) throw err;
    console.error(`configuration error: ${err.variable}: ${err.message}`);
    process.exit(2);
  }
  if (store.names.length === 0) {
    console.error('configuration error: API_TOKENS: no API token configured (set API_TOKENS="name:role:token" or API_TOKENS_FILE; all revoked counts as none)');
    process.exit(2);
  }
  return store;
}

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const auth = tokensOrExit(config);
  // Only digests are kept from here on.
  delete process.env.API_TOKENS;
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
    auth,
    payloadCodec: config.PAYLOAD_CODEC_KEYS.length > 0 ? new AesGcmCodec(config.PAYLOAD_CODEC_KEYS) : undefined,
    codecCorsOrigin: config.CODEC_CORS_ORIGIN,
    log,
  });
  const server = app.listen(config.PORT, config.HOST, () => {
    log({ msg: 'api listening', url: `http://${config.HOST}:${config.PORT}`, tokens: auth.names, payloadCodecKeys: config.PAYLOAD_CODEC_KEYS.map((k) => k.id) });
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
