import { createHash } from 'node:crypto';
import { executionInfoFromRaw } from '@temporalio/client/lib/helpers';
import { DeviceIdKey, DeviceNameKey, OperationTypeKey } from '../../temporal/search-attributes';
import { DomainError } from '../../domain/errors';
import type { ApiDeps } from '../deps';
import type { ListOperationsQuery } from './schema';
import { TEMPORAL_CALL_DEADLINE_MS, temporalUnavailable } from './temporal';

/** The visibility query for a listing; values are validated by the schema, so quoting is safe. */
export function visibilityQuery(q: ListOperationsQuery): string {
  const clauses: string[] = [];
  if (q.deviceId) clauses.push(`${DeviceIdKey.name} = "${q.deviceId}"`);
  if (q.deviceName) clauses.push(`${DeviceNameKey.name} = "${q.deviceName}"`);
  if (q.type) clauses.push(`${OperationTypeKey.name} = "${q.type}"`);
  if (q.status) clauses.push(`ExecutionStatus = "${q.status}"`);
  // Only runs this control plane started (they all carry OperationType).
  if (!q.type) clauses.push(`${OperationTypeKey.name} IS NOT NULL`);
  // Visibility lists newest first; the SQL-based store refuses an explicit ORDER BY.
  return clauses.join(' AND ');
}

/**
 * Page tokens handed out are Temporal's, prefixed with a check bound to the query: Temporal
 * answers a token it cannot read with an opaque, retried error (a 20 s stall, then 503), so a
 * mangled token or one from another listing is refused here first, as a 400.
 */
const CHECK_BYTES = 8;
const check = (query: string, raw: Uint8Array) => createHash('sha256').update(query).update(raw).digest().subarray(0, CHECK_BYTES);

export function encodePageToken(query: string, raw: Uint8Array): string {
  return Buffer.concat([check(query, raw), raw]).toString('base64url');
}

export function decodePageToken(query: string, token: string): Buffer {
  const bytes = Buffer.from(token, 'base64url');
  const raw = bytes.subarray(CHECK_BYTES);
  if (bytes.length <= CHECK_BYTES || !check(query, raw).equals(bytes.subarray(0, CHECK_BYTES))) {
    throw new DomainError(400, 'invalid_page_token', 'nextPageToken does not belong to this listing (same filters, from a previous answer)', { field: 'nextPageToken' });
  }
  return raw;
}

/** One page of runs from Temporal visibility (eventually consistent: a run started a moment ago may be missing). */
export async function listOperations(deps: ApiDeps, q: ListOperationsQuery) {
  const namespace = deps.temporal.options.namespace;
  const query = visibilityQuery(q);
  // The page size is part of what the token is bound to, as the filters are.
  const binding = `${query}\n${q.pageSize}`;
  const nextPageToken = q.nextPageToken ? decodePageToken(binding, q.nextPageToken) : undefined;
  let response;
  try {
    response = await deps.temporal.withDeadline(Date.now() + TEMPORAL_CALL_DEADLINE_MS, () =>
      deps.temporal.workflowService.listWorkflowExecutions({ namespace, query, pageSize: q.pageSize, nextPageToken }),
    );
  } catch (err) {
    throw temporalUnavailable(err);
  }
  const converter = deps.temporal.options.loadedDataConverter;
  const items = await Promise.all(
    (response.executions ?? []).map(async (raw) => {
      const info = await executionInfoFromRaw(raw, converter, raw, namespace);
      const sa = info.typedSearchAttributes;
      return {
        workflowId: info.workflowId,
        runId: info.runId,
        type: sa.get(OperationTypeKey) ?? null,
        workflowType: info.type,
        status: info.status.name,
        deviceId: sa.get(DeviceIdKey) ?? null,
        deviceName: sa.get(DeviceNameKey) ?? null,
        startTime: info.startTime,
        closeTime: info.closeTime ?? null,
        href: `/v1/operations/${encodeURIComponent(info.workflowId)}`,
      };
    }),
  );
  const token = response.nextPageToken && response.nextPageToken.length > 0 ? encodePageToken(binding, response.nextPageToken) : null;
  return { items, nextPageToken: token, query };
}
