import { Client, Connection } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { decodeOptionalFailureToOptionalError } from '@temporalio/common/lib/internal-non-workflow';
import type { Worker } from '@temporalio/worker';
import { randomBytes } from 'node:crypto';
import { ConfigError, loadConfig } from '../../src/config';
import { workflowIds } from '../../src/domain/operations';
import { connectTemporalClient } from '../../src/temporal/client';
import { AesGcmCodec, ENCRYPTED_ENCODING, KEY_ID_METADATA, parseCodecKeys, PayloadCodecError } from '../../src/temporal/codec';
import { DeviceIdKey, DeviceNameKey, OperationTypeKey } from '../../src/temporal/search-attributes';
import type { onboardDevice } from '../../src/workflows/onboard-device';
import { createWorker } from '../../src/worker-setup';
import request from 'supertest';
import { createApp } from '../../src/api/app';
import { closedEndpoint, eventually, FAST_ONBOARD, startTestStack, uniq, type TestStack } from '../helpers/stack';

const key = () => randomBytes(32);
const text = (b: Uint8Array | null | undefined) => Buffer.from(b ?? new Uint8Array()).toString('utf8');
const samples = (): Payload[] => [
  defaultPayloadConverter.toPayload({ deviceName: 'secret-device', n: 1 }),
  defaultPayloadConverter.toPayload('plain string'),
  defaultPayloadConverter.toPayload(undefined),
  defaultPayloadConverter.toPayload(new Uint8Array([0, 1, 2, 255])),
  defaultPayloadConverter.toPayload(null),
];

describe('AesGcmCodec', () => {
  it('round-trips several payloads, and sealed ones show nothing of the original', async () => {
    const codec = new AesGcmCodec([{ id: 'k1', key: key() }]);
    const original = samples();
    const sealed = await codec.encode(original);
    expect(sealed).toHaveLength(original.length);
    for (const p of sealed) {
      expect(text(p.metadata?.encoding)).toBe(ENCRYPTED_ENCODING);
      expect(text(p.metadata?.[KEY_ID_METADATA])).toBe('k1');
      expect(Object.keys(p.metadata ?? {}).sort()).toEqual(['encoding', KEY_ID_METADATA]);
      expect(text(p.data)).not.toContain('secret-device');
    }
    // A fresh IV each time: the same payload seals differently.
    const again = await codec.encode(original);
    expect(Buffer.from(again[0]!.data!).equals(Buffer.from(sealed[0]!.data!))).toBe(false);
    const opened = await codec.decode(sealed);
    expect(opened).toEqual(original.map((p) => ({ metadata: p.metadata, data: p.data ?? new Uint8Array() })));
    expect(defaultPayloadConverter.fromPayload(opened[0]!)).toEqual({ deviceName: 'secret-device', n: 1 });
    expect(defaultPayloadConverter.fromPayload(opened[2]!)).toBeUndefined();
    expect(await codec.encode([])).toEqual([]);
  });

  it('passes payloads that are not sealed through decode untouched', async () => {
    const codec = new AesGcmCodec([{ id: 'k1', key: key() }]);
    const plain = samples();
    expect(await codec.decode(plain)).toEqual(plain);
  });

  it('rotation: old ids still decode, new payloads seal with the first key', async () => {
    const a = { id: 'a', key: key() };
    const b = { id: 'b', key: key() };
    const old = await new AesGcmCodec([a]).encode(samples());
    const rotated = new AesGcmCodec([b, a]);
    expect(await rotated.decode(old)).toEqual(await new AesGcmCodec([a]).decode(old));
    const fresh = await rotated.encode(samples());
    expect(fresh.every((p) => text(p.metadata?.[KEY_ID_METADATA]) === 'b')).toBe(true);
    expect(defaultPayloadConverter.fromPayload((await rotated.decode(fresh))[1]!)).toBe('plain string');
    // Once a is dropped, what it sealed no longer opens.
    await expect(new AesGcmCodec([b]).decode(old)).rejects.toThrow(/unknown key id "a"/);
  });

  it('an unknown key id is a clear error', async () => {
    const sealed = await new AesGcmCodec([{ id: 'gone', key: key() }]).encode(samples().slice(0, 1));
    const err = await new AesGcmCodec([{ id: 'k2', key: key() }]).decode(sealed).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PayloadCodecError);
    expect((err as Error).message).toMatch(/unknown key id "gone" \(known: k2\)/);
  });

  it('tampered ciphertext, tag, iv or key id fail authentication', async () => {
    const k = { id: 'k1', key: key() };
    const other = { id: 'k2', key: key() };
    const codec = new AesGcmCodec([k, other]);
    const [sealed] = await codec.encode(samples().slice(0, 1));
    const flip = (at: (len: number) => number): Payload => {
      const data = Buffer.from(sealed!.data!);
      data[at(data.length)]! ^= 0x01;
      return { metadata: sealed!.metadata, data };
    };
    for (const tampered of [flip(() => 20), flip((n) => n - 1), flip(() => 0)]) {
      await expect(codec.decode([tampered])).rejects.toThrow(/failed authentication/);
    }
    // Relabelled with another known key id: refused too (the id is authenticated data).
    const relabelled = { metadata: { ...sealed!.metadata, [KEY_ID_METADATA]: new TextEncoder().encode('k2') }, data: sealed!.data };
    await expect(codec.decode([relabelled])).rejects.toThrow(/failed authentication/);
    await expect(codec.decode([{ metadata: sealed!.metadata, data: new Uint8Array(10) }])).rejects.toThrow(/too short/);
    // Still fine untouched.
    await expect(codec.decode([sealed!])).resolves.toHaveLength(1);
  });

  it('refuses bad keys at construction', () => {
    expect(() => new AesGcmCodec([])).toThrow(/at least one key/);
    expect(() => new AesGcmCodec([{ id: 'k', key: randomBytes(16) }])).toThrow(/32 bytes/);
    expect(() => new AesGcmCodec([{ id: 'k', key: key() }, { id: 'k', key: key() }])).toThrow(/twice/);
  });
});

