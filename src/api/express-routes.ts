import type { Express } from 'express';

/**
 * Every method + path the app serves, read from Express's own router stack (mount path of each
 * sub-router + the route's path), so tests can hold the route table and the OpenAPI document to
 * what is really registered. Relies on Express 5's router keeping `rawPath` on each layer.
 */
interface Layer {
  rawPath?: unknown;
  route?: { path: unknown; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
}

export function expressRoutes(app: Express): { method: string; path: string }[] {
  const out: { method: string; path: string }[] = [];
  const join = (prefix: string, path: string) => (`${prefix}${path === '/' ? '' : path}` || '/');
  const walk = (stack: Layer[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        if (typeof layer.route.path !== 'string') throw new Error(`route with a non-string path under ${prefix}`);
        for (const [method, on] of Object.entries(layer.route.methods)) {
          if (on && method !== '_all') out.push({ method, path: join(prefix, layer.route.path) });
        }
      } else if (layer.handle?.stack) {
        if (typeof layer.rawPath !== 'string') throw new Error(`router mounted on a non-string path under ${prefix}`);
        walk(layer.handle.stack, join(prefix, layer.rawPath));
      }
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack, '');
  return out;
}
