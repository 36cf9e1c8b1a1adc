import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stopChild, waitForPort } from './temporal-server';

const ROOT = path.resolve(__dirname, '../..');

export interface ServiceProcess {
  name: string;
  child: ChildProcess;
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Runs one of our entry points as its own process, with tsx as node's loader. One process, not
 * the `tsx` command: that one runs the entry in a child node process and cannot pass a SIGKILL
 * on, so killing it would leave the real worker running behind the test's back.
 */
export function startService(name: string, entry: string, env: NodeJS.ProcessEnv): ServiceProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d: Buffer) => (out = (out + d.toString()).slice(-20_000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    name,
    child,
    output: () => out,
    stop: (signal = 'SIGTERM') => stopChild(child, exited, signal, 15_000),
  };
}

export async function waitForService(service: ServiceProcess, port: number, timeoutMs = 60_000): Promise<void> {
  const died = new Promise<never>((_, reject) =>
    service.child.once('exit', (code) => reject(new Error(`${service.name} exited (${code}):\n${service.output()}`))),
  );
  await Promise.race([waitForPort(port, timeoutMs), died]);
}

/**
 * Worker processes (src/worker.ts, on the prebuilt test bundle) on one task queue with an empty secrets file, for tests that
 * kill workers: `start` launches a fresh one (or, given `entry`, another worker entry point such
 * as test/helpers/chaos/worker.ts, with extra environment), `current` is the latest, `killAll`
 * ends them all.
 */
export function workerProcesses(taskQueue: string, logLevel: 'warn' | 'error' = 'warn') {
  const dir = mkdtempSync(path.join(tmpdir(), 'dl-workers-'));
  const secretsFile = path.join(dir, 'secrets.json');
  writeFileSync(secretsFile, '{}');
  const all: ServiceProcess[] = [];
  return {
    start(entry = 'src/worker.ts', env: NodeJS.ProcessEnv = {}): ServiceProcess {
      // The bundle global setup built from src/workflows: a worker that bundled for itself would
      // spend seconds of CPU each time, starving the files running beside it.
      const worker = startService(`worker-${all.length + 1}`, entry, {
        TEMPORAL_TASK_QUEUE: taskQueue,
        SECRETS_FILE: secretsFile,
        LOG_LEVEL: logLevel,
        WORKFLOW_BUNDLE_PATH: process.env.TEST_WORKFLOW_BUNDLE,
        ...env,
      });
      all.push(worker);
      return worker;
    },
    current: (): ServiceProcess | undefined => all[all.length - 1],
    async killAll(): Promise<void> {
      for (const w of all) await w.stop('SIGKILL');
    },
  };
}
