import searchAttributes from './search-attributes.json';

/**
 * Operation names, workflow ids and the search attributes every run carries.
 * Pure and shared by the API, the worker and the workflows.
 */
export const OPERATION_TYPES = ['onboard', 'maintenance', 'podm-sync', 'attach', 'detach'] as const;
export type OperationType = (typeof OPERATION_TYPES)[number];

/**
 * Search attributes registered on the Temporal namespace. scripts/up and the tests read the JSON
 * file; docker-compose.yml registers the same names (test/deploy/compose.test.ts checks they agree).
 */
export const SEARCH_ATTRIBUTES: Readonly<Record<string, 'Keyword'>> = searchAttributes as Record<string, 'Keyword'>;

/** Device names become part of workflow ids, so they are restricted to readable, URL-safe characters. */
export const DEVICE_NAME_PATTERN = /^[a-z0-9](?:[a-z0-9._-]{0,62})$/;

export const workflowIds = {
  onboard: (deviceName: string) => `onboard-${deviceName}`,
  /** n counts the device's maintenance operations (Device.maintenanceSeq), so every one has its own id. */
  maintenance: (deviceName: string, n: number) => `maintenance-${deviceName}-${n}`,
  podmSync: (podmName: string) => `podm-sync-${podmName}`,
  /** One attach/detach per pooled device at a time (its lock); a later one reuses the id. */
  pooled: (action: 'attach' | 'detach', pooledId: string) => `${action}-${pooledId}`,
} as const;

/** The operation type a workflow id was made for, or undefined for ids we did not make. */
export function operationTypeOf(workflowId: string): OperationType | undefined {
  return OPERATION_TYPES.find((t) => workflowId.startsWith(`${t}-`));
}
