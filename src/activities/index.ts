import { createMaintenanceActivities, type MaintenanceDeps } from './maintenance';
import { createOnboardingActivities, type OnboardingDeps } from './onboarding';

export type ActivityDeps = OnboardingDeps & MaintenanceDeps;

/** All activities, built from their dependencies; workflows see only the type of this. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createOnboardingActivities(deps),
    ...createMaintenanceActivities(deps),
  };
}
