import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { benchDrain } from './drain';
import { benchOnboarding } from './onboarding';
import { benchApi } from './api';
import { benchMemory } from './memory';
import { benchSync } from './sync';
import { printTable, startBenchStack, type BenchRow } from './support';

/**
 * `npm run bench`: every benchmark against the real stack, each with a baseline measured in
 * the same run; prints a table and writes it to bench/results/. Never part of the test run.
 */
async function main(): Promise<void> {
  const only = process.argv[2];
  const benches: Record<string, (s: Awaited<ReturnType<typeof startBenchStack>>) => Promise<BenchRow[]>> = {
    sync: benchSync,
    drain: benchDrain,
    onboarding: benchOnboarding,
    api: benchApi,
    memory: benchMemory,
  };
  const stack = await startBenchStack();
  const rows: BenchRow[] = [];
  try {
    for (const [name, run] of Object.entries(benches)) {
      if (only && only !== name) continue;
      process.stderr.write(`running ${name}...\n`);
      rows.push(...(await run(stack)));
    }
  } finally {
    await stack.close();
  }
  const table = printTable(rows);
  console.log(table);
  const when = new Date().toISOString();
  const machine = `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}`;
  const dir = path.resolve(__dirname, 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, `${only ?? 'all'}-latest.md`),
    `# Benchmark results (${when})\n\nMachine: ${machine}. Temporal: CLI dev server (SQLite, in memory).\n\n${table}\n`,
  );
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
