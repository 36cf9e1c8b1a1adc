import { WorkflowUpdateFailedError } from '@temporalio/client';
import { workflowIds } from '../../src/domain/operations';
import { DeviceIdKey, DeviceNameKey, OperationTypeKey } from '../../src/temporal/search-attributes';
import { abandonUpdate, progressQuery, retryUpdate, type OperationProgress } from '../../src/workflows/definitions';
import type { onboardDevice, OnboardInput } from '../../src/workflows/onboard-device';
import { closedEndpoint, decodedHistory, eventually, FAST_ONBOARD, startTestStack, uniq, type TestStack } from '../helpers/stack';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.close();
});

/** Enrol a device the way the API does (row locked by its run) and start onboarding. */
async function enrolAndStart(device: { type: 'SERVER' | 'HYPERVISOR' | 'STORAGE'; vendor: string; endpoint: string; credentialsRef?: string; model?: string }, input: Partial<OnboardInput> = {}) {
  const name = uniq('dev');
  const workflowId = workflowIds.onboard(name);
  const row = await stack.db.device.create({ data: { name, ...device, lockedBy: workflowId, lockedAt: new Date() } });
  const handle = await stack.temporal.workflow.start<typeof onboardDevice>('onboardDevice', {
    taskQueue: stack.config.TEMPORAL_TASK_QUEUE,
    workflowId,
    args: [{ deviceId: row.id, deviceName: name, requestedBy: 'test', timings: FAST_ONBOARD, ...input }],
    typedSearchAttributes: [
      { key: DeviceIdKey, value: row.id },
      { key: DeviceNameKey, value: name },
      { key: OperationTypeKey, value: 'onboard' },
    ],
  });
  return { row, handle };
}

async function waitingForOperator(handle: { query: (q: typeof progressQuery) => Promise<OperationProgress> }) {
  return eventually(async () => {
    const p = await handle.query(progressQuery);
    return p.status === 'waiting_for_operator' ? p : undefined;
  }, 30_000, 'the run to wait for an operator');
}

test('a Redfish device that verifies becomes ACTIVE with what the driver discovered, and is released', async () => {
  stack.sim.addDevice({ id: 'wf-rf-ok', kind: 'redfish', credentials: { username: 'root', password: 's3cret-rf' } });
  stack.writeSecrets({ 'bmc-ok': { username: 'root', password: 's3cret-rf' } });
  const { row, handle } = await enrolAndStart({ type: 'SERVER', vendor: 'Contoso', endpoint: stack.sim.baseUrlFor('wf-rf-ok'), credentialsRef: 'bmc-ok' });

  const result = await handle.result();
  expect(result.outcome).toBe('active');
  expect(result.driver).toBe('redfish');
  expect(result.attempts).toBe(1);

  const device = await stack.db.device.findUniqueOrThrow({ where: { id: row.id } });
  expect(device.state).toBe('ACTIVE');
  expect(device.driverName).toBe('redfish');
  expect(device.lockedBy).toBeNull();
  expect(device.verifiedAt).not.toBeNull();
  expect((device.capabilities as Record<string, unknown>).protocol).toBe('redfish');
  expect(typeof (device.capacity as Record<string, unknown>).memoryGiB).toBe('number');

  const events = await stack.db.operationEvent.findMany({ where: { deviceId: row.id }, orderBy: { id: 'asc' } });
  expect(events.map((e) => `${e.fromState}->${e.toState}`)).toEqual(['ENROLLED->VERIFYING', 'VERIFYING->ACTIVE']);

  const progress = await handle.query(progressQuery);
  expect(progress.steps.map((s) => s.name)).toEqual(['select-driver', 'start-verification', 'verify-driver', 'activate']);

  // The secret never reaches Temporal: not in inputs, results or failures of the history.
  const history = await decodedHistory(handle);
  expect(history).toContain(row.id); // payloads are decoded: the search below is meaningful
  expect(history).not.toContain('s3cret-rf');

  const description = await handle.describe();
  expect(description.typedSearchAttributes.get(DeviceIdKey)).toBe(row.id);
  expect(description.typedSearchAttributes.get(OperationTypeKey)).toBe('onboard');
});

