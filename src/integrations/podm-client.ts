/**
 * HTTP client for a Redfish / Intel RSD pod manager: read the service root, read every pooled
 * resource (page by page, verified complete), read composed nodes, attach and detach a pooled
 * resource to a node through the action the node advertises.
 *
 * `@odata.id` values (and action targets, and next-page links) are resolved against the base URL:
 * a real pod manager's base URL is its origin, a simulated one's is `http://HOST:PORT/p/<id>`.
 * An absolute link pointing outside the base URL is refused, so credentials never travel to a
 * host the caller did not name.
 *
 * Every request has a timeout, every answer is checked, and every way a call can go wrong is a
 * PodmClientError whose `kind` tells the caller what to do about it:
 * - `unreachable`: connection failure, timeout, 5xx, 408, 429; the pod manager may come back;
 * - `rejected`: 401/403, the credentials are missing or not accepted;
 * - `conflict`: 409, the resource is attached to another node (or otherwise in use);
 * - `not_found`: 404, unknown node, resource or URL;
 * - `partial`: a listing that is not provably complete (fewer or more members than its count, a
 *   duplicate, a count that changed between pages, a later page that failed); never returned as
 *   a list. Read again later;
 * - `protocol`: anything else (other 4xx, a redirect, a body that is not JSON or not the
 *   expected shape, a node without the action): client and pod manager disagree.
 * Messages name the method, URL and status, never the credentials.
 */
import { sendOnce, statusText } from './http-transport';
import { z } from 'zod';

export type PodmClientErrorKind = 'unreachable' | 'rejected' | 'conflict' | 'not_found' | 'partial' | 'protocol';

export class PodmClientError extends Error {
  /** HTTP status, when the pod manager answered. */
  readonly status?: number;
  /** The Redfish MessageId of the error (first `@Message.ExtendedInfo` entry, else `error.code`), when sent. */
  readonly code?: string;

