import { z } from 'zod';
import { parseTokenList, TOKEN_NAME_PATTERN, TokenConfigError } from './auth/tokens';
import { parseCodecKeys, PayloadCodecError } from './temporal/codec';

/**
 * Every setting the processes read from the environment, parsed in one place.
 * Defaults work on a developer machine (PostgreSQL on 127.0.0.1, Temporal dev server on 7233).
 */
const port = z.coerce.number().int().min(0).max(65535);

export const configSchema = z.object({
  TEMPORAL_ADDRESS: z.string().min(1).default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('device-lifecycle'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgresql:// URL')
    .default('postgresql://postgres@127.0.0.1:5432/device_lifecycle'),
  PORT: port.default(8080),
  HOST: z.string().min(1).default('127.0.0.1'),
  /** JSON file mapping a credentials reference to {username, password}; read at activity time. */
  SECRETS_FILE: z.string().min(1).default('secrets.local.json'),
  /** Largest request body the API accepts. */
  API_BODY_LIMIT: z.string().regex(/^\d+(b|kb|mb)$/i, 'must look like 64kb').default('64kb'),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  /**
   * A workflow bundle built beforehand (bundleWorkflowCode, with the failure converter): the
   * worker starts without bundling src/workflows itself (seconds of CPU). Empty: it bundles.
   */
  WORKFLOW_BUNDLE_PATH: z.string().default(''),
  /** Upper bound on one HTTP request from a driver to a device (worker). */
  DEVICE_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  /** Upper bound on one HTTP request from the worker to a service (cordon, list, migrate). */
  SERVICE_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  /** Upper bound on one HTTP request from the worker to a pod manager (one page of a listing). */
  PODM_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).default(30_000),
  /** Onboarding bounds the API puts into each run's input (see OnboardTimings). */
  ONBOARD_VERIFY_TIMEOUT_MS: z.coerce.number().int().min(100).default(60_000),
  ONBOARD_VERIFY_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(5),
  ONBOARD_VERIFY_BACKOFF_MS: z.coerce.number().int().min(1).default(1_000),
  ONBOARD_OPERATOR_WAIT_MS: z.coerce.number().int().min(1_000).default(7 * 24 * 3600_000),
  /**
   * API bearer tokens, `name:role:token,...` (role reader, operator or admin). Parsed into sha256
   * digests at once: the configuration never holds a token itself. src/server.ts refuses to start
   * unless this or API_TOKENS_FILE yields at least one token.
   */
  API_TOKENS: z
    .string()
    .transform((spec, ctx) => {
      try {
        return parseTokenList(spec);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: err instanceof TokenConfigError ? err.message : 'cannot be parsed' });
        return z.NEVER;
      }
    })
    .default([]),
  /** JSON file of tokens: [{"name", "role", "token" | "sha256"}]; read once at start. */
  API_TOKENS_FILE: z.string().default(''),
  /** Names of tokens that no longer authenticate, comma-separated. */
  API_TOKENS_REVOKED: z
    .string()
    .transform((s) => s.split(',').map((n) => n.trim()).filter(Boolean))
    .pipe(z.array(z.string().regex(TOKEN_NAME_PATTERN, 'must be token names separated by commas')))
    .default([]),
  /**
   * Sealed payloads (src/temporal/codec.ts): `id:base64key,id2:base64key`, 32-byte AES keys, the
   * first sealing new payloads, all of them opening old ones. Empty (the default): no codec.
   * Parsed into keys at once; the message of a bad value never echoes a key.
   */
  PAYLOAD_CODEC_KEYS: z
    .string()
    .transform((spec, ctx) => {
      try {
        return parseCodecKeys(spec);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: err instanceof PayloadCodecError ? err.message : 'cannot be parsed' });
        return z.NEVER;
      }
    })
    .default([]),
  /** Origin allowed (CORS) to call /v1/codec/* from a browser: the Temporal UI. */
  CODEC_CORS_ORIGIN: z.string().min(1).default('http://localhost:8233'),
});

export type Config = z.infer<typeof configSchema>;

export function onboardTimingsFrom(config: Config) {
  return {
    verifyTimeoutMs: config.ONBOARD_VERIFY_TIMEOUT_MS,
    verifyMaxAttempts: config.ONBOARD_VERIFY_ATTEMPTS,
    verifyInitialIntervalMs: config.ONBOARD_VERIFY_BACKOFF_MS,
    operatorWaitMs: config.ONBOARD_OPERATOR_WAIT_MS,
  };
}

export class ConfigError extends Error {
  constructor(readonly issues: { variable: string; message: string }[]) {
    super(`invalid configuration: ${issues.map((i) => `${i.variable}: ${i.message}`).join('; ')}`);
    this.name = 'ConfigError';
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // An empty variable means "not set": otherwise PORT="" would coerce to port 0 (a random port).
  const set = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v.trim() !== ''));
  const parsed = configSchema.safeParse(set);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => ({ variable: String(issue.path[0] ?? '?'), message: issue.message })),
    );
  }
  return parsed.data;
}

/** For process entry points: print which variable is wrong and exit non-zero. */
export function loadConfigOrExit(env: NodeJS.ProcessEnv = process.env): Config {
  try {
    return loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const issue of err.issues) console.error(`configuration error: ${issue.variable}: ${issue.message}`);
      process.exit(2);
    }
    throw err;
  }
}
