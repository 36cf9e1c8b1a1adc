import type { Payload, PayloadCodec } from '@temporalio/common';
import { Router, type RequestHandler } from 'express';
import { DomainError, invalid } from '../../domain/errors';
import { PayloadCodecError } from '../../temporal/codec';
import type { ApiDeps } from '../deps';
import { parse } from '../validate';
import { codecBody, type CodecPayloadJson } from './schema';

/** Paths of the codec endpoint, matched as Express matches routes (any case, optional trailing slash). */
const CODEC_PATH = /^\/v1\/codec\/(encode|decode)\/?$/i;

/**
 * CORS for the codec endpoint only, so the Temporal UI (another origin) can call it from the
 * browser. Runs before authentication: a preflight (OPTIONS) carries no token and is answered
 * here with 204; the POST that follows still needs its bearer token and role.
 */
export function codecCors(allowedOrigin: string): RequestHandler {
  return (req, res, next) => {
    if (!CODEC_PATH.test(req.path)) return next();
    res.vary('Origin');
    const origin = req.header('origin');
    const allowed = origin !== undefined && origin === allowedOrigin;
    if (allowed) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Credentials', 'true');
    }
    if (req.method !== 'OPTIONS') return next();
    if (allowed) {
      res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
      res.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type, X-Namespace');
      res.setHeader('Access-Control-Max-Age', '600');
    }
    res.status(204).end();
  };
}

const fromJson = (p: CodecPayloadJson): Payload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'base64'))])),
  data: new Uint8Array(Buffer.from(p.data ?? '', 'base64')),
});

const toJson = (p: Payload): CodecPayloadJson => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? new Uint8Array()).toString('base64')])),
  data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
});

/**
 * POST /v1/codec/encode and /v1/codec/decode: the Temporal codec server protocol over the
 * configured AES-GCM codec. Both need role operator (decoding reveals what the payloads hold).
 * The X-Namespace header the UI sends is accepted; the keys are the same for every namespace.
 */
export function codecRouter(deps: ApiDeps): Router {
  const router = Router();
  const handler = (direction: 'encode' | 'decode'): RequestHandler => async (req, res) => {
    const codec: PayloadCodec | undefined = deps.payloadCodec;
    if (!codec) throw new DomainError(404, 'codec_not_configured', 'no payload codec is configured (set PAYLOAD_CODEC_KEYS)');
    const body = parse(codecBody, req, 'body');
    let out: Payload[];
    try {
      out = await codec[direction](body.payloads.map(fromJson));
    } catch (err) {
      if (err instanceof PayloadCodecError) throw invalid(`${direction}_failed`, err.message);
      throw err;
    }
    res.json({ payloads: out.map(toJson) });
  };
  router.post('/encode', handler('encode'));
  router.post('/decode', handler('decode'));
  return router;
}
