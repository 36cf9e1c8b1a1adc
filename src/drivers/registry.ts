/**
 * The drivers this control plane ships, and the pure rules that pick one for a device.
 */
import type { DeviceType } from '../domain/device-types';
import { acmeArrayDriver } from './storage-array';
import { nimbusClusterDriver } from './hypervisor-cluster';
import { redfishDriver } from './redfish';
import type { DeviceDriver } from './types';

export const DRIVERS: readonly DeviceDriver[] = [redfishDriver, nimbusClusterDriver, acmeArrayDriver];

export function getDriver(name: string, drivers: readonly DeviceDriver[] = DRIVERS): DeviceDriver | undefined {
  return drivers.find((d) => d.name === name);
}

/** What selection needs to know about a device. */
export interface DriverTarget {
  type: DeviceType;
  vendor: string;
  model?: string | null;
}

export type DriverSelection =
  | { ok: true; driver: DeviceDriver }
  | { ok: false; code: 'unknown_driver' | 'incompatible_driver' | 'no_compatible_driver'; message: string };

const norm = (s: string) => s.trim().toLowerCase();

function modelMatches(pattern: string, model: string): boolean {
  try {
    return new RegExp(pattern, 'i').test(model);
  } catch {
    return false; // A broken pattern matches nothing rather than everything.
  }
}

interface Fit {
  /** Why the driver cannot manage the device; empty when it can. */
  problems: string[];
  vendorExact: boolean;
  modelMatched: boolean;
}

/**
 * How a driver fits a device. A driver restricted to model patterns still fits a device whose
 * model is not known yet (it cannot be ruled out), but without the bonus of a pattern match.
 */
function fit(driver: DeviceDriver, device: DriverTarget): Fit {
  const problems: string[] = [];
  if (!driver.deviceTypes.includes(device.type)) {
    problems.push(`it manages device types ${driver.deviceTypes.join(', ')}, not ${device.type}`);
  }
  const vendorExact = driver.vendors.some((v) => v !== '*' && norm(v) === norm(device.vendor));
  if (!vendorExact && !driver.vendors.includes('*')) {
    problems.push(`it supports vendor ${driver.vendors.map((v) => `"${v}"`).join(', ')}, not "${device.vendor}"`);
  }
  const patterns = driver.models ?? [];
  const model = device.model?.trim();
  const modelMatched = patterns.length > 0 && !!model && patterns.some((p) => modelMatches(p, model));
  if (patterns.length > 0 && model && !modelMatched) {
    problems.push(`it supports models matching ${patterns.map((p) => `/${p}/i`).join(', ')}, not "${model}"`);
  }
  return { problems, vendorExact, modelMatched };
}

export function isCompatible(driver: DeviceDriver, device: DriverTarget): boolean {
  return fit(driver, device).problems.length === 0;
}

function describe(device: DriverTarget): string {
  return `${device.type} from vendor "${device.vendor}"${device.model ? ` (model "${device.model}")` : ''}`;
}

/**
 * Pick the driver for a device. A requested driver must exist and fit; otherwise the best fit
 * wins: an exact vendor match beats a generic ("*") driver, then a model pattern match beats no
 * pattern, then the name decides so the choice is deterministic.
 */
export function selectDriver(
  device: DriverTarget,
  requested?: string,
  drivers: readonly DeviceDriver[] = DRIVERS,
): DriverSelection {
  if (requested !== undefined) {
    const driver = getDriver(requested, drivers);
    if (!driver) {
      return {
        ok: false,
        code: 'unknown_driver',
        message: `no driver named "${requested}"; known drivers: ${drivers.map((d) => d.name).join(', ') || 'none'}`,
      };
    }
    const { problems } = fit(driver, device);
    if (problems.length > 0) {
      return {
        ok: false,
        code: 'incompatible_driver',
        message: `driver "${driver.name}" cannot manage a ${describe(device)}: ${problems.join('; ')}`,
      };
    }
    return { ok: true, driver };
  }

  const candidates = drivers
    .map((driver) => ({ driver, ...fit(driver, device) }))
    .filter((c) => c.problems.length === 0)
    .sort(
      (a, b) =>
        Number(b.vendorExact) - Number(a.vendorExact) ||
        Number(b.modelMatched) - Number(a.modelMatched) ||
        (a.driver.name < b.driver.name ? -1 : a.driver.name > b.driver.name ? 1 : 0),
    );
  const best = candidates[0];
  if (!best) {
    return {
      ok: false,
      code: 'no_compatible_driver',
      message: `no driver can manage a ${describe(device)}; known drivers: ${
        drivers.map((d) => `${d.name} (${d.deviceTypes.join('/')}; vendors ${d.vendors.join(', ')})`).join(', ') || 'none'
      }`,
    };
  }
  return { ok: true, driver: best.driver };
}
