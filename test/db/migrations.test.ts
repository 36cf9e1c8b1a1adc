/**
 * The database our migrate step builds must be the database Prisma derives from schema.prisma.
 *
 * "expected": the DDL Prisma 6.19's JS engine prints for schema.prisma (scripts/prisma-ddl.sh),
 * executed in a scratch database. "migrated": src/db/migrate.ts run against another one. Both are
 * read back from the catalogs and compared as sorted lists of lines, so a mismatch shows up in
 * jest's diff as the exact table/column/index/constraint that differs.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { MIGRATIONS_DIR, migrate, readMigrations } from '../../src/db/migrate';

const execFileAsync = promisify(execFile);

const ROOT = path.resolve(__dirname, '../..');
const SCHEMA_FILE = path.join(ROOT, 'prisma/schema.prisma');
const DDL_SCRIPT = path.join(ROOT, 'scripts/prisma-ddl.sh');
/** The first run of prisma-ddl.sh may `npm ci` its tool. */
const DDL_TIMEOUT_MS = 150_000;

function urlFor(database: string): string {
  const url = new URL(process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres');
  url.pathname = `/${database}`;
  return url.toString();
}
const ADMIN_URL = urlFor('postgres');

const suffix = `${process.pid}_${randomBytes(4).toString('hex')}`;
const DB = {
  expected: `dl_expected_${suffix}`,
  migrated: `dl_migrated_${suffix}`,
  concurrent: `dl_concurrent_${suffix}`,
  broken: `dl_broken_${suffix}`,
};

async function withClient<T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function prismaDdl(schemaFile: string): Promise<string> {
  const { stdout } = await execFileAsync(DDL_SCRIPT, ['empty', schemaFile], {
    cwd: ROOT,
    timeout: DDL_TIMEOUT_MS,
    maxBuffer: 16 * 1024 * 1024,
  });
  if (!/CREATE TABLE/.test(stdout)) throw new Error(`prisma-ddl.sh printed no DDL:\n${stdout}`);
  return stdout;
}

// ------------------------------------------------------------------ catalog snapshot

interface CatalogSnapshot {
  relations: string[];
  columns: string[];
  enums: string[];
  indexes: string[];
  constraints: string[];
  sequences: string[];
  triggers: string[];
  functions: string[];
}

const IGNORED_TABLE = '_prisma_migrations';

/** Schema qualification is the only database-specific text the catalog functions print here. */
const normalize = (sql: string) => sql.replace(/\bpublic\./g, '').replace(/\s+/g, ' ').trim();

async function snapshot(url: string): Promise<CatalogSnapshot> {
  return withClient(url, async (c) => {
    const lines = async (sql: string, params: unknown[] = []): Promise<string[]> =>
      (await c.query<{ line: string }>(sql, params)).rows.map((r) => normalize(r.line)).sort();

    return {
      // Tables, views, sequences... (the migrations table and its index aside).
      relations: await lines(`
        SELECT c.relkind::text || ' ' || c.relname AS line
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
          AND c.relname <> $1`, [IGNORED_TABLE]),
      // Sorted by name, not position: a column added by a later migration lands last, and
      // Prisma does not care about column order either.
      columns: await lines(`
        SELECT col.table_name || '.' || col.column_name
               || ' ' || format_type(a.atttypid, a.atttypmod)
               || ' (' || col.data_type || '/' || col.udt_name || ')'
               || CASE WHEN col.is_nullable = 'NO' THEN ' NOT NULL' ELSE ' NULL' END
               || COALESCE(' DEFAULT ' || col.column_default, '')
               || COALESCE(' COLLATE ' || col.collation_name, '')
               || CASE WHEN col.is_identity = 'YES' THEN ' IDENTITY ' || col.identity_generation ELSE '' END
               || CASE WHEN col.is_generated <> 'NEVER' THEN ' GENERATED ' || col.generation_expression ELSE '' END
               AS line
        FROM information_schema.columns col
        JOIN pg_attribute a
          ON a.attrelid = format('%I.%I', col.table_schema, col.table_name)::regclass
         AND a.attname = col.column_name
        WHERE col.table_schema = 'public' AND col.table_name <> $1`, [IGNORED_TABLE]),
      // Labels in declaration order: the order is part of an enum's meaning (ORDER BY, < >).
      enums: await lines(`
        SELECT t.typname || ': ' || string_agg(e.enumlabel, ', ' ORDER BY e.enumsortorder) AS line
        FROM pg_type t
        JOIN pg_namespace n ON n.oid = t.typnamespace
        JOIN pg_enum e ON e.enumtypid = t.oid
        WHERE n.nspname = 'public'
        GROUP BY t.typname`),
      indexes: await lines(`
        SELECT i.relname || ': ' || pg_get_indexdef(i.oid) AS line
        FROM pg_index x
        JOIN pg_class i ON i.oid = x.indexrelid
        JOIN pg_class t ON t.oid = x.indrelid
        JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE n.nspname = 'public' AND t.relname <> $1`, [IGNORED_TABLE]),
      constraints: await lines(`
        SELECT t.relname || ': ' || con.conname || ' [' || con.contype::text || '] ' || pg_get_constraintdef(con.oid) AS line
        FROM pg_constraint con
        JOIN pg_class t ON t.oid = con.conrelid
        JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE n.nspname = 'public' AND t.relname <> $1`, [IGNORED_TABLE]),
      sequences: await lines(`
        SELECT s.sequencename || ' ' || s.data_type || ' start ' || s.start_value || ' min ' || s.min_value
               || ' max ' || s.max_value || ' by ' || s.increment_by || ' cache ' || s.cache_size
               || CASE WHEN s.cycle THEN ' cycle' ELSE '' END
               || COALESCE(' owned by ' || (
                    SELECT t.relname || '.' || a.attname
                    FROM pg_depend d
                    JOIN pg_class t ON t.oid = d.refobjid
                    JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                    WHERE d.objid = format('%I.%I', s.schemaname, s.sequencename)::regclass
                      AND d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
                      AND d.deptype IN ('a', 'i')
                    LIMIT 1), '') AS line
        FROM pg_sequences s
        WHERE s.schemaname = 'public'`),
      triggers: await lines(`
        SELECT t.relname || ': ' || pg_get_triggerdef(tg.oid) AS line
        FROM pg_trigger tg
        JOIN pg_class t ON t.oid = tg.tgrelid
        JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE n.nspname = 'public' AND NOT tg.tgisinternal AND t.relname <> $1`, [IGNORED_TABLE]),
      functions: await lines(`
        SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' AS line
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public'`),
    };
  });
}

// ------------------------------------------------------------------ scratch databases

const tempDirs: string[] = [];

/** A copy of prisma/migrations in a temp dir, to edit without touching the real one. */
function copyOfMigrations(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'dl-migrations-'));
  tempDirs.push(dir);
  cpSync(MIGRATIONS_DIR, dir, { recursive: true });
  return dir;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

