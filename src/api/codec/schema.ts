import { z } from 'zod';

const base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64');

/**
 * The Temporal codec server protocol (what the Temporal UI and CLI send to a codec endpoint):
 * payloads in their JSON form, metadata values and data base64.
 */
export const codecPayload = z.object({
  metadata: z.record(z.string(), base64).optional(),
  data: base64.optional(),
});

export const codecBody = z.object({ payloads: z.array(codecPayload).max(1_000) }).strict();

export type CodecPayloadJson = z.infer<typeof codecPayload>;
