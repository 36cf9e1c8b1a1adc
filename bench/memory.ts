import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import path from 'node:path';
import { createApp } from '../src/api/app';
import { until, json, type BenchRow, type BenchStack } from './support';

const OPEN = 1_000;

/** Resident set size of a process, from /proc (Linux). */
function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]);
  return kb / 1024;
}

/**
 * Worker memory with 1,000 open maintenance workflows, each holding its device in MAINTENANCE
 * (the long, idle state operators leave runs in), against the same worker process idle. The
 * worker is a real process (src/worker.ts) on a task queue of its own.
 */
export async function benchMemory(stack: BenchStack): Promise<BenchRow[]> {
  const tag = randomBytes(3).toString('hex');
  const taskQueue = `bench-memory-${tag}`;
  const root = path.resolve(__dirname, '..');
  const worker = spawn(path.join(root, 'node_modules/.bin/tsx'), ['src/worker.ts'], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: stack.config.DATABASE_URL, TEMPORAL_ADDRESS: stack.config.TEMPORAL_ADDRESS, TEMPORAL_TASK_QUEUE: taskQueue, LOG_LEVEL: 'error' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  // tsx runs the worker in a child node process: measure that one (the launcher is small).
  const workerPid = async () => {
    const children = readFileSync(`/proc/${worker.pid}/task/${worker.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    return Number(children[0] ?? worker.pid);
  };
  const app = createApp({ db: stack.db, temporal: stack.temporal, taskQueue, maintenanceTimings: { maxHoldMs: 24 * 3600_000 } });
  const http: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const api = `http://127.0.0.1:${(http.address() as { port: number }).port}`;
  try {
    // Idle: started, polling, no workflow yet.
    await until(async () => ((await workerPid()) !== worker.pid ? true : undefined), 60_000, 'worker process');
    await new Promise((r) => setTimeout(r, 10_000)); // let it bundle the workflows and start polling
    const pid = await workerPid();
    const idle = rssMiB(pid);

    const names: string[] = [];
    await stack.db.device.createMany({
      data: Array.from({ length: OPEN }, (_, i) => {
        const name = `mem-${tag}-${i}`;
        names.push(name);
        return { name, type: 'SERVER' as const, vendor: 'Contoso', endpoint: `http://127.0.0.1:1/${name}`, driverName: 'redfish', state: 'ACTIVE' as const };
      }),
    });
    for (let i = 0; i < names.length; i += 50) {
      await Promise.all(names.slice(i, i + 50).map((n) => json('POST', `${api}/v1/devices/${n}/maintenance`, { reason: 'memory benchmark' })));
    }
    await until(
      async () => ((await stack.db.device.count({ where: { name: { startsWith: `mem-${tag}-` }, state: 'MAINTENANCE' } })) === OPEN ? true : undefined),
      600_000,
      `${OPEN} devices in MAINTENANCE`,
      500,
    );
    await new Promise((r) => setTimeout(r, 3_000));
    const loaded = rssMiB(pid);
    process.stderr.write(`memory: idle ${idle.toFixed(0)} MiB, ${OPEN} open ${loaded.toFixed(0)} MiB\n`);
    return [
      {
        bench: `worker RSS, ${OPEN} open maintenance workflows`,
        case: 'held in MAINTENANCE',
        ours: `${loaded.toFixed(0)} MiB (${(((loaded - idle) * 1024) / OPEN).toFixed(0)} KiB per open run)`,
        baseline: `${idle.toFixed(0)} MiB idle worker`,
        ratio: `${(loaded / idle).toFixed(2)}x`,
        note: 'worker process (src/worker.ts), default workflow cache',
      },
    ];
  } finally {
    http.close();
    worker.kill('SIGTERM');
  }
}
