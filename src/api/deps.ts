import type { Client } from '@temporalio/client';
import type { PayloadCodec } from '@temporalio/common';
import type { TokenStore } from '../auth/tokens';
import type { Db } from '../db/client';
import type { SecretStore } from '../secrets';
import type { MaintenanceTimings } from '../workflows/maintenance-device';
import type { OnboardTimings } from '../workflows/onboard-device';
import type { PodmSyncTimings } from '../workflows/podm-sync';
import type { PooledActionTimings } from '../workflows/pooled-action';

export interface ApiDeps {
  db: Db;
  temporal: Client;
  taskQueue: string;
  /** Bounds put into each onboarding run's input; defaults apply where absent. */
  onboardTimings?: Partial<OnboardTimings>;
  /** Defaults for maintenance runs; a request's drainTimeout/concurrency/maxHold override them. */
  maintenanceTimings?: Partial<MaintenanceTimings>;
  podmSyncTimings?: Partial<PodmSyncTimings>;
  pooledActionTimings?: Partial<PooledActionTimings>;
  podmRequestTimeoutMs?: number;
  /** Service and pod manager credentials, for the checks the API makes itself. */
  secrets?: SecretStore;
  serviceRequestTimeoutMs?: number;
  bodyLimit?: string;
  /** Bearer tokens. Absent: authentication off (in-process tests); src/server.ts always sets it. */
  auth?: TokenStore;
  /** Sealed payloads: the codec /v1/codec/{encode,decode} run; absent, they answer 404 codec_not_configured. */
  payloadCodec?: PayloadCodec;
  /** Origin allowed to call /v1/codec/* from a browser (the Temporal UI); default http://localhost:8233. */
  codecCorsOrigin?: string;
  log?: (entry: Record<string, unknown>) => void;
}
