import { DRIVERS, getDriver, isCompatible, selectDriver } from '../../src/drivers/registry';
import type { DeviceDriver } from '../../src/drivers/types';

function fake(name: string, over: Partial<DeviceDriver> = {}): DeviceDriver {
  return {
    name,
    version: '0.0.1',
    description: name,
    deviceTypes: ['SERVER'],
    vendors: ['*'],
    verify: () => Promise.reject(new Error('not called in selection tests')),
    ...over,
  };
}

describe('shipped drivers', () => {
  test('are listed once each and found by name', () => {
    expect(DRIVERS.map((d) => d.name).sort()).toEqual(['acme-array', 'nimbus-cluster', 'redfish']);
    expect(getDriver('nimbus-cluster')?.vendors).toEqual(['Nimbus']);
    expect(getDriver('nope')).toBeUndefined();
  });

  test('a vendor driver beats the generic Redfish driver for its own devices', () => {
    expect(selectDriver({ type: 'STORAGE', vendor: 'Acme Storage', model: 'AS-9200' })).toMatchObject({ ok: true, driver: { name: 'acme-array' } });
    expect(selectDriver({ type: 'HYPERVISOR', vendor: 'nimbus' })).toMatchObject({ ok: true, driver: { name: 'nimbus-cluster' } });
  });

  test('anything else that may speak Redfish falls to the generic driver', () => {
    expect(selectDriver({ type: 'SERVER', vendor: 'Contoso', model: 'CX-2200' })).toMatchObject({ ok: true, driver: { name: 'redfish' } });
    // Acme arrays outside the AS- series are not the acme-array driver's.
    expect(selectDriver({ type: 'STORAGE', vendor: 'Acme Storage', model: 'LegacyBox 3' })).toMatchObject({ ok: true, driver: { name: 'redfish' } });
  });
});

describe('isCompatible', () => {
  const acme = getDriver('acme-array')!;
  test('checks type, vendor (case-insensitive) and model pattern', () => {
    expect(isCompatible(acme, { type: 'STORAGE', vendor: ' acme storage ', model: 'as-100' })).toBe(true);
    expect(isCompatible(acme, { type: 'SERVER', vendor: 'Acme Storage', model: 'AS-100' })).toBe(false);
    expect(isCompatible(acme, { type: 'STORAGE', vendor: 'Acme', model: 'AS-100' })).toBe(false);
    expect(isCompatible(acme, { type: 'STORAGE', vendor: 'Acme Storage', model: 'XS-100' })).toBe(false);
  });
  test('a model not known yet does not rule a model-restricted driver out', () => {
    expect(isCompatible(acme, { type: 'STORAGE', vendor: 'Acme Storage' })).toBe(true);
    expect(isCompatible(acme, { type: 'STORAGE', vendor: 'Acme Storage', model: null })).toBe(true);
  });
  test('a broken model pattern matches nothing', () => {
    const broken = fake('broken', { models: ['(unclosed'] });
    expect(isCompatible(broken, { type: 'SERVER', vendor: 'X', model: '(unclosed' })).toBe(false);
  });
});

describe('selectDriver with a requested driver', () => {
  const drivers = [fake('gen'), fake('vend', { vendors: ['Contoso'], models: ['^CX-'] })];

  test('unknown name: unknown_driver, listing the known ones', () => {
    const r = selectDriver({ type: 'SERVER', vendor: 'Contoso' }, 'missing', drivers);
    expect(r).toEqual({ ok: false, code: 'unknown_driver', message: 'no driver named "missing"; known drivers: gen, vend' });
  });

  test('wrong type, vendor or model: incompatible_driver saying why', () => {
    const type = selectDriver({ type: 'STORAGE', vendor: 'Contoso', model: 'CX-1' }, 'vend', drivers);
    expect(type).toMatchObject({ ok: false, code: 'incompatible_driver' });
    expect(!type.ok && type.message).toBe(
      'driver "vend" cannot manage a STORAGE from vendor "Contoso" (model "CX-1"): it manages device types SERVER, not STORAGE',
    );
    const vendorAndModel = selectDriver({ type: 'SERVER', vendor: 'Fabrikam', model: 'FB-1' }, 'vend', drivers);
    expect(!vendorAndModel.ok && vendorAndModel.message).toBe(
      'driver "vend" cannot manage a SERVER from vendor "Fabrikam" (model "FB-1"): it supports vendor "Contoso", not "Fabrikam"; it supports models matching /^CX-/i, not "FB-1"',
    );
  });

  test('a compatible request wins even over a better match', () => {
    expect(selectDriver({ type: 'SERVER', vendor: 'Contoso', model: 'CX-1' }, 'gen', drivers)).toMatchObject({ ok: true, driver: { name: 'gen' } });
  });
});

describe('selectDriver best match', () => {
  const device = { type: 'SERVER' as const, vendor: 'Contoso', model: 'CX-9' };

  test('exact vendor beats "*", even when the generic one has a matching model pattern', () => {
    const drivers = [fake('a-generic', { models: ['^CX-'] }), fake('z-vendor', { vendors: ['contoso'] })];
    expect(selectDriver(device, undefined, drivers)).toMatchObject({ ok: true, driver: { name: 'z-vendor' } });
  });

  test('with the same vendor standing, a model pattern match beats no pattern', () => {
    const drivers = [fake('a-any-model', { vendors: ['Contoso'] }), fake('z-cx', { vendors: ['Contoso'], models: ['^CX-'] })];
    expect(selectDriver(device, undefined, drivers)).toMatchObject({ ok: true, driver: { name: 'z-cx' } });
    // Unknown model: the pattern cannot match, so the name breaks the tie.
    expect(selectDriver({ type: 'SERVER', vendor: 'Contoso' }, undefined, drivers)).toMatchObject({ ok: true, driver: { name: 'a-any-model' } });
  });

  test('ties are broken by name whatever the list order', () => {
    const drivers = [fake('m'), fake('b'), fake('x')];
    expect(selectDriver(device, undefined, drivers)).toMatchObject({ ok: true, driver: { name: 'b' } });
    expect(selectDriver(device, undefined, [...drivers].reverse())).toMatchObject({ ok: true, driver: { name: 'b' } });
  });

  test('nothing fits: no_compatible_driver describing the device and the drivers', () => {
    const drivers = [fake('srv', { vendors: ['Fabrikam'] }), fake('net', { deviceTypes: ['NETWORK'] })];
    const r = selectDriver(device, undefined, drivers);
    expect(r).toEqual({
      ok: false,
      code: 'no_compatible_driver',
      message: 'no driver can manage a SERVER from vendor "Contoso" (model "CX-9"); known drivers: srv (SERVER; vendors Fabrikam), net (NETWORK; vendors *)',
    });
  });
});
