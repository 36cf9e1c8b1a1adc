/** Start-up shared by the simulators' command-line entry points. */

/** A port from the environment (0 = any free port), or the default; a bad value throws naming the variable. */
export function portFromEnv(env: NodeJS.ProcessEnv, variable: string, fallback: number): number {
  const port = Number(env[variable] ?? fallback);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`${variable} must be a port number, got "${env[variable]}"`);
  }
  return port;
}

/** Runs a simulator as a process: stops it cleanly on SIGINT/SIGTERM, exits 1 if it cannot start. */
export function runAsProcess(name: string, start: () => Promise<{ close(): Promise<void> }>): void {
  start().then(
    (sim) => {
      const stop = () => {
        sim.close().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    },
    (err: unknown) => {
      console.error(`${name} failed to start: ${(err as Error).message}`);
      process.exit(1);
    },
  );
}
