import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isRole, type Role } from './roles';

/**
 * API bearer tokens. Only their sha256 digests are kept in memory; a presented token is hashed
 * and compared with every digest in constant time (no early exit on the first match), so neither
 * the comparison nor the loop tells a caller how close a guess was.
 */
export interface TokenEntry {
  name: string;
  role: Role;
  /** sha256 of the token, 32 bytes. */
  digest: Buffer;
}

export interface Principal {
  name: string;
  role: Role;
}

export interface TokenStore {
  /** The caller a token belongs to, or undefined for an unknown or revoked token. */
  verify(token: string): Principal | undefined;
  /** Names of the tokens that authenticate (revoked ones excluded). */
  readonly names: readonly string[];
}

export const TOKEN_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
/** RFC 6750 b64token characters; tokens shorter than this are refused as guessable. */
export const TOKEN_PATTERN = /^[A-Za-z0-9\-._~+/]+=*$/;
export const MIN_TOKEN_LENGTH = 16;

export class TokenConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(message);
    this.name = 'TokenConfigError';
  }
}

export const sha256 = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

/** Checks one token's shape; returns a message, or undefined when it is acceptable. */
export function tokenProblem(token: string): string | undefined {
  if (token.length < MIN_TOKEN_LENGTH) return `tokens must be at least ${MIN_TOKEN_LENGTH} characters`;
  if (!TOKEN_PATTERN.test(token)) return 'tokens may hold only letters, digits and - . _ ~ + / (then =)';
  return undefined;
}

function entry(variable: string, where: string, name: string, role: string, digest: Buffer): TokenEntry {
  if (!TOKEN_NAME_PATTERN.test(name)) throw new TokenConfigError(variable, `${where}: name "${name}" must be letters, digits, . _ @ - (1-64)`);
  if (!isRole(role)) throw new TokenConfigError(variable, `${where}: role "${role}" must be reader, operator or admin`);
  return { name, role, digest };
}

/**
 * Parses `name:role:token,name:role:token`. The token is everything after the second colon.
 * Never echoes a token back in an error.
 */
export function parseTokenList(spec: string, variable = 'API_TOKENS'): TokenEntry[] {
  const out: TokenEntry[] = [];
  const items = spec.split(',').map((s) => s.trim()).filter(Boolean);
  for (const [i, item] of items.entries()) {
    const first = item.indexOf(':');
    const second = first < 0 ? -1 : item.indexOf(':', first + 1);
    if (first < 0 || second < 0) throw new TokenConfigError(variable, `entry ${i + 1} must look like name:role:token`);
    const [name, role, token] = [item.slice(0, first), item.slice(first + 1, second), item.slice(second + 1)];
    const problem = tokenProblem(token);
    if (problem) throw new TokenConfigError(variable, `entry ${i + 1} (${name}): ${problem}`);
    out.push(entry(variable, `entry ${i + 1}`, name, role, sha256(token)));
  }
  return out;
}

/**
 * Reads a JSON file: `[{"name", "role", "token"}]`, or `"sha256"` (hex) in place of `"token"`
 * so the file need not hold the token itself.
 */
export function readTokenFile(file: string, variable = 'API_TOKENS_FILE'): TokenEntry[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new TokenConfigError(variable, `cannot read ${file}: ${(err as Error).message}`);
  }
  const list = Array.isArray(parsed) ? parsed : (parsed as { tokens?: unknown } | null)?.tokens;
  if (!Array.isArray(list)) throw new TokenConfigError(variable, `${file} must hold a JSON array of {name, role, token | sha256}`);
  return list.map((raw, i) => {
    const where = `${file} [${i}]`;
    const item = (raw ?? {}) as Record<string, unknown>;
    const { name, role, token, sha256: hex } = item;
    if (typeof name !== 'string' || typeof role !== 'string') throw new TokenConfigError(variable, `${where}: name and role must be strings`);
    if (typeof token === 'string' && hex === undefined) {
      const problem = tokenProblem(token);
      if (problem) throw new TokenConfigError(variable, `${where} (${name}): ${problem}`);
      return entry(variable, where, name, role, sha256(token));
    }
    if (typeof hex === 'string' && token === undefined && /^[0-9a-f]{64}$/i.test(hex)) {
      return entry(variable, where, name, role, Buffer.from(hex, 'hex'));
    }
    throw new TokenConfigError(variable, `${where} (${name}): give exactly one of "token" or "sha256" (64 hex digits)`);
  });
}

/** One store from every source; duplicate names or tokens are configuration errors. */
export function createTokenStore(entries: TokenEntry[], revoked: readonly string[] = []): TokenStore {
  const seenNames = new Set<string>();
  const seenDigests = new Set<string>();
  for (const e of entries) {
    if (seenNames.has(e.name)) throw new TokenConfigError('API_TOKENS', `token name "${e.name}" is configured twice`);
    const hex = e.digest.toString('hex');
    if (seenDigests.has(hex)) throw new TokenConfigError('API_TOKENS', `token "${e.name}" has the same value as another token`);
    seenNames.add(e.name);
    seenDigests.add(hex);
  }
  const revokedNames = new Set(revoked);
  const active = entries.filter((e) => !revokedNames.has(e.name));
  return {
    names: active.map((e) => e.name),
    verify(token) {
      const digest = sha256(token);
      let found: TokenEntry | undefined;
      for (const e of active) {
        // Every entry is compared, match or not.
        if (timingSafeEqual(digest, e.digest) && !found) found = e;
      }
      return found ? { name: found.name, role: found.role } : undefined;
    },
  };
}

/** The tokens the configuration names: API_TOKENS, then API_TOKENS_FILE, minus API_TOKENS_REVOKED. */
export function tokenStoreFromConfig(config: { API_TOKENS: TokenEntry[]; API_TOKENS_FILE: string; API_TOKENS_REVOKED: string[] }): TokenStore {
  const entries = [...config.API_TOKENS];
  if (config.API_TOKENS_FILE) entries.push(...readTokenFile(config.API_TOKENS_FILE));
  return createTokenStore(entries, config.API_TOKENS_REVOKED);
}
