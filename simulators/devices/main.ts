/**
 * Run the device simulator on its own: `tsx simulators/devices/main.ts`.
 * DEVICE_SIM_PORT (default 7101) and DEVICE_SIM_HOST (default 127.0.0.1) choose where it listens.
 */
import { DEMO_DEVICES } from './demo';
import { startDeviceSimulator, type DeviceSimulator } from './server';
import { portFromEnv, runAsProcess } from '../shared/cli';

export async function runDeviceSimulator(env: NodeJS.ProcessEnv = process.env): Promise<DeviceSimulator> {
  const port = portFromEnv(env, 'DEVICE_SIM_PORT', 7101);
  const sim = await startDeviceSimulator({
    port,
    host: env.DEVICE_SIM_HOST ?? '127.0.0.1',
    devices: [...DEMO_DEVICES],
  });
  console.log(`device simulator listening on ${sim.url} (admin API: ${sim.url}/_sim/devices)`);
  for (const d of DEMO_DEVICES) console.log(`  ${d.kind.padEnd(18)} ${sim.baseUrlFor(d.id)}`);
  return sim;
}

if (require.main === module) runAsProcess('device simulator', () => runDeviceSimulator());
