import type { Credentials, DeviceType, Discovery } from '../domain/device-types';

/**
 * Why a verification failed, in the operator's terms. The activity layer maps each kind
 * to retryable or not: only `unreachable` is worth retrying automatically.
 */
export type DriverFailureKind =
  | 'unreachable' // connection refused/reset, timeout, 5xx: the device may come back
  | 'credentials_rejected' // 401/403 from the device
  | 'credentials_required' // the device demands credentials and none were given
  | 'incompatible' // the endpoint answers but is not what this driver manages
  | 'protocol'; // the endpoint answered something malformed

export class DriverError extends Error {
  constructor(
    readonly kind: DriverFailureKind,
    message: string,
  ) {
    super(message);
    this.name = 'DriverError';
  }
}

export interface VerifyContext {
  /** Base URL of the device's management endpoint, e.g. http://127.0.0.1:7001/d/rf-1 */
  endpoint: string;
  credentials?: Credentials;
  /** Per HTTP request timeout. */
  timeoutMs: number;
}

export interface DeviceDriver {
  /** Stable identifier used in the API and the inventory (e.g. "redfish"). */
  name: string;
  version: string;
  description: string;
  deviceTypes: readonly DeviceType[];
  /** Vendors matched case-insensitively; "*" matches any vendor (a generic driver). */
  vendors: readonly string[];
  /** Optional model patterns (case-insensitive regular expressions); empty or absent = any model. */
  models?: readonly string[];
  /** Contact the device, check credentials, and discover capabilities and capacity. Throws DriverError. */
  verify(ctx: VerifyContext): Promise<Discovery>;
}
