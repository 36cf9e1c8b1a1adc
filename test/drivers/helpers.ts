import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Credentials } from '../../src/domain/device-types';
import { basicAuthorization } from '../../src/drivers/http';
import { DriverError, type DriverFailureKind } from '../../src/drivers/types';

/** Await a verify that must fail; check its kind and that no secret leaked into the message. */
export async function expectDriverError(
  promise: Promise<unknown>,
  kind: DriverFailureKind,
  opts: { message?: RegExp; secretOf?: Credentials } = {},
): Promise<DriverError> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(DriverError);
  const error = caught as DriverError;
  expect({ kind: error.kind, message: error.message }).toEqual({ kind, message: expect.any(String) });
  if (opts.message) expect(error.message).toMatch(opts.message);
  if (opts.secretOf) {
    expect(error.message).not.toContain(opts.secretOf.password);
    expect(error.message).not.toContain(basicAuthorization(opts.secretOf).slice('Basic '.length));
    expect(error.stack ?? '').not.toContain(opts.secretOf.password);
  }
  return error;
}

/** A port that nothing listens on: bind one, then close it. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
  return port;
}