describe('PAYLOAD_CODEC_KEYS', () => {
  it('parses id:base64key pairs, first is current', () => {
    const a = key();
    const b = key();
    const keys = parseCodecKeys(`new:${b.toString('base64')}, old:${a.toString('base64')}`);
    expect(keys.map((k) => k.id)).toEqual(['new', 'old']);
    expect(keys[0]!.key.equals(b)).toBe(true);
    expect(loadConfig({ PAYLOAD_CODEC_KEYS: `k:${a.toString('base64')}` }).PAYLOAD_CODEC_KEYS[0]!.key.equals(a)).toBe(true);
    expect(loadConfig({}).PAYLOAD_CODEC_KEYS).toEqual([]);
    expect(loadConfig({}).CODEC_CORS_ORIGIN).toBe('http://localhost:8233');
  });

  const short = randomBytes(16).toString('base64');
  const good = key().toString('base64');
  it.each([
    ['no colon', good, /id:base64key/],
    ['short key', `k:${short}`, /32 bytes/],
    ['not base64', 'k:not*base64!', /not base64/],
    ['bad id', `bad id:${good}`, /key id/],
    ['duplicate id', `k:${good},k:${good}`, /twice/],
  ])('%s is a ConfigError naming the variable, never echoing the key', (_name, value, message) => {
    let error: unknown;
    try {
      loadConfig({ PAYLOAD_CODEC_KEYS: value });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues[0]).toMatchObject({ variable: 'PAYLOAD_CODEC_KEYS', message: expect.stringMatching(message) });
    expect((error as ConfigError).message).not.toContain(good);
    expect((error as ConfigError).message).not.toContain(short);
  });
});

