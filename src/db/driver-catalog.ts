import type { DeviceDriver } from '../drivers/types';
import type { Db } from './client';

/** Keeps the drivers table equal to the drivers this build ships (idempotent upserts). */
export async function syncDriverCatalog(db: Db, drivers: readonly DeviceDriver[]): Promise<void> {
  for (const d of drivers) {
    const row = {
      version: d.version,
      description: d.description,
      deviceTypes: [...d.deviceTypes],
      vendors: [...d.vendors],
      models: [...(d.models ?? [])],
    };
    await db.driver.upsert({ where: { name: d.name }, create: { name: d.name, ...row }, update: row });
  }
}
