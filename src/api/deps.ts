import type { Client } from '@temporalio/client';
import type { Db } from '../db/client';
import type { OnboardTimings } from '../workflows/onboard-device';

export interface ApiDeps {
  db: Db;
  temporal: Client;
  taskQueue: string;
  /** Bounds put into each onboarding run's input; defaults apply where absent. */
  onboardTimings?: Partial<OnboardTimings>;
  bodyLimit?: string;
  log?: (entry: Record<string, unknown>) => void;
}
