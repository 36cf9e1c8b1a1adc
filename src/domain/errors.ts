/**
 * Errors the API answers with. Each carries a machine-readable code and its HTTP status;
 * src/api/errors.ts maps them (and everything else) to the one JSON error shape.
 */
export class DomainError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const notFound = (what: string, id: string) => new DomainError(404, `${what}_not_found`, `${what} ${id} does not exist`, { id });

export const conflict = (code: string, message: string, details?: Record<string, unknown>) =>
  new DomainError(409, code, message, details);

export const invalid = (code: string, message: string, details?: Record<string, unknown>) =>
  new DomainError(422, code, message, details);

/** Failure types thrown by activities (ApplicationFailure.type), shared with the workflows. */
export const FAILURE_TYPES = {
  unreachable: 'DeviceUnreachable',
  credentialsRejected: 'CredentialsRejected',
  credentialsRequired: 'CredentialsRequired',
  credentialsNotFound: 'CredentialsNotFound',
  incompatible: 'DriverIncompatible',
  protocol: 'DeviceProtocolError',
  noDriver: 'NoCompatibleDriver',
  illegalTransition: 'IllegalTransition',
  lockLost: 'DeviceLockLost',
  deviceMissing: 'DeviceNotFound',
  endpointInUse: 'EndpointInUse',
  serviceUnreachable: 'ServiceUnreachable',
  serviceRejected: 'ServiceRejected',
} as const;
