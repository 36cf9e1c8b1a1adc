import { Worker, type ReplayWorkerOptions } from '@temporalio/worker';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { installRuntimeLogging } from '../../src/temporal/runtime-logging';
import * as workflows from '../../src/workflows';

installRuntimeLogging('error', 'replay');

/**
 * Replays every recorded history (test/fixtures/histories, written by scripts/record-histories.ts)
 * against the current workflow code. A change that reorders, adds or removes a command without
 * versioning (patched) makes the run's history unreplayable, so the running workflows of a
 * deployed worker would fail after an upgrade: this test fails first.
 */
const DIR = path.resolve(__dirname, '../fixtures/histories');

interface ManifestEntry {
  file: string;
  workflowId: string;
  workflowType: string;
  scenario: string;
}

const manifest: ManifestEntry[] = JSON.parse(readFileSync(path.join(DIR, 'manifest.json'), 'utf8'));
const historyFiles = readdirSync(DIR).filter((f) => f.endsWith('.json') && f !== 'manifest.json').sort();
const load = (file: string) => JSON.parse(readFileSync(path.join(DIR, file), 'utf8')) as { events: any[] };
const typeOf = (history: { events: any[] }): string => history.events[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name;

// The bundle built by global setup from src/workflows (same code, faster); the source otherwise.
const replayOptions = (): ReplayWorkerOptions =>
  process.env.TEST_WORKFLOW_BUNDLE
    ? { workflowBundle: { codePath: process.env.TEST_WORKFLOW_BUNDLE } }
    : { workflowsPath: require.resolve('../../src/workflows') };

test('the manifest and the fixture files agree, and each fixture is the workflow type it claims', () => {
  expect(manifest.map((m) => m.file).sort()).toEqual(historyFiles);
  for (const m of manifest) expect({ file: m.file, type: typeOf(load(m.file)) }).toEqual({ file: m.file, type: m.workflowType });
});

test('every workflow exported by src/workflows has at least one recorded history', () => {
  const exported = Object.entries(workflows).filter(([, v]) => typeof v === 'function').map(([k]) => k).sort();
  expect(exported.length).toBeGreaterThan(0);
  const recorded = new Set(historyFiles.map((f) => typeOf(load(f))));
  expect(exported.filter((name) => !recorded.has(name))).toEqual([]);
});

test('every fixture history is complete (the run closed), so replay covers its whole path', () => {
  const closing = ['COMPLETED', 'FAILED', 'CANCELED', 'CONTINUED_AS_NEW', 'TERMINATED', 'TIMED_OUT'].map((s) => `EVENT_TYPE_WORKFLOW_EXECUTION_${s}`);
  for (const file of historyFiles) {
    const events = load(file).events;
    expect({ file, closedBy: closing.includes(events[events.length - 1].eventType) }).toEqual({ file, closedBy: true });
  }
});

test('every recorded history replays against the current workflow code without non-determinism', async () => {
  const byFile = new Map(manifest.map((m) => [m.file, m]));
  // Decoded with the proto classes themselves (enum names, int64 strings, base64 bytes): the
  // SDK's historyFromJSON trips over two copies of protobufjs in this install ("type must be a Type").
  const histories = historyFiles.map((file) => ({
    workflowId: byFile.get(file)!.workflowId,
    history: temporal.api.history.v1.History.fromObject(load(file)),
  }));
  const outcomes: { workflowId: string; error?: string }[] = [];
  for await (const result of Worker.runReplayHistories(replayOptions(), histories)) {
    outcomes.push({
      workflowId: result.workflowId,
      error: result.error ? `${result.error.name}: ${result.error.message}` : undefined,
    });
  }
  expect(outcomes).toHaveLength(histories.length);
  expect(outcomes.filter((o) => o.error)).toEqual([]);
}, 120_000);
