import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';

const LEVELS: Record<string, LogLevel> = { debug: 'DEBUG', info: 'INFO', warn: 'WARN', error: 'ERROR' };

/**
 * Routes the Temporal SDK's own logs (worker state, activity failures, workflow logs) through
 * one JSON line per entry, at the configured level. Call once per process, before any worker.
 */
export function installRuntimeLogging(level: 'debug' | 'info' | 'warn' | 'error', component = 'worker'): void {
  const logger = new DefaultLogger(LEVELS[level], ({ level: lvl, message, meta, timestampNanos }) => {
    const { error, ...rest } = (meta ?? {}) as Record<string, unknown>;
    process.stdout.write(
      `${JSON.stringify({
        time: new Date(Number(timestampNanos / 1_000_000n)).toISOString(),
        component,
        level: lvl.toLowerCase(),
        msg: message,
        ...rest,
        // An activity failure's message, never its whole object (which can carry arguments).
        ...(error ? { error: error instanceof Error ? error.message : String(error) } : {}),
      })}\n`,
    );
  });
  Runtime.install({ logger });
}
