import type { DevServer } from './helpers/temporal-server';

export default async function globalTeardown(): Promise<void> {
  const server = (globalThis as { __TEMPORAL_DEV_SERVER__?: DevServer }).__TEMPORAL_DEV_SERVER__;
  await server?.stop();
}
