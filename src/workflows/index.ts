export { onboardDevice } from './onboard-device';
export { maintenanceDevice } from './maintenance-device';