test('rejected credentials wait for an operator; a retry with a corrected reference makes the device ACTIVE', async () => {
  stack.sim.addDevice({ id: 'wf-nimbus', kind: 'hypervisor-cluster', credentials: { username: 'admin', password: 'right-pass' } });
  stack.writeSecrets({ 'nimbus-wrong': { username: 'admin', password: 'wrong-pass' }, 'nimbus-right': { username: 'admin', password: 'right-pass' } });
  const { row, handle } = await enrolAndStart({ type: 'HYPERVISOR', vendor: 'Nimbus', endpoint: stack.sim.baseUrlFor('wf-nimbus'), credentialsRef: 'nimbus-wrong' });

  const waiting = await waitingForOperator(handle);
  expect(waiting).toMatchObject({ status: 'waiting_for_operator', attempt: 1, driver: 'nimbus-cluster', lastErrorType: 'CredentialsRejected' });
  const failed = await stack.db.device.findUniqueOrThrow({ where: { id: row.id } });
  expect(failed.state).toBe('VERIFY_FAILED');
  expect(failed.lastError).toMatch(/401|rejected/i);
  expect(failed.lockedBy).toBe(handle.workflowId);
  // Credentials rejected is not retried automatically: the device saw one session attempt.
  expect(stack.sim.requestLog.count('wf-nimbus')).toBe(1);

  const accepted = await handle.executeUpdate(retryUpdate, { args: [{ credentialsRef: 'nimbus-right', requestedBy: 'operator-1' }] });
  expect(accepted.attempt).toBe(2);
  const result = await handle.result();
  expect(result).toMatchObject({ outcome: 'active', attempts: 2, driver: 'nimbus-cluster' });

  const device = await stack.db.device.findUniqueOrThrow({ where: { id: row.id } });
  expect(device).toMatchObject({ state: 'ACTIVE', credentialsRef: 'nimbus-right', lastError: null, lockedBy: null });
  const actions = (await stack.db.operationEvent.findMany({ where: { deviceId: row.id }, orderBy: { id: 'asc' } })).map((e) => `${e.action}:${e.actor}`);
  expect(actions).toEqual(['verify:test', 'verify_failed:workflow', 'corrected:operator-1', 'verify:test', 'verify_succeeded:test']);
  const history = await decodedHistory(handle);
  expect(history).toContain('nimbus-right');
  expect(history).not.toContain('right-pass');
  expect(history).not.toContain('wrong-pass');
});

test('an unreachable device is retried a bounded number of times, then waits; abandon ends it ABANDONED', async () => {
  const { row, handle } = await enrolAndStart({ type: 'SERVER', vendor: 'Contoso', endpoint: await closedEndpoint() });
  const waiting = await waitingForOperator(handle);
  expect(waiting.lastErrorType).toBe('DeviceUnreachable');
  const description = await handle.describe();
  expect(description.status.name).toBe('RUNNING');

  await expect(handle.executeUpdate(retryUpdate, { args: [{ requestedBy: 'op' }] })).resolves.toEqual({ attempt: 2 });
  await waitingForOperator(handle);
  await handle.executeUpdate(abandonUpdate, { args: [{ reason: 'wrong rack', requestedBy: 'op' }] });
  const result = await handle.result();
  expect(result).toMatchObject({ outcome: 'abandoned', reason: 'wrong rack', attempts: 2 });
  const device = await stack.db.device.findUniqueOrThrow({ where: { id: row.id } });
  expect(device.state).toBe('ABANDONED');
  expect(device.lockedBy).toBeNull();
  expect(device.lastError).toMatch(/ECONNREFUSED|refused|connect/i);
});

test('an operator decision is refused while the run is not waiting for one', async () => {
  stack.sim.addDevice({ id: 'wf-slow', kind: 'redfish', latencyMs: 500 });
  const { handle } = await enrolAndStart({ type: 'SERVER', vendor: 'Contoso', endpoint: stack.sim.baseUrlFor('wf-slow') });
  await eventually(async () => ((await handle.query(progressQuery)).step === 'verify-driver' ? true : undefined));
  await expect(handle.executeUpdate(retryUpdate, { args: [{ requestedBy: 'op' }] })).rejects.toBeInstanceOf(WorkflowUpdateFailedError);
  await expect(handle.result()).resolves.toMatchObject({ outcome: 'active' });
});

test('cancelling a run that waits for an operator abandons the device and releases it', async () => {
  stack.sim.addDevice({ id: 'wf-acme', kind: 'storage-array', credentials: { username: 'a', password: 'b' } });
  const { row, handle } = await enrolAndStart({ type: 'STORAGE', vendor: 'Acme Storage', endpoint: stack.sim.baseUrlFor('wf-acme'), credentialsRef: 'missing-ref' });
  const waiting = await waitingForOperator(handle);
  expect(waiting.lastErrorType).toBe('CredentialsNotFound');
  await handle.cancel();
  await expect(handle.result()).rejects.toThrow();
  const device = await eventually(async () => {
    const d = await stack.db.device.findUniqueOrThrow({ where: { id: row.id } });
    return d.lockedBy === null ? d : undefined;
  });
  expect(device.state).toBe('ABANDONED');
});

test('a run that waits longer than its bound abandons by itself', async () => {
  const { row, handle } = await enrolAndStart(
    { type: 'SERVER', vendor: 'Contoso', endpoint: await closedEndpoint() },
    { timings: { ...FAST_ONBOARD, verifyMaxAttempts: 1, operatorWaitMs: 1_000 } },
  );
  const result = await handle.result();
  expect(result.outcome).toBe('abandoned');
  expect(result.reason).toMatch(/no operator decision/);
  expect((await stack.db.device.findUniqueOrThrow({ where: { id: row.id } })).state).toBe('ABANDONED');
});