describe('sealed payloads on the real dev server', () => {
  let stack: TestStack;
  let worker: Worker;
  let running: Promise<void>;
  let closeWorker: () => Promise<void>;
  let sealedClient: Client;
  let plainConnection: Connection;
  let plain: Client;
  const keySpec = `it-1:${key().toString('base64')}`;

  beforeAll(async () => {
    stack = await startTestStack({ worker: false });
    const config = loadConfig({ ...process.env, ...stringEnv(stack.config), PAYLOAD_CODEC_KEYS: keySpec, TEMPORAL_TASK_QUEUE: uniq('tq-sealed') });
    const handle = await createWorker(config, { workflowBundlePath: process.env.TEST_WORKFLOW_BUNDLE });
    worker = handle.worker;
    running = worker.run();
    closeWorker = async () => {
      worker.shutdown();
      await running;
      await handle.db.$disconnect();
    };
    sealedClient = await connectTemporalClient(config);
    plainConnection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
    plain = new Client({ connection: plainConnection, namespace: config.TEMPORAL_NAMESPACE });
  });
  afterAll(async () => {
    await closeWorker?.();
    await sealedClient?.connection.close();
    await plainConnection?.close();
    await stack?.close();
  });

  /** stack.config values the env form of loadConfig accepts (only the plain strings/numbers). */
  function stringEnv(config: TestStack['config']): Record<string, string> {
    return {
      DATABASE_URL: config.DATABASE_URL,
      TEMPORAL_ADDRESS: config.TEMPORAL_ADDRESS,
      TEMPORAL_NAMESPACE: config.TEMPORAL_NAMESPACE,
      SECRETS_FILE: config.SECRETS_FILE,
      DEVICE_REQUEST_TIMEOUT_MS: String(config.DEVICE_REQUEST_TIMEOUT_MS),
    };
  }

  it('an onboarding runs sealed: its history holds no device name, id or endpoint without the key', async () => {
    stack.sim.addDevice({ id: 'sealed-rf', kind: 'redfish', credentials: { username: 'root', password: 'sealed-pw' } });
    stack.writeSecrets({ 'sealed-ok': { username: 'root', password: 'sealed-pw' } });
    const name = uniq('sealed-dev');
    const endpoint = `${stack.sim.baseUrlFor('sealed-rf')}?marker=${name}-endpoint`;
    const workflowId = workflowIds.onboard(name);
    const row = await stack.db.device.create({
      data: { name, type: 'SERVER', vendor: 'Contoso', endpoint, credentialsRef: 'sealed-ok', lockedBy: workflowId, lockedAt: new Date() },
    });
    const handle = await sealedClient.workflow.start<typeof onboardDevice>('onboardDevice', {
      taskQueue: worker.options.taskQueue,
      workflowId,
      args: [{ deviceId: row.id, deviceName: name, requestedBy: 'test', timings: FAST_ONBOARD }],
      staticSummary: `Onboard ${name} (SERVER, Contoso)`,
      typedSearchAttributes: [
        { key: DeviceIdKey, value: row.id },
        { key: DeviceNameKey, value: name },
        { key: OperationTypeKey, value: 'onboard' },
      ],
    });
    const result = await handle.result();
    expect(result.outcome).toBe('active');
    expect((await stack.db.device.findUniqueOrThrow({ where: { id: row.id } })).state).toBe('ACTIVE');

    // Without the key: every payload's data, base64-decoded, is ciphertext.
    const history = await plain.workflow.getHandle(workflowId).fetchHistory();
    const payloads: Payload[] = [];
    const searchAttributes: Payload[] = [];
    collectPayloads(history, payloads, searchAttributes);
    // As the history reads over the wire (JSON, bytes base64): every payload's data decoded. Search
    // attributes aside: they are not payloads a codec touches (visibility needs them in clear).
    const wireData: string[] = [];
    const wire = JSON.stringify(history, (k, v) => {
      if (k === 'searchAttributes') return undefined;
      if (k === 'data' && typeof v === 'string') wireData.push(Buffer.from(v, 'base64').toString('utf8'));
      return v;
    });
    expect(wireData.length).toBe(payloads.length);
    for (const secret of [name, row.id, `${name}-endpoint`, 'sealed-pw']) expect(wireData.join('\n')).not.toContain(secret);
    // Outside payloads, the workflow id (onboard-<name>) is in clear: it is the run's address.
    expect(wire).toContain(`"workflowId":"${workflowId}"`);
    // What stays readable without the key: the search attributes (filtering) and the workflow id.
    const attrs = searchAttributes.map((p) => text(p.data)).join('\n');
    expect(attrs).toContain(name);
    expect(attrs).toContain(row.id);
    expect(payloads.length).toBeGreaterThan(3);
    for (const p of payloads) {
      const encoding = text(p.metadata?.encoding);
      if (encoding !== ENCRYPTED_ENCODING) continue;
      expect(text(p.metadata?.[KEY_ID_METADATA])).toBe('it-1');
    }
    const sealedPayloads = payloads.filter((p) => text(p.metadata?.encoding) === ENCRYPTED_ENCODING);
    // Inputs, activity inputs/results and the workflow result are all sealed.
    expect(sealedPayloads.length).toBeGreaterThan(3);
    const rawText = payloads.map((p) => `${JSON.stringify(Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, text(v)])))} ${text(p.data)}`).join('\n');
    for (const secret of [name, row.id, endpoint, `${name}-endpoint`, 'sealed-pw']) expect(rawText).not.toContain(secret);

    // Through the codec: the same history reads in full.
    const codec = (sealedClient.options.loadedDataConverter.payloadCodecs[0])!;
    const opened = await codec.decode(sealedPayloads);
    const openedText = opened.map((p) => text(p.data)).join('\n');
    expect(openedText).toContain(name);
    expect(openedText).toContain(row.id);
    // The endpoint never enters a payload on this path (activities read it from the database).
    expect(openedText).not.toContain(`${name}-endpoint`);
    expect(openedText).toContain(`Onboard ${name}`); // the static summary is sealed too
    expect(openedText).not.toContain('sealed-pw');
    // And the sealed client reads the result as usual.
    expect((await sealedClient.workflow.getHandle(workflowId).result()).outcome).toBe('active');
    // Without the key, reading the result fails to decode (it is not JSON).
    await expect(plain.workflow.getHandle(workflowId).result()).rejects.toThrow();
  });

  it('failure messages are sealed too: a failing verification names its endpoint only to holders of the key', async () => {
    const name = uniq('sealed-fail');
    const marker = `${name}-endpoint`;
    // Nothing listens there: every verification attempt fails with a message naming the URL.
    const endpoint = `${await closedEndpoint()}/redfish/${marker}`;
    const workflowId = workflowIds.onboard(name);
    const row = await stack.db.device.create({
      data: { name, type: 'SERVER', vendor: 'Contoso', endpoint, driverName: 'redfish', lockedBy: workflowId, lockedAt: new Date() },
    });
    const handle = await sealedClient.workflow.start<typeof onboardDevice>('onboardDevice', {
      taskQueue: worker.options.taskQueue,
      workflowId,
      args: [{ deviceId: row.id, deviceName: name, requestedBy: 'test', timings: { ...FAST_ONBOARD, verifyMaxAttempts: 100, verifyInitialIntervalMs: 200, verifyMaxIntervalMs: 300 } }],
    });
    try {
      // Through the API (its client has the key): the retrying activity's last failure, decoded.
      const app = createApp({ db: stack.db, temporal: sealedClient, taskQueue: worker.options.taskQueue });
      const op = await eventually(async () => {
        const body = (await request(app).get(`/v1/operations/${workflowId}`).expect(200)).body;
        return body.pendingActivities?.[0]?.attempt >= 2 ? body : undefined;
      }, 30_000, 'a retried verification');
      expect(op.pendingActivities[0]).toMatchObject({ activity: 'verifyDriver', lastFailure: expect.stringContaining(marker) });
      expect(op.lastError).toContain(marker);

      // Without the key: the same failure, as Temporal holds it, says nothing about the device.
      const raw = await plain.workflow.getHandle(workflowId).describe();
      const lastFailure = raw.raw.pendingActivities?.[0]?.lastFailure;
      expect(lastFailure?.message).toBe('Encoded failure');
      expect(lastFailure?.encodedAttributes?.metadata?.encoding && text(lastFailure.encodedAttributes.metadata.encoding)).toBe(ENCRYPTED_ENCODING);
      expect(JSON.stringify(raw.raw.pendingActivities)).not.toContain(marker);
      // An API without the key says so instead of failing.
      const blind = createApp({ db: stack.db, temporal: plain, taskQueue: worker.options.taskQueue });
      const blindOp = (await request(blind).get(`/v1/operations/${workflowId}`).expect(200)).body;
      expect(blindOp.pendingActivities[0].lastFailure).toBe('failure sealed with a key this API does not have');
    } finally {
      await handle.cancel();
      await handle.result().catch(() => undefined);
    }

    // A run whose verification gives up (two attempts) records the failure in its history: the
    // ActivityTaskFailed event's failure, and the failure reason the workflow passes on.
    const name2 = uniq('sealed-fail');
    const marker2 = `${name2}-endpoint`;
    const workflowId2 = workflowIds.onboard(name2);
    const row2 = await stack.db.device.create({
      data: { name: name2, type: 'SERVER', vendor: 'Contoso', endpoint: `${await closedEndpoint()}/redfish/${marker2}`, driverName: 'redfish', lockedBy: workflowId2, lockedAt: new Date() },
    });
    const handle2 = await sealedClient.workflow.start<typeof onboardDevice>('onboardDevice', {
      taskQueue: worker.options.taskQueue,
      workflowId: workflowId2,
      args: [{ deviceId: row2.id, deviceName: name2, requestedBy: 'test', timings: FAST_ONBOARD }],
    });
    try {
      await eventually(async () => ((await stack.db.device.findUniqueOrThrow({ where: { id: row2.id } })).state === 'VERIFY_FAILED' ? true : undefined), 30_000, 'VERIFY_FAILED');
      expect((await stack.db.device.findUniqueOrThrow({ where: { id: row2.id } })).lastError).toContain(marker2);
      const history = await plain.workflow.getHandle(workflowId2).fetchHistory();
      const failures: Array<Record<string, unknown>> = [];
      collectFailures(history, failures);
      expect(failures.length).toBeGreaterThan(0);
      for (const f of failures) expect(f.message).toBe('Encoded failure');
      expect(JSON.stringify(history)).not.toContain(marker2);
      const payloadText = JSON.stringify(history, (k, v) => (k === 'data' && typeof v === 'string' ? Buffer.from(v, 'base64').toString('utf8') : v));
      expect(payloadText).not.toContain(marker2);
      // With the key, the same history's failure reads in full.
      const sealedHistory = await sealedClient.workflow.getHandle(workflowId2).fetchHistory();
      const failed = sealedHistory.events?.find((e) => e.activityTaskFailedEventAttributes)?.activityTaskFailedEventAttributes?.failure;
      const decoded = await decodeOptionalFailureToOptionalError(sealedClient.options.loadedDataConverter, failed);
      expect(decoded?.message).toContain(marker2);
    } finally {
      await handle2.cancel();
      await handle2.result().catch(() => undefined);
    }
  });
});