let expectedDdl = '';

beforeAll(async () => {
  await withClient(ADMIN_URL, async (c) => {
    for (const name of Object.values(DB)) await c.query(`CREATE DATABASE "${name}"`);
  });
  // The DDL tool is the slow part (and may install itself): run it while the other database migrates.
  const [ddl] = await Promise.all([prismaDdl(SCHEMA_FILE), migrate(urlFor(DB.migrated))]);
  expectedDdl = ddl;
  await withClient(urlFor(DB.expected), (c) => c.query(expectedDdl));
}, DDL_TIMEOUT_MS + 30_000);

afterAll(async () => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  await withClient(ADMIN_URL, async (c) => {
    for (const name of Object.values(DB)) await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  });
});

// ------------------------------------------------------------------ tests

describe('the migrated database', () => {
  it('matches the schema Prisma derives from schema.prisma', async () => {
    const [expected, migrated] = await Promise.all([snapshot(urlFor(DB.expected)), snapshot(urlFor(DB.migrated))]);
    // Guard against comparing two empty snapshots.
    expect(expected.relations).toEqual(expect.arrayContaining(['r devices', 'r drivers', 'r operation_events']));
    expect(expected.columns.length).toBeGreaterThan(10);
    expect(migrated).toEqual(expected);
  });

  it('applies nothing when migrated again', async () => {
    await expect(migrate(urlFor(DB.migrated))).resolves.toEqual({ applied: [] });
  });

  it('records every migration in _prisma_migrations with the sha256 of its file', async () => {
    const onDisk = readMigrations().map((m) => ({
      migration_name: m.name,
      checksum: sha256(readFileSync(path.join(MIGRATIONS_DIR, m.name, 'migration.sql'), 'utf8')),
      finished: true,
      rolled_back: false,
    }));
    expect(onDisk.length).toBeGreaterThan(0);
    const rows = await withClient(urlFor(DB.migrated), async (c) =>
      (
        await c.query<{ migration_name: string; checksum: string; finished: boolean; rolled_back: boolean }>(
          `SELECT migration_name, checksum, finished_at IS NOT NULL AS finished, rolled_back_at IS NOT NULL AS rolled_back
           FROM "_prisma_migrations" ORDER BY migration_name`,
        )
      ).rows,
    );
    expect(rows).toEqual(onDisk);
  });

  it('refuses a migration whose file changed after it was applied, naming it', async () => {
    const dir = copyOfMigrations();
    const [first] = readMigrations(dir);
    appendFileSync(path.join(dir, first.name, 'migration.sql'), '\n-- edited after the fact\n');
    const run = migrate(urlFor(DB.migrated), { dir });
    await expect(run).rejects.toThrow(first.name);
    await expect(run).rejects.toThrow(/checksum/);
  });
});

