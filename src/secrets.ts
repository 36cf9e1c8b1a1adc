import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import type { Credentials } from './domain/device-types';

/**
 * Resolves a credentials reference (a name) to the secret at activity time, so secrets never
 * enter a workflow input, result or history. The file is read on every lookup: an operator who
 * fixes a password in it can retry without restarting the worker.
 */
export interface SecretStore {
  resolve(ref: string): Promise<Credentials | undefined>;
}

const secretsFileSchema = z.record(z.string(), z.object({ username: z.string(), password: z.string() }));

export function fileSecretStore(path: string): SecretStore {
  return {
    async resolve(ref) {
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
      const parsed = secretsFileSchema.safeParse(JSON.parse(text));
      // Never echo the file's content: it holds secrets.
      if (!parsed.success) throw new Error(`secrets file ${path} is not {"<ref>": {"username", "password"}}`);
      return parsed.data[ref];
    },
  };
}
