export { onboardDevice } from './onboard-device';
export { maintenanceDevice } from './maintenance-device';
export { podmSync } from './podm-sync';
export { pooledAction } from './pooled-action';
