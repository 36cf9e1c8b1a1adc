import type { Device } from '../../generated/prisma/client';

/** The API's view of a device: the lock becomes the running operation; secrets never exist here. */
export function presentDevice(device: Device) {
  return {
    id: device.id,
    name: device.name,
    type: device.type,
    vendor: device.vendor,
    model: device.model,
    endpoint: device.endpoint,
    credentialsRef: device.credentialsRef,
    driver: device.driverName,
    state: device.state,
    maintenanceReason: device.maintenanceReason,
    capabilities: device.capabilities,
    capacity: device.capacity,
    lastError: device.lastError,
    currentOperation: device.lockedBy ? { workflowId: device.lockedBy, since: device.lockedAt } : null,
    verifiedAt: device.verifiedAt,
    createdAt: device.createdAt,
    updatedAt: device.updatedAt,
  };
}