/** Every Failure object in a history (anything with a message and a failure-info case). */
function collectFailures(node: unknown, out: Array<Record<string, unknown>>): void {
  if (!node || typeof node !== 'object' || node instanceof Uint8Array) return;
  const o = node as Record<string, unknown>;
  if (typeof o.message === 'string' && ('applicationFailureInfo' in o || 'canceledFailureInfo' in o || 'activityFailureInfo' in o || 'timeoutFailureInfo' in o || 'encodedAttributes' in o)) out.push(o);
  for (const v of Object.values(o)) collectFailures(v, out);
}

/** Every Payload object in a history (anything with a metadata map and data bytes). */
function collectPayloads(node: unknown, out: Payload[], searchAttributes: Payload[]): void {
  if (!node || typeof node !== 'object') return;
  if (node instanceof Uint8Array) return;
  const o = node as Record<string, unknown>;
  if (o.metadata && typeof o.metadata === 'object' && !(o.metadata instanceof Uint8Array) && 'data' in o && (o.data === null || o.data instanceof Uint8Array)) {
    const values = Object.values(o.metadata as Record<string, unknown>);
    if (values.every((v) => v instanceof Uint8Array)) {
      out.push(o as Payload);
      return;
    }
  }
  for (const [k, v] of Object.entries(o)) {
    if (k === 'searchAttributes') collectPayloads(v, searchAttributes, searchAttributes);
    else collectPayloads(v, out, searchAttributes);
  }
}
