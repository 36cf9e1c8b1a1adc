import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { homedir } from 'node:os';
import path from 'node:path';
import { SEARCH_ATTRIBUTES } from '../../src/domain/operations';

/** The Temporal CLI binary scripts/lib.sh builds and caches (same default path); TEMPORAL_CLI overrides. */
export function temporalCliPath(): string {
  const cache = process.env.DEVICE_LIFECYCLE_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(homedir(), '.cache'), 'device-lifecycle');
  const cli = process.env.TEMPORAL_CLI ?? path.join(cache, 'temporal-cli-v1.5.1', 'temporal');
  if (!existsSync(cli)) {
    throw new Error('TEMPORAL_CLI is not set to the Temporal CLI binary: run the tests through ./scripts/test, which builds it');
  }
  return cli;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface DevServer {
  address: string;
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** Starts the real Temporal dev server (the CLI's), with our search attributes registered. */
export async function startDevServer(opts: { dbFile?: string; port?: number } = {}): Promise<DevServer> {
  const port = opts.port ?? (await freePort());
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--headless', '--log-level', 'error'];
  args.push('--http-port', String(await freePort()), '--metrics-port', String(await freePort()));
  if (opts.dbFile) args.push('--db-filename', opts.dbFile);
  for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) args.push('--search-attribute', `${name}=${type}`);
  const child = spawn(temporalCliPath(), args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await Promise.race([
      waitForPort(port, 60_000),
      exited.then(() => Promise.reject(new Error(`temporal dev server exited: ${stderr}`))),
    ]);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    address: `127.0.0.1:${port}`,
    port,
    process: child,
    stop: () => stopChild(child, exited, 'SIGTERM', 10_000),
  };
}

/**
 * Sends `signal` to a child process and waits up to `graceMs` for it to exit; if it has not (a
 * loaded machine), SIGKILLs it. Returns only once the process is gone. `exited` resolves on its
 * exit event (made when it was spawned, so an exit is never missed).
 */
export async function stopChild(child: ChildProcess, exited: Promise<void>, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  await Promise.race([exited, new Promise((r) => setTimeout(r, graceMs))]);
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL');
    await exited;
  }
}
