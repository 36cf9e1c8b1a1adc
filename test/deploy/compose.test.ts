/**
 * docker-compose.yml and the Dockerfile cannot run here (no Docker engine), so this keeps them
 * consistent with the code: variable names and values the config accepts, the search attributes
 * the workflows set, the commands that exist. No YAML library is installed: the compose file is
 * read line by line, which works because it keeps to plain block style (2-space indents, maps
 * for `environment`), and the first test enforces that style.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { configSchema, loadConfig } from '../../src/config';
import { SEARCH_ATTRIBUTES } from '../../src/domain/operations';
import { DEMO_DEVICES } from '../../simulators/devices/demo';

const ROOT = path.resolve(__dirname, '../..');
const composeText = readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8');
const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');

interface Service {
  name: string;
  /** The service's lines, without the `  name:` line. */
  body: string[];
  /** `environment:` as a map (values unquoted). */
  env: Record<string, string>;
}

const unquote = (value: string) => value.trim().replace(/^"(.*)"$/, '$1').replace(/^'(.*)'$/, '$1');

function parseServices(text: string): Map<string, Service> {
  const services = new Map<string, Service>();
  let inServices = false;
  let current: Service | undefined;
  let inEnv = false;
  for (const line of text.split('\n')) {
    if (/^\S/.test(line)) {
      // A top-level key ends the services block (comments at column 0 do not).
      if (!line.startsWith('#')) inServices = line.startsWith('services:');
      current = undefined;
      continue;
    }
    if (!inServices) continue;
    const service = /^ {2}([A-Za-z0-9_.-]+):\s*$/.exec(line);
    if (service) {
      current = { name: service[1], body: [], env: {} };
      services.set(current.name, current);
      inEnv = false;
      continue;
    }
    if (!current) continue;
    current.body.push(line);
    if (/^ {4}\S/.test(line)) inEnv = /^ {4}environment:\s*$/.test(line);
    else if (inEnv) {
      const entry = /^ {6}([A-Za-z_][A-Za-z0-9_]*):\s*(.*)$/.exec(line);
      if (entry) current.env[entry[1]] = unquote(entry[2]);
      else if (line.trim() && !line.trim().startsWith('#')) throw new Error(`unexpected environment line in ${current.name}: ${line}`);
    }
  }
  return services;
}

const services = parseServices(composeText);
const service = (name: string): Service => {
  const s = services.get(name);
  if (!s) throw new Error(`docker-compose.yml has no service ${name}`);
  return s;
};
const bodyOf = (name: string) => service(name).body.join('\n');
const APP_SERVICES = ['api', 'worker'] as const;

