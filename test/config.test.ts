import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { ConfigError, configSchema, loadConfig, loadConfigOrExit } from '../src/config';

const execFileAsync = promisify(execFile);
const ROOT = path.resolve(__dirname, '..');
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');

/** loadConfig's error, or a failure if it did not throw one. */
function configErrorFor(env: NodeJS.ProcessEnv): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  it('has working defaults for a developer machine', () => {
    // An explicit empty environment: the test process's own (jest's global setup sets some) must not leak in.
    const config = loadConfig({});
    expect(config).toMatchObject({
      TEMPORAL_ADDRESS: '127.0.0.1:7233',
      TEMPORAL_NAMESPACE: 'default',
      TEMPORAL_TASK_QUEUE: 'device-lifecycle',
      DATABASE_URL: 'postgresql://postgres@127.0.0.1:5432/device_lifecycle',
      PORT: 8080,
      HOST: '127.0.0.1',
      SECRETS_FILE: 'secrets.local.json',
      API_BODY_LIMIT: '64kb',
      LOG_LEVEL: 'info',
    });
    // Every setting has a default: a process starts with no environment at all.
    const missing = Object.keys(configSchema.shape).filter((k) => config[k as keyof typeof config] === undefined);
    expect(missing).toEqual([]);
  });

  it('reads the variables from the environment and ignores unrelated ones', () => {
    const env = {
      TEMPORAL_ADDRESS: 'temporal:7233',
      TEMPORAL_NAMESPACE: 'lab',
      TEMPORAL_TASK_QUEUE: 'dl-2',
      DATABASE_URL: 'postgres://app:pw@db:5432/inventory',
      PORT: '9090',
      HOST: '0.0.0.0',
      SECRETS_FILE: '/run/secrets/devices.json',
      API_BODY_LIMIT: '1mb',
      LOG_LEVEL: 'debug',
      UNRELATED_SETTING: 'x',
    };
    const { UNRELATED_SETTING: _unrelated, ...expected } = env;
    const config = loadConfig(env);
    expect(config).toMatchObject({ ...expected, PORT: 9090 });
    expect(config).not.toHaveProperty('UNRELATED_SETTING');
  });

  it.each(['mysql://root@db/inventory', 'db:5432/inventory', 'http://postgres@db/x'])(
    'refuses DATABASE_URL=%p and names the variable',
    (value) => {
      const err = configErrorFor({ DATABASE_URL: value });
      expect(err.message).toMatch(/\bDATABASE_URL\b/);
      expect(err.issues.map((i) => i.variable)).toEqual(['DATABASE_URL']);
    },
  );

  it.each(['abc', '70000', '-1', '80.5'])('refuses PORT=%p and names the variable', (value) => {
    const err = configErrorFor({ PORT: value });
    expect(err.message).toMatch(/\bPORT\b/);
    expect(err.issues.map((i) => i.variable)).toEqual(['PORT']);
  });

  it.each(['', '  '])('treats an empty variable (%p) as unset, so PORT="" cannot mean a random port', (value) => {
    const config = loadConfig({ PORT: value, DATABASE_URL: value });
    expect(config.PORT).toBe(8080);
    expect(config.DATABASE_URL).toBe('postgresql://postgres@127.0.0.1:5432/device_lifecycle');
  });

  it('reports every wrong variable at once', () => {
    const err = configErrorFor({ PORT: 'abc', LOG_LEVEL: 'loud', API_BODY_LIMIT: 'lots' });
    expect(err.issues.map((i) => i.variable).sort()).toEqual(['API_BODY_LIMIT', 'LOG_LEVEL', 'PORT']);
    expect(err.name).toBe('ConfigError');
  });
});

describe('loadConfigOrExit', () => {
  afterEach(() => jest.restoreAllMocks());

  it('returns the config when it is valid', () => {
    expect(loadConfigOrExit({ PORT: '1234' }).PORT).toBe(1234);
  });

  it('prints the variable and exits 2, in process', () => {
    const exit = jest.spyOn(process, 'exit').mockImplementation(((code?: number) => {
      throw new Error(`exit ${code}`);
    }) as never);
    const printed: string[] = [];
    jest.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void printed.push(args.join(' ')));
    expect(() => loadConfigOrExit({ PORT: '70000' })).toThrow('exit 2');
    expect(exit).toHaveBeenCalledWith(2);
    expect(printed.join('\n')).toMatch(/\bPORT\b/);
  });

  it('makes a real process exit with code 2 and name the variable on stderr', async () => {
    const script = `require(${JSON.stringify(path.join(ROOT, 'src/config'))}).loadConfigOrExit(); console.log('started');`;
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, PORT: 'abc', DATABASE_URL: 'mysql://db/x' };
    const result = await execFileAsync(TSX, ['-e', script], { cwd: ROOT, env, timeout: 30_000 }).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (err: { code?: number; stdout?: string; stderr?: string }) => ({
        code: err.code,
        stdout: err.stdout ?? '',
        stderr: err.stderr ?? '',
      }),
    );
    expect(result.code).toBe(2);
    expect(result.stdout).not.toContain('started');
    expect(result.stderr).toMatch(/\bPORT\b/);
    expect(result.stderr).toMatch(/\bDATABASE_URL\b/);
  });
});