describe('migrate()', () => {
  it('called twice at once on a fresh database, both succeed and each migration is applied once', async () => {
    const url = urlFor(DB.concurrent);
    const names = readMigrations().map((m) => m.name);
    const results = await Promise.all([migrate(url), migrate(url)]);
    // One of them did the work; the other waited on the advisory lock and found nothing to do.
    expect(results.map((r) => r.applied.length).sort()).toEqual([0, names.length]);
    expect(results.flatMap((r) => r.applied).sort()).toEqual(names);
    const rows = await withClient(url, async (c) =>
      (await c.query<{ migration_name: string }>('SELECT migration_name FROM "_prisma_migrations"')).rows,
    );
    expect(rows.map((r) => r.migration_name).sort()).toEqual(names);
  });

  it('leaves nothing behind from a migration that fails', async () => {
    const dir = copyOfMigrations();
    const broken = '29991231000000_broken';
    mkdirSync(path.join(dir, broken));
    writeFileSync(
      path.join(dir, broken, 'migration.sql'),
      [
        'CREATE TABLE "half_done" ("id" INTEGER PRIMARY KEY);',
        'CREATE INDEX "half_done_idx" ON "half_done"("id");',
        'ALTER TABLE "devices" ADD COLUMN "half_done_col" TEXT;',
        'CREATE TABLE "oops" ("id" NOT_A_TYPE);',
        '',
      ].join('\n'),
    );
    const url = urlFor(DB.broken);
    const real = readMigrations().map((m) => m.name);

    await expect(migrate(url, { dir })).rejects.toThrow(broken);

    const state = await withClient(url, async (c) => ({
      tables: (
        await c.query<{ n: string }>(
          `SELECT table_name AS n FROM information_schema.tables WHERE table_schema = 'public' AND table_name IN ('half_done', 'oops')`,
        )
      ).rows,
      columns: (
        await c.query<{ n: string }>(
          `SELECT column_name AS n FROM information_schema.columns WHERE table_schema = 'public' AND column_name = 'half_done_col'`,
        )
      ).rows,
      recorded: (await c.query<{ n: string }>('SELECT migration_name AS n FROM "_prisma_migrations" ORDER BY 1')).rows.map(
        (r) => r.n,
      ),
    }));
    // The migrations before it were applied and recorded; the broken one left no trace.
    expect(state).toEqual({ tables: [], columns: [], recorded: real });

    // Once fixed, it applies.
    writeFileSync(path.join(dir, broken, 'migration.sql'), 'CREATE TABLE "half_done" ("id" INTEGER PRIMARY KEY);\n');
    await expect(migrate(url, { dir })).resolves.toEqual({ applied: [broken] });
  });
});
