import { loadConfigOrExit } from '../config';
import { ensureDatabase, migrate } from './migrate';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const created = await ensureDatabase(config.DATABASE_URL);
  if (created) console.log('created database');
  const { applied } = await migrate(config.DATABASE_URL, { log: (l) => console.log(l) });
  console.log(applied.length ? `applied ${applied.length} migration(s)` : 'database is up to date');
}

main().catch((err) => {
  console.error(`migrate failed: ${(err as Error).message}`);
  process.exit(1);
});
