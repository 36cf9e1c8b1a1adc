import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { createApp } from '../../src/api/app';
import type { ApiDeps } from '../../src/api/deps';
import { findRoute } from '../../src/api/routes';
import { createTokenStore, parseTokenList } from '../../src/auth/tokens';
import { AesGcmCodec, ENCRYPTED_ENCODING } from '../../src/temporal/codec';

// The codec endpoint touches neither the database nor Temporal.
const deps = { db: {}, temporal: {}, taskQueue: 'unused' } as unknown as ApiDeps;
const TOKENS = { reader: 'codec-reader-0123456789', operator: 'codec-operator-0123456789' };
const auth = createTokenStore(parseTokenList(`r:reader:${TOKENS.reader},o:operator:${TOKENS.operator}`));
const keyA = { id: 'a', key: randomBytes(32) };
const keyB = { id: 'b', key: randomBytes(32) };
const app = createApp({ ...deps, auth, payloadCodec: new AesGcmCodec([keyB, keyA]), codecCorsOrigin: 'http://ui.example:8233' });
const unconfigured = createApp({ ...deps, auth });
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

const toJson = (p: Payload) => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
});
const meta = (p: { metadata: Record<string, string> }, k: string) => Buffer.from(p.metadata[k] ?? '', 'base64').toString('utf8');

const values = [{ deviceName: 'codec-secret-device' }, 'hello', 42];
const plainPayloads = values.map((v) => toJson(defaultPayloadConverter.toPayload(v)));

test('the routes are in the table, operator-only', () => {
  expect(findRoute('POST', '/v1/codec/encode')?.access).toBe('operator');
  expect(findRoute('POST', '/v1/codec/decode')?.access).toBe('operator');
});

test('encode then decode round-trips, in the Temporal codec server protocol', async () => {
  const enc = await request(app).post('/v1/codec/encode').set(bearer(TOKENS.operator)).set('x-namespace', 'default').send({ payloads: plainPayloads }).expect(200);
  expect(enc.body.payloads).toHaveLength(3);
  for (const p of enc.body.payloads) {
    expect(meta(p, 'encoding')).toBe(ENCRYPTED_ENCODING);
    expect(meta(p, 'encryption-key-id')).toBe('b');
    expect(Buffer.from(p.data, 'base64').toString('utf8')).not.toContain('codec-secret-device');
  }
  const dec = await request(app).post('/v1/codec/decode').set(bearer(TOKENS.operator)).set('x-namespace', 'default').send(enc.body).expect(200);
  expect(dec.body).toEqual({ payloads: plainPayloads });
});

test('decode opens what the workers sealed with an older key, and passes plain payloads through', async () => {
  const old = (await new AesGcmCodec([keyA]).encode(values.map((v) => defaultPayloadConverter.toPayload(v)))).map(toJson);
  const res = await request(app).post('/v1/codec/decode').set(bearer(TOKENS.operator)).send({ payloads: [...old, plainPayloads[1]] }).expect(200);
  expect(res.body.payloads).toEqual([...plainPayloads, plainPayloads[1]]);
});

test('an unknown key or tampered data is a 422 naming the problem', async () => {
  const foreign = (await new AesGcmCodec([{ id: 'zz', key: randomBytes(32) }]).encode([defaultPayloadConverter.toPayload('x')])).map(toJson);
  const res = await request(app).post('/v1/codec/decode').set(bearer(TOKENS.operator)).send({ payloads: foreign }).expect(422);
  expect(res.body.error).toMatchObject({ code: 'decode_failed', message: expect.stringMatching(/unknown key id "zz"/) });
  const [sealed] = (await request(app).post('/v1/codec/encode').set(bearer(TOKENS.operator)).send({ payloads: [plainPayloads[0]] })).body.payloads;
  const bytes = Buffer.from(sealed.data, 'base64');
  bytes[15]! ^= 0xff;
  const tampered = await request(app).post('/v1/codec/decode').set(bearer(TOKENS.operator)).send({ payloads: [{ ...sealed, data: bytes.toString('base64') }] }).expect(422);
  expect(tampered.body.error.message).toMatch(/failed authentication/);
});

test('a reader may not decode or encode; no token is 401', async () => {
  for (const path of ['/v1/codec/decode', '/v1/codec/encode']) {
    const res = await request(app).post(path).set(bearer(TOKENS.reader)).send({ payloads: plainPayloads }).expect(403);
    expect(res.body.error).toMatchObject({ code: 'forbidden', details: { requiredRole: 'operator', role: 'reader' } });
    await request(app).post(path).send({ payloads: plainPayloads }).expect(401);
  }
});

test('a malformed body is a 400', async () => {
  await request(app).post('/v1/codec/decode').set(bearer(TOKENS.operator)).send({ payloads: [{ data: 'not base64!' }] }).expect(400);
  await request(app).post('/v1/codec/decode').set(bearer(TOKENS.operator)).send({}).expect(400);
});

test('without PAYLOAD_CODEC_KEYS: 404 codec_not_configured', async () => {
  for (const path of ['/v1/codec/decode', '/v1/codec/encode']) {
    const res = await request(unconfigured).post(path).set(bearer(TOKENS.operator)).send({ payloads: plainPayloads }).expect(404);
    expect(res.body.error.code).toBe('codec_not_configured');
  }
});

describe('CORS for the Temporal UI', () => {
  it('answers the preflight without a token, for the configured origin', async () => {
    const res = await request(app)
      .options('/v1/codec/decode')
      .set('origin', 'http://ui.example:8233')
      .set('access-control-request-method', 'POST')
      .set('access-control-request-headers', 'authorization,content-type,x-namespace')
      .expect(204);
    expect(res.headers['access-control-allow-origin']).toBe('http://ui.example:8233');
    expect(res.headers['access-control-allow-methods']).toContain('POST');
    expect(res.headers['access-control-allow-headers'].toLowerCase()).toEqual(expect.stringContaining('x-namespace'));
    expect(res.headers['access-control-allow-headers'].toLowerCase()).toEqual(expect.stringContaining('authorization'));
    expect(res.headers['access-control-allow-credentials']).toBe('true');
  });

  it('marks the POST answer for the configured origin', async () => {
    const res = await request(app).post('/v1/codec/encode').set('origin', 'http://ui.example:8233').set(bearer(TOKENS.operator)).send({ payloads: [] }).expect(200);
    expect(res.headers['access-control-allow-origin']).toBe('http://ui.example:8233');
    expect(res.headers.vary).toMatch(/origin/i);
  });

  it('gives another origin no CORS headers', async () => {
    const pre = await request(app).options('/v1/codec/decode').set('origin', 'http://evil.example').set('access-control-request-method', 'POST').expect(204);
    expect(pre.headers['access-control-allow-origin']).toBeUndefined();
    expect(pre.headers['access-control-allow-methods']).toBeUndefined();
    const post = await request(app).post('/v1/codec/decode').set('origin', 'http://evil.example').set(bearer(TOKENS.operator)).send({ payloads: [] }).expect(200);
    expect(post.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('defaults to http://localhost:8233 and touches no other route', async () => {
    const res = await request(unconfigured).options('/v1/codec/encode').set('origin', 'http://localhost:8233').set('access-control-request-method', 'POST').expect(204);
    expect(res.headers['access-control-allow-origin']).toBe('http://localhost:8233');
    const other = await request(app).options('/v1/devices').set('origin', 'http://ui.example:8233');
    expect(other.status).toBe(401);
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });
});
