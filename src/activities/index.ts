import { createMaintenanceActivities, type MaintenanceDeps } from './maintenance';
import { createOnboardingActivities, type OnboardingDeps } from './onboarding';
import { createPooledAttachActivities } from './pooled-attach';
import { createPooledSyncActivities, type PooledDeps } from './pooled-sync';

export type ActivityDeps = OnboardingDeps & MaintenanceDeps & PooledDeps;

/** All activities, built from their dependencies; workflows see only the type of this. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createOnboardingActivities(deps),
    ...createMaintenanceActivities(deps),
    ...createPooledSyncActivities(deps),
    ...createPooledAttachActivities(deps),
  };
}