  constructor(
    readonly kind: PodmClientErrorKind,
    message: string,
    details: { status?: number; code?: string; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'PodmClientError';
    if (details.status !== undefined) this.status = details.status;
    if (details.code !== undefined) this.code = details.code;
  }

  /** Whether the same call may succeed later. */
  get retryable(): boolean {
    return this.kind === 'unreachable' || this.kind === 'partial';
  }
}

// ------------------------------------------------------------------ shapes

export type PooledResourceType = 'storage' | 'nvme' | 'nic' | 'gpu' | 'other';

export interface PooledResource {
  /** The pod manager's `Id`; unique within its collection only: identify a resource by `uri`. */
  resourceId: string;
  /** Its `@odata.id`, relative to the base URL (e.g. "/redfish/v1/Chassis/pool-1/Drives/drive-1"). */
  uri: string;
  type: PooledResourceType;
  name: string;
  /** Redfish `Status.State` as reported ("Enabled", "Disabled", "Absent"...); "Unknown" when absent. */
  state: string;
  /** `Oem.Intel_RackScale.PoolId`: the pooled group (chassis/drawer) it belongs to. */
  poolId: string | null;
  /** The composed node it is attached to (relative URI and id), null when free. */
  nodeUri: string | null;
  nodeId: string | null;
  /**
   * Normalized facts, each present only when the pod manager reports it: vendor, model,
   * serialNumber, health, capacityGiB, protocol, mediaType, speedMbps, macAddress, memoryGiB,
   * redfishType (`@odata.type`).
   */
  properties: Record<string, unknown>;
}

export interface PodmServiceRoot {
  uri: string;
  name: string | null;
  uuid: string | null;
  redfishVersion: string | null;
  /** Relative URIs of the collections the root links to; null when not linked. */
  links: { chassis: string | null; systems: string | null; nodes: string | null; pooledResources: string | null };
}

export interface ComposedNodeAction {
  /** As advertised, e.g. "#ComposedNode.AttachResource" or "#ComposedNode.AttachEndpoint". */
  name: string;
  /** Relative to the base URL. */
  target: string;
}

export interface ComposedNode {
  id: string;
  uri: string;
  name: string;
  /** `ComposedNodeState` ("Allocated", "Assembled", "Failed"...), else `Status.State`, else "Unknown". */
  state: string;
  /** Relative URIs of the resources the node links to (Drives, Endpoints, NetworkAdapters, PCIeDevices...). */
  attached: string[];
  actions: { attach?: ComposedNodeAction; detach?: ComposedNodeAction };
}

export interface AttachOptions {
  /** RSD 2.1 `CapacityGiB` (a slice of a drive). */
  capacityGiB?: number;
  /** RSD 2.3 `Protocol` (e.g. "NVMeOverFabrics"). */
  protocol?: string;
}

/**
 * What an accepted attach/detach did: the action used and the status (204, or another 2xx). The
 * pod manager may show the change only later: confirm it with getNode / getResource.
 */
export interface ActionResult {
  action: string;
  target: string;
  status: number;
}

export interface PodmClientOptions {
  /** The pod manager's base URL: its origin (http://podm:8443) or, simulated, http://127.0.0.1:7103/p/podm-1 */
  baseUrl: string;
  /** Sent as HTTP Basic on every request when given. */
  credentials?: { username: string; password: string };
  /** Upper bound on one request, connection to last byte (a listing makes one request per page). */
  timeoutMs: number;
  /** Members asked per page of PooledResources (`$top`); the pod manager may serve fewer. Default 1000. */
  pageSize?: number;
}

export interface PodmClient {
  readonly baseUrl: string;
  serviceRoot(): Promise<PodmServiceRoot>;
  /** Every pooled resource, read page by page and proven complete; anything less throws `partial`. */
  listPooledResources(): Promise<{ resources: PooledResource[]; complete: true }>;
  /** One resource by its `@odata.id` (relative, or absolute under the base URL). */
  getResource(uri: string): Promise<PooledResource>;
  /** Every composed node (inline through `$expand` when the pod manager supports it, else one read per node). */
  listNodes(): Promise<ComposedNode[]>;
  getNode(nodeId: string): Promise<ComposedNode>;
  /** POST the node's advertised attach action (read from the node now) with `{"Resource": {"@odata.id": uri}}`. */
  attach(nodeId: string, resourceUri: string, opts?: AttachOptions): Promise<ActionResult>;
  /** POST the node's advertised detach action. */
  detach(nodeId: string, resourceUri: string): Promise<ActionResult>;
}

const refSchema = z.object({ '@odata.id': z.string().min(1) });
const optionalText = z.string().nullable().optional();
const optionalNumber = z.number().nullable().optional();

const serviceRootSchema = z.object({
  '@odata.id': z.string().optional(),
  Name: optionalText,
  UUID: optionalText,
  RedfishVersion: optionalText,
  Chassis: refSchema.optional(),
  Systems: refSchema.optional(),
  Nodes: refSchema.optional(),
  PooledResources: refSchema.optional(),
  Oem: z.object({ Intel_RackScale: z.object({ PooledResources: refSchema.optional() }).optional() }).optional(),
});

const collectionSchema = z.object({
  Members: z.array(z.unknown()),
  'Members@odata.count': z.number().int().nonnegative(),
  'Members@odata.nextLink': z.string().min(1).nullable().optional(),
});

const resourceDocSchema = z.object({
  '@odata.id': z.string().min(1),
  '@odata.type': optionalText,
  Id: z.string().min(1),
  Name: optionalText,
  Manufacturer: optionalText,
  Model: optionalText,
  SerialNumber: optionalText,
  Status: z.object({ State: optionalText, Health: optionalText }).nullable().optional(),
  CapacityBytes: optionalNumber,
  Protocol: optionalText,
  MediaType: optionalText,
  SpeedMbps: optionalNumber,
  MACAddress: optionalText,
  MemoryGiB: optionalNumber,
  Links: z.object({ ComposedNodes: z.array(refSchema).nullable().optional() }).nullable().optional(),
  Oem: z
    .object({
      Intel_RackScale: z
        .object({ ResourceType: optionalText, PoolId: optionalText, CapacityGiB: optionalNumber })
        .nullable()
        .optional(),
    })
    .nullable()
    .optional(),
});

const nodeDocSchema = z.object({
  '@odata.id': z.string().min(1),
  Id: z.string().min(1),
  Name: optionalText,
  ComposedNodeState: optionalText,
  Status: z.object({ State: optionalText }).nullable().optional(),
  Links: z.record(z.string(), z.unknown()).nullable().optional(),
  Actions: z.record(z.string(), z.unknown()).nullable().optional(),
});

/** `Links` arrays of a composed node that list resources attached to it. */
const NODE_RESOURCE_LINKS = ['Drives', 'RemoteDrives', 'LocalDrives', 'Endpoints', 'NetworkAdapters', 'PCIeDevices', 'PCIeFunctions', 'Processors'];
const ATTACH_ACTION = /^#?ComposedNode\.Attach(Resource|Endpoint)$/;
const DETACH_ACTION = /^#?ComposedNode\.Detach(Resource|Endpoint)$/;
const GIB = 1024 ** 3;
const NODE_READ_CONCURRENCY = 8;

// ------------------------------------------------------------------ transport

const EXCERPT_MAX = 160;



/** The MessageId and message of a Redfish error body (`error.@Message.ExtendedInfo[0]`, else `error`). */
function redfishErrorOf(body: unknown): { code?: string; message?: string } {
  const error = (body as { error?: unknown } | undefined)?.error;
  if (typeof error !== 'object' || error === null) return {};
  const e = error as { code?: unknown; message?: unknown; '@Message.ExtendedInfo'?: unknown };
  const info = Array.isArray(e['@Message.ExtendedInfo']) ? (e['@Message.ExtendedInfo'][0] as { MessageId?: unknown; Message?: unknown } | undefined) : undefined;
  const code = typeof info?.MessageId === 'string' ? info.MessageId : typeof e.code === 'string' ? e.code : undefined;
  const message = typeof info?.Message === 'string' && info.Message.trim() ? info.Message : typeof e.message === 'string' ? e.message : undefined;
  return { ...(code !== undefined ? { code } : {}), ...(message !== undefined ? { message } : {}) };
}

function typeOf(doc: z.output<typeof resourceDocSchema>): PooledResourceType {
  const declared = doc.Oem?.Intel_RackScale?.ResourceType?.toLowerCase();
  switch (declared) {
    case 'storage':
    case 'drive':
      return 'storage';
    case 'nvme':
      return 'nvme';
    case 'nic':
    case 'networkadapter':
    case 'ethernet':
      return 'nic';
    case 'gpu':
      return 'gpu';
    case undefined:
      break;
    default:
      return 'other';
  }
  const odataType = doc['@odata.type'] ?? '';
  if (odataType.startsWith('#Drive.')) return 'storage';
  if (odataType.startsWith('#NetworkAdapter.')) return 'nic';
  return 'other';
}

/** Last path segment of a URI, decoded. */
function lastSegment(uri: string): string {
  const seg = uri.replace(/\/+$/, '').split('/').pop() ?? '';
  try {
    return decodeURIComponent(seg);
  } catch {
    return seg;
  }
}

export function createPodmClient(opts: PodmClientOptions): PodmClient {
  const { credentials, timeoutMs } = opts;
  const pageSize = opts.pageSize ?? 1000;
  const authorization = credentials ? `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`, 'utf8').toString('base64')}` : undefined;
  // Every secret form that could appear in a message; the user name only when long enough not to mangle ordinary words.
  const secrets = credentials
    ? [authorization!.slice(6), credentials.password, ...(credentials.username.length >= 3 ? [credentials.username] : [])].filter((s) => s.length > 0)
    : [];
  const redact = (message: string): string => secrets.reduce((m, s) => m.split(s).join('***'), message);
  const fail = (kind: PodmClientErrorKind, message: string, details?: ConstructorParameters<typeof PodmClientError>[2]): never => {
    throw new PodmClientError(kind, redact(message), details);
  };

  let base: URL;
  try {
    base = new URL(opts.baseUrl);
  } catch {
    // The URL could hold anything; keep it out of the message beyond its length.
    return fail('protocol', `pod manager base URL is not a valid URL (${opts.baseUrl.length} characters)`);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    fail('protocol', `pod manager base URL must be http:// or https://, got ${base.protocol}//...`);
  }
  if (base.username || base.password) {
    fail('protocol', `pod manager base URL ${base.protocol}//${base.host}${base.pathname} embeds credentials; pass them as credentials instead`);
  }
  if (credentials && (credentials.username === '' || credentials.username.includes(':'))) {
    fail('protocol', 'the pod manager user name must be non-empty and cannot contain ":" (HTTP Basic)');
  }
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) fail('protocol', `timeoutMs must be a positive number, got ${timeoutMs}`);
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 100_000) fail('protocol', `pageSize must be an integer from 1 to 100000, got ${pageSize}`);
  const basePath = base.pathname.replace(/\/+$/, '');
  const baseUrl = `${base.origin}${basePath}`;

  /**
   * A link from the pod manager (or the caller) as a path relative to the base URL, query kept.
   * Absolute links must point under the base URL; anything climbing out of it is refused.
   */
  const relative = (link: string, what: string): string => {
    let resolved: URL;
    try {
      resolved = /^[a-z][a-z0-9+.-]*:/i.test(link) ? new URL(link) : new URL(`${basePath}${link.startsWith('/') ? '' : '/'}${link}`, base.origin);
    } catch {
      return fail('protocol', `${what} "${link.slice(0, EXCERPT_MAX)}" is not a valid URI`);
    }
    if (resolved.origin !== base.origin || !(resolved.pathname === basePath || resolved.pathname.startsWith(`${basePath}/`))) {
      return fail('protocol', `${what} "${link.slice(0, EXCERPT_MAX)}" points outside the pod manager at ${baseUrl}; refusing to follow it`);
    }
    return `${resolved.pathname.slice(basePath.length) || '/'}${resolved.search}`;
  };

  const podmSays = (body: unknown): string => {
    const { message } = redfishErrorOf(body);
    if (message === undefined || message.trim() === '') return '';
    const clean = redact(message.replace(/\s+/g, ' ').trim());
    return ` (pod manager says: "${clean.length > EXCERPT_MAX ? `${clean.slice(0, EXCERPT_MAX)}...` : clean}")`;
  };

  interface Reply {
    status: number;
    body: unknown;
    label: string;
  }

  /** One request to a path relative to the base URL. Resolves with a 2xx answer; everything else throws. */
  async function call(method: 'GET' | 'POST', path: string, init: { body?: unknown } = {}): Promise<Reply> {
    const url = `${baseUrl}${path}`;
    const label = `${method} ${url}`;
    const headers: Record<string, string> = { Accept: 'application/json', 'OData-Version': '4.0' };
    if (authorization !== undefined) headers.Authorization = authorization;
    let payload: string | undefined;
    if (init.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      payload = JSON.stringify(init.body);
    }

    // Redirects are not followed: they would carry the credentials wherever they point.
    const sent = await sendOnce(url, { method, headers, body: payload }, timeoutMs, 'the pod manager');
    if (!sent.ok) return fail('unreachable', `${label} ${sent.message}`);
    const { status, text } = sent;

    let body: unknown;
    let json = true;
    try {
      body = text === '' ? undefined : (JSON.parse(text) as unknown);
    } catch {
      json = false;
    }
    const { code } = json ? redfishErrorOf(body) : {};
    const details = { status, ...(code !== undefined ? { code } : {}) };
    const says = podmSays(body);

    if (status >= 200 && status < 300) {
      if (!json) fail('protocol', `${label} answered ${statusText(status)} with a body that is not JSON (${text.length} bytes)`, details);
      return { status, body, label };
    }
    if (status >= 500 || status === 408 || status === 429) {
      fail('unreachable', `${label} answered ${statusText(status)}: the pod manager is not available${says}`, details);
    }
    if (status === 401 || status === 403) {
      const why = credentials === undefined ? 'the pod manager requires credentials and none were given' : 'the pod manager did not accept the credentials';
      fail('rejected', `${label} answered ${statusText(status)}: ${why}${says}`, details);
    }
    if (status === 409) fail('conflict', `${label} answered ${statusText(status)}: the resource is in use${says}`, details);
    if (status === 404) fail('not_found', `${label} answered ${statusText(status)}${says}`, details);
    if (status >= 300 && status < 400) {
      fail('protocol', `${label} answered ${statusText(status)} (a redirect); the base URL should point at the pod manager itself`, details);
    }
    return fail('protocol', `${label} answered an unexpected ${statusText(status)}${says}`, details);
  }

  function parse<S extends z.ZodType>(schema: S, value: unknown, label: string, status?: number): z.output<S> {
    const result = schema.safeParse(value);
    if (result.success) return result.data;
    const problems = result.error.issues
      .slice(0, 3)
      .map((i) => `${i.path.length ? i.path.join('.') : '(body)'}: ${i.message}`)
      .join('; ');
    const more = result.error.issues.length > 3 ? ` (+${result.error.issues.length - 3} more)` : '';
    return fail('protocol', `${label} answered an unexpected shape: ${problems}${more}`, status === undefined ? {} : { status });
  }

  const isBareRef = (member: unknown): boolean =>
    typeof member === 'object' && member !== null && '@odata.id' in member && !('Id' in member);

  function toResource(value: unknown, label: string, status?: number): PooledResource {
    const doc = parse(resourceDocSchema, value, label, status);
    const uri = relative(doc['@odata.id'], `${label}: @odata.id`);
    const nodes = doc.Links?.ComposedNodes ?? [];
    if (nodes.length > 1) fail('protocol', `${label}: resource ${uri} is linked to ${nodes.length} composed nodes; a pooled resource belongs to at most one`);
    const nodeUri = nodes.length === 1 ? relative(nodes[0]!['@odata.id'], `${label}: node link of ${uri}`) : null;
    const oem = doc.Oem?.Intel_RackScale;
    const properties: Record<string, unknown> = {};
    const put = (key: string, v: unknown) => {
      if (v !== undefined && v !== null) properties[key] = v;
    };
    put('vendor', doc.Manufacturer);
    put('model', doc.Model);
    put('serialNumber', doc.SerialNumber);
    put('health', doc.Status?.Health);
    const bytes = doc.CapacityBytes;
    put('capacityGiB', oem?.CapacityGiB ?? (typeof bytes === 'number' ? Math.round((bytes / GIB) * 1000) / 1000 : undefined));
    put('protocol', doc.Protocol);
    put('mediaType', doc.MediaType);
    put('speedMbps', doc.SpeedMbps);
    put('macAddress', doc.MACAddress);
    put('memoryGiB', doc.MemoryGiB);
    put('redfishType', doc['@odata.type']);
    return {
      resourceId: doc.Id,
      uri,
      type: typeOf(doc),
      name: doc.Name ?? doc.Id,
      state: doc.Status?.State ?? 'Unknown',
      poolId: oem?.PoolId ?? null,
      nodeUri,
      nodeId: nodeUri === null ? null : lastSegment(nodeUri.split('?')[0]!),
      properties,
    };
  }

  function toNode(value: unknown, label: string, status?: number): ComposedNode {
    const doc = parse(nodeDocSchema, value, label, status);
    const uri = relative(doc['@odata.id'], `${label}: @odata.id`);
    const attached: string[] = [];
    for (const key of NODE_RESOURCE_LINKS) {
      const list = doc.Links?.[key];
      if (!Array.isArray(list)) continue;
      for (const item of list) {
        const link = refSchema.safeParse(item);
        if (!link.success) fail('protocol', `${label}: Links.${key} of node ${doc.Id} holds something that is not {"@odata.id": ...}`);
        else attached.push(relative(link.data['@odata.id'], `${label}: Links.${key} of node ${doc.Id}`));
      }
    }
    const actions: ComposedNode['actions'] = {};
    // When a node advertises both generations, the current one (…Resource) wins.
    const rank = (name: string) => (name.endsWith('Resource') ? 2 : 1);
    for (const [name, spec] of Object.entries(doc.Actions ?? {})) {
      const slot = ATTACH_ACTION.test(name) ? 'attach' : DETACH_ACTION.test(name) ? 'detach' : undefined;
      if (!slot) continue;
      const target = (spec as { target?: unknown } | null)?.target;
      if (typeof target !== 'string' || target === '') continue;
      const current = actions[slot];
      if (current && rank(current.name) >= rank(name)) continue;
      actions[slot] = { name, target: relative(target, `${label}: target of ${name}`) };
    }
    return {
      id: doc.Id,
      uri,
      name: doc.Name ?? doc.Id,
      state: doc.ComposedNodeState ?? doc.Status?.State ?? 'Unknown',
      attached,
      actions,
    };
  }

  /**
   * Read a (possibly paged) collection to its end, proving it complete: every page answers, the
   * count never changes, no member twice, as many members as the count. `keyOf` gives a member's
   * identity for the duplicate check.
   */
  async function readCollection<T>(first: string, what: string, toItem: (member: unknown, label: string, status: number) => T, keyOf: (item: T) => string): Promise<T[]> {
    const items: T[] = [];
    const keys = new Set<string>();
    const visited = new Set<string>([first]);
    let path = first;
    let count: number | undefined;
    for (let page = 1; ; page++) {
      let reply: Reply;
      try {
        reply = await call('GET', path);
      } catch (err) {
        if (page === 1 || !(err instanceof PodmClientError)) throw err;
        return fail('partial', `${what}: page ${page} failed after ${items.length} of ${count} members were read, so the listing is incomplete: ${err.message}`, {
          ...(err.status !== undefined ? { status: err.status } : {}),
          ...(err.code !== undefined ? { code: err.code } : {}),
          cause: err,
        });
      }
      const coll = parse(collectionSchema, reply.body, reply.label, reply.status);
      const pageCount = coll['Members@odata.count'];
      if (count === undefined) count = pageCount;
      else if (pageCount !== count) {
        fail('partial', `${what}: Members@odata.count changed from ${count} to ${pageCount} at page ${page}; the collection changed while it was read`);
      }
      coll.Members.forEach((member, i) => {
        const item = toItem(member, `${reply.label} (member ${i})`, reply.status);
        const key = keyOf(item);
        if (keys.has(key)) fail('partial', `${what}: ${key} appears twice (again at page ${page}); the pages overlap, so the listing is not a consistent snapshot`);
        keys.add(key);
        items.push(item);
      });
      if (items.length > count) fail('partial', `${what}: ${items.length} members read by page ${page}, more than Members@odata.count ${count}`);
      const next = coll['Members@odata.nextLink'];
      if (next === undefined || next === null) break;
      if (coll.Members.length === 0) fail('partial', `${what}: page ${page} is empty yet links to another page, after ${items.length} of ${count} members`);
      path = relative(next, `${reply.label}: Members@odata.nextLink`);
      if (visited.has(path)) fail('partial', `${what}: Members@odata.nextLink of page ${page} leads back to a page already read`);
      visited.add(path);
    }
    if (items.length !== count) {
      fail('partial', `${what}: read ${items.length} members but Members@odata.count says ${count}; the pod manager answered an incomplete listing`);
    }
    return items;
  }

  const serviceRoot = async (): Promise<PodmServiceRoot> => {
    const reply = await call('GET', '/redfish/v1/');
    const doc = parse(serviceRootSchema, reply.body, reply.label, reply.status);
    const link = (r: { '@odata.id': string } | undefined, name: string) => (r ? relative(r['@odata.id'], `${reply.label}: ${name}`) : null);
    return {
      uri: doc['@odata.id'] ? relative(doc['@odata.id'], `${reply.label}: @odata.id`) : '/redfish/v1/',
      name: doc.Name ?? null,
      uuid: doc.UUID ?? null,
      redfishVersion: doc.RedfishVersion ?? null,
      links: {
        chassis: link(doc.Chassis, 'Chassis'),
        systems: link(doc.Systems, 'Systems'),
        nodes: link(doc.Nodes, 'Nodes'),
        pooledResources: link(doc.Oem?.Intel_RackScale?.PooledResources ?? doc.PooledResources, 'PooledResources'),
      },
    };
  };

  const nodePath = (nodeId: string): string => {
    if (nodeId === '') fail('protocol', 'a node id cannot be empty');
    return `/redfish/v1/Nodes/${encodeURIComponent(nodeId)}`;
  };

  const readNode = async (path: string): Promise<ComposedNode> => {
    const reply = await call('GET', path);
    return toNode(reply.body, reply.label, reply.status);
  };

  const runAction = async (op: 'attach' | 'detach', nodeId: string, resourceUri: string, extra: Record<string, unknown>): Promise<ActionResult> => {
    const resource = relative(resourceUri, `the resource URI to ${op}`);
    // Read at call time: the name and target are the pod manager's to choose and may change.
    const node = await readNode(nodePath(nodeId));
    const action = node.actions[op];
    if (!action) {
      const names = op === 'attach' ? '#ComposedNode.AttachResource or #ComposedNode.AttachEndpoint' : '#ComposedNode.DetachResource or #ComposedNode.DetachEndpoint';
      return fail('protocol', `node ${node.id} at ${baseUrl}${node.uri} advertises no ${op} action (${names}) with a target`);
    }
    const reply = await call('POST', action.target, { body: { Resource: { '@odata.id': resource }, ...extra } });
    return { action: action.name, target: action.target, status: reply.status };
  };

  return {
    baseUrl,

    serviceRoot,

    async listPooledResources() {
      const root = await serviceRoot();
      const link = root.links.pooledResources;
      if (link === null) {
        fail('protocol', `the service root of ${baseUrl} links no PooledResources collection (Oem.Intel_RackScale.PooledResources)`);
      }
      const first = `${link}${link!.includes('?') ? '&' : '?'}$top=${pageSize}`;
      const resources = await readCollection(
        first,
        `pooled resources of ${baseUrl}`,
        (member, label, status) => {
          // One request per resource is exactly what this collection exists to avoid.
          if (isBareRef(member)) fail('protocol', `${label}: the PooledResources collection lists references, not resources; it must inline its members`);
          return toResource(member, label, status);
        },
        (r) => r.uri,
      );
      return { resources, complete: true as const };
    },

    async getResource(uri) {
      const reply = await call('GET', relative(uri, 'resource URI'));
      return toResource(reply.body, reply.label, reply.status);
    },

    async listNodes() {
      const members = await readCollection<{ uri: string; node?: ComposedNode }>(
        '/redfish/v1/Nodes?$expand=.($levels=1)',
        `composed nodes of ${baseUrl}`,
        (member, label, status) => {
          if (isBareRef(member)) return { uri: relative(parse(refSchema, member, label, status)['@odata.id'], `${label}: @odata.id`) };
          const node = toNode(member, label, status);
          return { uri: node.uri, node };
        },
        (m) => m.uri,
      );
      // A pod manager without $expand lists references: read those nodes, a few at a time.
      const nodes: ComposedNode[] = new Array(members.length);
      let next = 0;
      const worker = async () => {
        while (next < members.length) {
          const i = next++;
          nodes[i] = members[i]!.node ?? (await readNode(members[i]!.uri));
        }
      };
      await Promise.all(Array.from({ length: Math.min(NODE_READ_CONCURRENCY, members.length) }, worker));
      return nodes;
    },

    async getNode(nodeId) {
      return readNode(nodePath(nodeId));
    },

    async attach(nodeId, resourceUri, attachOpts = {}) {
      const extra: Record<string, unknown> = {};
      if (attachOpts.capacityGiB !== undefined) extra.CapacityGiB = attachOpts.capacityGiB;
      if (attachOpts.protocol !== undefined) extra.Protocol = attachOpts.protocol;
      return runAction('attach', nodeId, resourceUri, extra);
    },

    async detach(nodeId, resourceUri) {
      return runAction('detach', nodeId, resourceUri, {});
    },
  };
}
