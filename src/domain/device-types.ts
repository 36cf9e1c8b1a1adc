/** Kinds of managed infrastructure device. Kept as a string union so workflows can import it. */
export const DEVICE_TYPES = ['SERVER', 'HYPERVISOR', 'STORAGE', 'NETWORK', 'ACCELERATOR'] as const;
export type DeviceType = (typeof DEVICE_TYPES)[number];

/** What a driver found on the device: facts (capabilities) and sizes (capacity). Never secrets. */
export interface Discovery {
  capabilities: Record<string, unknown>;
  capacity: Record<string, unknown>;
}

/** Credentials resolved from a credentials reference at activity time. Never passed to a workflow. */
export interface Credentials {
  username: string;
  password: string;
}
