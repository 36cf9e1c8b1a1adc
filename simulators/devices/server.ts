/**
 * Device simulator: one HTTP server hosting many simulated device management endpoints, each at
 * its own base URL `http://HOST:PORT/d/<deviceId>`, plus an admin API under `/_sim` to add,
 * remove and tune devices (fault knobs, credentials, facts) while it runs.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { patchSimDevice, resolveSimDevice, type SimDevice, type SimDeviceConfig, type SimDevicePatch } from './config';
import { answerDeviceRequest, type SimDeviceState } from './kinds';

export type { SimDevice, SimDeviceConfig, SimDevicePatch } from './config';

export interface DeviceSimulatorOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  devices?: SimDeviceConfig[];
}

export interface SimRequestRecord {
  seq: number;
  at: string;
  deviceId: string;
  method: string;
  path: string;
  /** HTTP status sent, or what the fault knobs did instead. */
  outcome: number | 'down' | 'hang' | 'pending';
}

/** Requests that reached a known device, in arrival order (the newest `capacity` are kept; counts are exact). */
export interface SimRequestLog {
  count(deviceId?: string): number;
  entries(deviceId?: string): SimRequestRecord[];
  clear(deviceId?: string): void;
}

export interface DeviceSimulator {
  /** e.g. http://127.0.0.1:7101 */
  url: string;
  port: number;
  /** Base URL of one device's management endpoint: `${url}/d/${id}`. */
  baseUrlFor(id: string): string;
  /** Throws on invalid configuration or a duplicate id. */
  addDevice(cfg: SimDeviceConfig): void;
  /** Throws on invalid patch or an unknown id. */
  updateDevice(id: string, patch: SimDevicePatch): void;
  /** Throws on an unknown id. */
  removeDevice(id: string): void;
  /** Current resolved configuration of one device (a copy), or undefined. */
  getDevice(id: string): SimDevice | undefined;
  requestLog: SimRequestLog;
  close(): Promise<void>;
}

const REQUEST_LOG_CAPACITY = 10_000;

class RequestLog implements SimRequestLog {
  private seq = 0;
  private records: SimRequestRecord[] = [];
  private readonly counts = new Map<string, number>();

  record(deviceId: string, method: string, path: string): SimRequestRecord {
    const rec: SimRequestRecord = { seq: ++this.seq, at: new Date().toISOString(), deviceId, method, path, outcome: 'pending' };
    this.records.push(rec);
    if (this.records.length > REQUEST_LOG_CAPACITY) this.records.splice(0, this.records.length - REQUEST_LOG_CAPACITY);
    this.counts.set(deviceId, (this.counts.get(deviceId) ?? 0) + 1);
    return rec;
  }

  count(deviceId?: string): number {
    if (deviceId !== undefined) return this.counts.get(deviceId) ?? 0;
    let total = 0;
    for (const n of this.counts.values()) total += n;
    return total;
  }

  entries(deviceId?: string): SimRequestRecord[] {
    const list = deviceId === undefined ? this.records : this.records.filter((r) => r.deviceId === deviceId);
    return list.map((r) => ({ ...r }));
  }

  clear(deviceId?: string): void {
    if (deviceId === undefined) {
      this.records = [];
      this.counts.clear();
    } else {
      this.records = this.records.filter((r) => r.deviceId !== deviceId);
      this.counts.delete(deviceId);
    }
  }
}

interface DeviceEntry {
  device: SimDevice;
  state: SimDeviceState;
}

function validationError(res: Response, error: z.ZodError): void {
  res.status(400).json({
    error: {
      code: 'validation_error',
      message: z.prettifyError(error),
      issues: error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
    },
  });
}

function notFound(res: Response, id: string): void {
  res.status(404).json({ error: { code: 'unknown_device', message: `no simulated device "${id}"` } });
}

/** Trailing slashes do not matter to the simulated APIs ("/redfish/v1/" is "/redfish/v1"). */
function normalizePath(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  return trimmed === '' ? '/' : trimmed;
}

