import { z } from 'zod';

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/**
 * A duration: a number of seconds, or a string such as "500ms", "90s", "10m", "2h", "1d".
 * Parsed to milliseconds, within [min, max].
 */
export function duration(minMs: number, maxMs: number) {
  return z
    .union([z.number(), z.string()])
    .transform((value, ctx) => {
      let ms: number;
      if (typeof value === 'number') {
        ms = value * 1_000;
      } else {
        const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(value.trim());
        if (!match) {
          ctx.addIssue({ code: 'custom', message: 'must be seconds or a duration such as "90s", "10m", "2h"' });
          return z.NEVER;
        }
        ms = Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
      }
      if (!Number.isFinite(ms) || ms < minMs || ms > maxMs) {
        ctx.addIssue({ code: 'custom', message: `must be between ${minMs / 1000}s and ${maxMs / 1000}s` });
        return z.NEVER;
      }
      return Math.round(ms);
    });
}

/**
 * The base URL of a service or pod manager: http(s), no credentials in it (they belong in a
 * credentials reference), one spelling (no trailing slash) so uniqueness means something.
 */
export const httpUrl = z
  .string()
  .max(2048)
  .refine((v) => {
    try {
      const u = new URL(v);
      return (u.protocol === 'http:' || u.protocol === 'https:') && !u.username && !u.password;
    } catch {
      return false;
    }
  }, 'must be an http(s) URL without embedded credentials (use credentialsRef)')
  .transform((v) => v.replace(/\/+$/, ''));