describe('docker-compose.yml', () => {
  it('keeps to the plain block style this test can read', () => {
    expect(composeText).not.toMatch(/\t/);
    // Environment as maps (KEY: value), not lists (- KEY=value), and no anchors/merges to expand.
    expect(composeText).not.toMatch(/^\s+- [A-Z_]+=/m);
    expect(composeText).not.toMatch(/<<:|[&*][a-z][\w-]*\s*$/m);
  });

  it('has every service of the stack', () => {
    expect([...services.keys()].sort()).toEqual(
      ['api', 'device-simulator', 'migrate', 'podm-simulator', 'postgresql', 'service-simulator', 'temporal', 'temporal-admin-tools', 'temporal-ui', 'worker'].sort(),
    );
  });

  /** Values an operator supplies for the variables compose requires (`${VAR:?...}`). */
  const OPERATOR_SUPPLIED: Record<string, string> = { API_TOKENS: 'ops:admin:an-example-token-0123456789' };

  it('the API requires its bearer tokens from the operator, never a committed value', () => {
    expect(service('api').env.API_TOKENS).toMatch(/^\$\{API_TOKENS:\?/);
  });

  it.each(APP_SERVICES)('%s uses only variables src/config.ts defines, with values it accepts', (name) => {
    const known = Object.keys(configSchema.shape);
    const env = service(name).env;
    expect(Object.keys(env).length).toBeGreaterThan(3);
    expect(Object.keys(env).filter((v) => !known.includes(v))).toEqual([]);
    // `${VAR:?message}` is compose for "the operator must set VAR": stand in a valid value.
    const required = Object.entries(env).filter(([, v]) => /^\$\{\w+:\?/.test(v)).map(([k]) => k);
    const supplied = { ...env, ...Object.fromEntries(required.map((k) => [k, OPERATOR_SUPPLIED[k] ?? ''])) };
    expect(required.filter((k) => !(k in OPERATOR_SUPPLIED))).toEqual([]);
    expect(() => loadConfig(supplied)).not.toThrow();
    expect(env).toMatchObject({
      TEMPORAL_ADDRESS: 'temporal:7233',
      DATABASE_URL: expect.stringMatching(/^postgresql:\/\/[^@]+@postgresql:5432\/\w+$/),
    });
  });

  it('migrate uses only config variables too, and all three share one database URL and Temporal namespace', () => {
    const migrate = service('migrate').env;
    expect(Object.keys(migrate).filter((v) => !(v in configSchema.shape))).toEqual([]);
    expect(() => loadConfig(migrate)).not.toThrow();
    expect(service('api').env.DATABASE_URL).toBe(migrate.DATABASE_URL);
    expect(service('worker').env.DATABASE_URL).toBe(migrate.DATABASE_URL);
    const { TEMPORAL_NAMESPACE: ns, TEMPORAL_TASK_QUEUE: queue } = service('worker').env;
    expect(service('api').env).toMatchObject({ TEMPORAL_NAMESPACE: ns, TEMPORAL_TASK_QUEUE: queue });
  });

  it('the API listens on all interfaces at the port it publishes', () => {
    const api = service('api');
    expect(api.env.HOST).toBe('0.0.0.0');
    expect(bodyOf('api')).toContain(`- "${api.env.PORT}:${api.env.PORT}"`);
    expect(bodyOf('api')).toMatch(/healthcheck:[\s\S]*\/health/);
  });

  it('the worker reads the mounted demo secrets file', () => {
    const file = service('worker').env.SECRETS_FILE;
    expect(file).toMatch(/^\//);
    expect(bodyOf('worker')).toContain(`- ./deploy/secrets.example.json:${file}:ro`);
  });

  it('registers exactly the search attributes the workflows set, in the namespace they run in', () => {
    const registered = [
      ...bodyOf('temporal-admin-tools').matchAll(
        /temporal operator search-attribute create --namespace (\S+) --name (\w+) --type (\w+)/g,
      ),
    ];
    expect(Object.fromEntries(registered.map((m) => [m[2], m[3]]))).toEqual(SEARCH_ATTRIBUTES);
    expect(registered).toHaveLength(Object.keys(SEARCH_ATTRIBUTES).length);
    for (const m of registered) expect(m[1]).toBe(service('worker').env.TEMPORAL_NAMESPACE);
    // Re-running the one-shot must not fail on attributes it registered before.
    expect(bodyOf('temporal-admin-tools')).toMatch(/already exists/);
    // Compose interpolates $: every shell $ in the script is escaped as $$.
    const script = bodyOf('temporal-admin-tools');
    expect(script.replace(/\$\$/g, '')).not.toMatch(/\$/);
  });

  it('orders start-up with conditions', () => {
    const dependsOn = (name: string, on: string, condition: string) =>
      expect(bodyOf(name)).toMatch(new RegExp(`^ {4}depends_on:\\n(?: {6}.*\\n)*? {6}${on}:\\n {8}condition: ${condition}$`, 'm'));
    expect(bodyOf('postgresql')).toMatch(/healthcheck:\n(\s+#.*\n)*\s+test: .*pg_isready/);
    dependsOn('temporal', 'postgresql', 'service_healthy');
    dependsOn('migrate', 'postgresql', 'service_healthy');
    for (const name of APP_SERVICES) {
      dependsOn(name, 'migrate', 'service_completed_successfully');
      dependsOn(name, 'temporal-admin-tools', 'service_completed_successfully');
    }
    expect(bodyOf('migrate')).toMatch(/restart: "no"/);
    expect(bodyOf('temporal-admin-tools')).toMatch(/restart: "no"/);
  });

  it('runs our processes from our image with commands that exist', () => {
    const commands: Record<string, string> = {
      migrate: 'src/db/migrate-cli.ts',
      worker: 'src/worker.ts',
      api: 'src/server.ts',
      'device-simulator': 'simulators/devices/main.ts',
    };
    for (const [name, script] of Object.entries(commands)) {
      expect(bodyOf(name)).toContain(`command: ["npx", "tsx", "${script}"]`);
      expect(bodyOf(name)).toMatch(/^ {4}build: \.\n {4}image: device-lifecycle:local$/m);
      expect(existsSync(path.join(ROOT, script))).toBe(true);
    }
    expect(bodyOf('device-simulator')).toContain('- "7101:7101"');
    expect(service('device-simulator').env).toMatchObject({ DEVICE_SIM_PORT: '7101', DEVICE_SIM_HOST: '0.0.0.0' });
    expect(bodyOf('service-simulator')).toContain('- "7102:7102"');
    expect(service('service-simulator').env).toMatchObject({ SERVICE_SIM_PORT: '7102', SERVICE_SIM_HOST: '0.0.0.0' });
    expect(bodyOf('podm-simulator')).toContain('- "7103:7103"');
    expect(service('podm-simulator').env).toMatchObject({ PODM_SIM_PORT: '7103', PODM_SIM_HOST: '0.0.0.0' });
  });

  it('runs the Temporal UI on 8233 against the server', () => {
    expect(service('temporal-ui').env.TEMPORAL_ADDRESS).toBe('temporal:7233');
    expect(bodyOf('temporal-ui')).toContain('- "8233:8080"');
    expect(service('temporal').env).toMatchObject({ DB: 'postgres12', POSTGRES_SEEDS: 'postgresql' });
    // Temporal's databases are its own, never the inventory's.
    const inventoryDb = service('migrate').env.DATABASE_URL.split('/').pop();
    expect([service('temporal').env.DBNAME, service('temporal').env.VISIBILITY_DBNAME]).not.toContain(inventoryDb);
  });
});

describe('deploy/secrets.example.json', () => {
  const secrets = JSON.parse(readFileSync(path.join(ROOT, 'deploy/secrets.example.json'), 'utf8')) as Record<
    string,
    { username: string; password: string }
  >;

  it('holds the credentials of every demo device that has some, and nothing else', () => {
    const demo = Object.fromEntries(DEMO_DEVICES.filter((d) => d.credentials).map((d) => [d.id, d.credentials]));
    expect(Object.keys(demo).length).toBeGreaterThan(0);
    expect(secrets).toEqual(demo);
  });
});

describe('Dockerfile', () => {
  const instructions = dockerfile
    .split('\n')
    .filter((l) => l.trim() && !l.trimStart().startsWith('#'))
    .join('\n');

  it('builds on node 20 with npm install (npm ci refuses our lock) and generates the Prisma client', () => {
    expect(instructions).toMatch(/^FROM node:20-bookworm-slim\b/m);
    expect(instructions).toMatch(/\bnpm install\b/);
    expect(instructions).not.toMatch(/\bnpm ci\b/);
    expect(instructions).toMatch(/PRISMA_SCHEMA_ENGINE_BINARY=\/bin\/true npx prisma generate/);
  });

  it('copies what the processes need and runs the API by default', () => {
    for (const p of ['package.json', 'package-lock.json', 'tsconfig.json', 'prisma.config.ts', 'prisma', 'src', 'simulators']) {
      expect(instructions).toMatch(new RegExp(`^COPY .*\\b${p.replace('.', '\\.')}\\b`, 'm'));
      expect(existsSync(path.join(ROOT, p))).toBe(true);
    }
    expect(instructions).toMatch(/^CMD \["npx", "tsx", "src\/server\.ts"\]$/m);
    // The client is generated after the sources are copied, so a stale local copy cannot win.
    expect(instructions.indexOf('prisma generate')).toBeGreaterThan(instructions.indexOf('COPY src'));
  });
});
