export { onboardDevice } from './onboard-device';
