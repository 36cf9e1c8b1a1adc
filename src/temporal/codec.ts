import type { Payload, PayloadCodec } from '@temporalio/common';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * "Sealed payloads": an AES-256-GCM payload codec for Temporal, used by the API's client and the
 * worker when PAYLOAD_CODEC_KEYS is set.
 *
 * Encoding: the whole original payload (its metadata, encoding included, and its data) is
 * serialised as JSON `{"metadata": {"<key>": "<base64>"}, "data": "<base64>"}` and encrypted; the
 * result is a new payload with metadata `encoding: binary/encrypted` and
 * `encryption-key-id: <id>`, and data `iv (12 bytes) | ciphertext | tag (16 bytes)`. The key id
 * is also bound as additional authenticated data, so a payload relabelled with another key id
 * does not decrypt.
 *
 * Keys: the first is current (encodes); every key decodes what was sealed under its id, so a key
 * is rotated by putting the new one first and keeping the old ones until no history needs them.
 * Payloads that are not `binary/encrypted` pass through decode untouched (runs from before the
 * codec was switched on stay readable).
 */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';

const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

export interface CodecKey {
  id: string;
  key: Buffer;
}

export class PayloadCodecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PayloadCodecError';
  }
}

const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | null | undefined) => (b ? Buffer.from(b).toString('utf8') : undefined);

export class AesGcmCodec implements PayloadCodec {
  private readonly current: CodecKey;
  private readonly byId: Map<string, Buffer>;

  constructor(keys: readonly CodecKey[]) {
    if (keys.length === 0) throw new PayloadCodecError('AesGcmCodec needs at least one key');
    this.byId = new Map();
    for (const { id, key } of keys) {
      if (!KEY_ID.test(id)) throw new PayloadCodecError(`key id "${id}" must be 1-64 of A-Z a-z 0-9 . _ -`);
      if (key.length !== KEY_BYTES) throw new PayloadCodecError(`key "${id}" must be ${KEY_BYTES} bytes, got ${key.length}`);
      if (this.byId.has(id)) throw new PayloadCodecError(`key id "${id}" appears twice`);
      this.byId.set(id, Buffer.from(key));
    }
    this.current = { id: keys[0]!.id, key: this.byId.get(keys[0]!.id)! };
  }

  /** The id new payloads are sealed under. */
  get currentKeyId(): string {
    return this.current.id;
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => this.seal(p));
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => this.open(p));
  }

  private seal(payload: Payload): Payload {
    const plain = Buffer.from(JSON.stringify(serialise(payload)), 'utf8');
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.current.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(this.current.id, 'utf8'));
    const body = Buffer.concat([cipher.update(plain), cipher.final()]);
    return {
      metadata: { encoding: utf8(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: utf8(this.current.id) },
      data: new Uint8Array(Buffer.concat([iv, body, cipher.getAuthTag()])),
    };
  }

  private open(payload: Payload): Payload {
    if (text(payload.metadata?.encoding) !== ENCRYPTED_ENCODING) return payload;
    const id = text(payload.metadata?.[KEY_ID_METADATA]);
    if (!id) throw new PayloadCodecError(`encrypted payload without ${KEY_ID_METADATA} metadata`);
    const key = this.byId.get(id);
    if (!key) throw new PayloadCodecError(`payload sealed with unknown key id "${id}" (known: ${[...this.byId.keys()].join(', ')})`);
    const data = Buffer.from(payload.data ?? new Uint8Array());
    if (data.length < IV_BYTES + TAG_BYTES) throw new PayloadCodecError(`encrypted payload (key "${id}") is too short`);
    const iv = data.subarray(0, IV_BYTES);
    const tag = data.subarray(data.length - TAG_BYTES);
    const body = data.subarray(IV_BYTES, data.length - TAG_BYTES);
    let plain: Buffer;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(id, 'utf8'));
      decipher.setAuthTag(tag);
      plain = Buffer.concat([decipher.update(body), decipher.final()]);
    } catch {
      throw new PayloadCodecError(`encrypted payload (key "${id}") failed authentication: tampered, truncated or sealed with another key`);
    }
    return deserialise(JSON.parse(plain.toString('utf8')) as SerialisedPayload);
  }
}

interface SerialisedPayload {
  metadata: Record<string, string>;
  data: string;
}

function serialise(payload: Payload): SerialisedPayload {
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(payload.metadata ?? {})) if (v) metadata[k] = Buffer.from(v).toString('base64');
  return { metadata, data: Buffer.from(payload.data ?? new Uint8Array()).toString('base64') };
}

function deserialise(s: SerialisedPayload): Payload {
  const metadata: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(s.metadata ?? {})) metadata[k] = new Uint8Array(Buffer.from(v, 'base64'));
  return { metadata, data: new Uint8Array(Buffer.from(s.data ?? '', 'base64')) };
}

/**
 * Parses PAYLOAD_CODEC_KEYS: `id:base64key,id2:base64key`, each key 32 bytes, first is current.
 * Throws PayloadCodecError with a message that never echoes a key.
 */
export function parseCodecKeys(spec: string): CodecKey[] {
  const entries = spec.split(',').map((s) => s.trim()).filter(Boolean);
  if (entries.length === 0) throw new PayloadCodecError('expected id:base64key[,id:base64key...]');
  const keys: CodecKey[] = [];
  entries.forEach((entry, i) => {
    const colon = entry.indexOf(':');
    if (colon <= 0) throw new PayloadCodecError(`entry ${i + 1} must be id:base64key`);
    const id = entry.slice(0, colon).trim();
    const b64 = entry.slice(colon + 1).trim();
    if (!KEY_ID.test(id)) throw new PayloadCodecError(`entry ${i + 1}: key id must be 1-64 of A-Z a-z 0-9 . _ -`);
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.length % 4 !== 0) throw new PayloadCodecError(`key "${id}" is not base64`);
    const key = Buffer.from(b64, 'base64');
    if (key.length !== KEY_BYTES) throw new PayloadCodecError(`key "${id}" must decode to ${KEY_BYTES} bytes, got ${key.length}`);
    if (keys.some((k) => k.id === id)) throw new PayloadCodecError(`key id "${id}" appears twice`);
    keys.push({ id, key });
  });
  return keys;
}

/** The module exporting our failure converter, for workers, clients and workflow bundles. */
export const FAILURE_CONVERTER_PATH = require.resolve('./failure-converter');

/**
 * The data converter option for a client or worker: failures always carry their message as a
 * payload (see failure-converter.ts), and payloads are sealed when keys are configured.
 */
export function codecDataConverter(keys: readonly CodecKey[] | undefined): {
  dataConverter: { failureConverterPath: string; payloadCodecs?: PayloadCodec[] };
} {
  return {
    dataConverter: {
      failureConverterPath: FAILURE_CONVERTER_PATH,
      ...(keys && keys.length > 0 ? { payloadCodecs: [new AesGcmCodec(keys)] } : {}),
    },
  };
}