export async function startDeviceSimulator(opts: DeviceSimulatorOptions = {}): Promise<DeviceSimulator> {
  const host = opts.host ?? '127.0.0.1';
  const devices = new Map<string, DeviceEntry>();
  const log = new RequestLog();
  const timers = new Set<NodeJS.Timeout>();
  let url = '';

  const baseUrlFor = (id: string) => `${url}/d/${encodeURIComponent(id)}`;

  const addDevice = (cfg: SimDeviceConfig | unknown): SimDevice => {
    const device = resolveSimDevice(cfg);
    if (devices.has(device.id)) throw new Error(`simulated device "${device.id}" already exists`);
    devices.set(device.id, { device, state: { sessions: new Set() } });
    return device;
  };

  const updateDevice = (id: string, patch: SimDevicePatch | unknown): SimDevice => {
    const entry = devices.get(id);
    if (!entry) throw new Error(`no simulated device "${id}"`);
    const next = patchSimDevice(entry.device, patch);
    // New credentials invalidate the sessions opened with the old ones.
    if (JSON.stringify(next.credentials) !== JSON.stringify(entry.device.credentials)) entry.state.sessions.clear();
    entry.device = next;
    return next;
  };

  const removeDevice = (id: string): void => {
    if (!devices.delete(id)) throw new Error(`no simulated device "${id}"`);
  };

  const view = (device: SimDevice) => {
    const { credentials, ...rest } = device;
    return {
      ...rest,
      // The password stays out of listings; whoever configured it knows it.
      auth: credentials ? { username: credentials.username } : null,
      baseUrl: baseUrlFor(device.id),
      requestCount: log.count(device.id),
    };
  };

  for (const cfg of opts.devices ?? []) addDevice(cfg);

  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');

  // ------------------------------------------------------------------ admin API
  const admin = express.Router();
  admin.use(express.json({ limit: '1mb' }));

  admin.get('/devices', (_req, res) => {
    res.json({ devices: [...devices.values()].map((e) => view(e.device)) });
  });

  admin.post('/devices', (req, res) => {
    let device: SimDevice;
    try {
      device = addDevice(req.body);
    } catch (err) {
      if (err instanceof z.ZodError) return validationError(res, err);
      return void res.status(409).json({ error: { code: 'conflict', message: (err as Error).message } });
    }
    res.status(201).json(view(device));
  });

  admin.get('/devices/:id', (req, res) => {
    const entry = devices.get(req.params.id);
    if (!entry) return notFound(res, req.params.id);
    res.json(view(entry.device));
  });

  admin.patch('/devices/:id', (req, res) => {
    if (!devices.has(req.params.id)) return notFound(res, req.params.id);
    try {
      res.json(view(updateDevice(req.params.id, req.body)));
    } catch (err) {
      if (err instanceof z.ZodError) return validationError(res, err);
      throw err;
    }
  });

  admin.delete('/devices/:id', (req, res) => {
    if (!devices.has(req.params.id)) return notFound(res, req.params.id);
    removeDevice(req.params.id);
    res.status(204).end();
  });

  admin.get('/devices/:id/requests', (req, res) => {
    if (!devices.has(req.params.id)) return notFound(res, req.params.id);
    const entries = log.entries(req.params.id);
    res.json({ deviceId: req.params.id, count: log.count(req.params.id), recent: entries.slice(-50) });
  });

  admin.delete('/devices/:id/requests', (req, res) => {
    if (!devices.has(req.params.id)) return notFound(res, req.params.id);
    log.clear(req.params.id);
    res.status(204).end();
  });

  app.use('/_sim', admin);

  // ------------------------------------------------------- device endpoints
  app.use('/d/:deviceId', (req: Request<{ deviceId: string }>, res: Response) => {
    const id = req.params.deviceId;
    const entry = devices.get(id);
    if (!entry) return notFound(res, id);
    // Knobs are read once, on arrival, so a request is not half-affected by a concurrent PATCH.
    const device = entry.device;
    const path = normalizePath(req.path);
    const rec = log.record(id, req.method, path);
    res.on('finish', () => {
      rec.outcome = res.statusCode;
    });

    if (device.down) {
      rec.outcome = 'down';
      req.socket.destroy();
      return;
    }
    if (device.hang) {
      rec.outcome = 'hang';
      return;
    }

    const answer = () => {
      if (device.failRate > 0 && Math.random() < device.failRate) {
        res
          .status(503)
          .set('Retry-After', '1')
          .json({ error: { code: 'service_unavailable', message: 'management service temporarily unavailable' } });
        return;
      }
      if (device.malformed) {
        res.status(200).type('application/json').send('{"simulated": "malformed", "truncated": [1, 2, ');
        return;
      }
      answerDeviceRequest({ device, state: entry.state, path, req, res });
    };

    if (device.latencyMs <= 0) return answer();
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (!res.destroyed) answer();
    }, device.latencyMs);
    timers.add(timer);
    // A client that gave up (timeout, abort) needs no answer.
    res.on('close', () => {
      clearTimeout(timer);
      timers.delete(timer);
    });
  });

  app.use((_req: Request, res: Response) => {
    res.status(404).json({ error: { code: 'not_found', message: 'device endpoints live under /d/<id>, the admin API under /_sim' } });
  });

  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const e = err as { type?: string; status?: number; message?: string };
    if (e.type === 'entity.parse.failed') {
      return void res.status(400).json({ error: { code: 'invalid_json', message: 'request body is not valid JSON' } });
    }
    if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
      return void res.status(e.status).json({ error: { code: 'bad_request', message: e.message ?? 'bad request' } });
    }
    res.status(500).json({ error: { code: 'internal', message: e.message ?? 'internal error' } });
  });

  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(opts.port ?? 0, host);
    s.once('listening', () => resolve(s));
    s.once('error', reject);
  });
  const port = (server.address() as AddressInfo).port;
  url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= new Promise<void>((resolve, reject) => {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      server.close((err) => (err ? reject(err) : resolve()));
      // Hanging requests and idle keep-alive connections would otherwise hold close() open.
      server.closeAllConnections();
    });
    return closing;
  };

  return {
    url,
    port,
    baseUrlFor,
    addDevice: (cfg) => void addDevice(cfg),
    updateDevice: (id, patch) => void updateDevice(id, patch),
    removeDevice,
    getDevice: (id) => {
      const entry = devices.get(id);
      return entry ? (structuredClone(entry.device) as SimDevice) : undefined;
    },
    requestLog: log,
    close,
  };
}
