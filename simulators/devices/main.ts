/**
 * Run the device simulator on its own: `tsx simulators/devices/main.ts`.
 * DEVICE_SIM_PORT (default 7101) and DEVICE_SIM_HOST (default 127.0.0.1) choose where it listens.
 */
import { DEMO_DEVICES } from './demo';
import { startDeviceSimulator, type DeviceSimulator } from './server';

export async function runDeviceSimulator(env: NodeJS.ProcessEnv = process.env): Promise<DeviceSimulator> {
  const port = Number(env.DEVICE_SIM_PORT ?? 7101);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`DEVICE_SIM_PORT must be a port number, got "${env.DEVICE_SIM_PORT}"`);
  }
  const sim = await startDeviceSimulator({
    port,
    host: env.DEVICE_SIM_HOST ?? '127.0.0.1',
    devices: [...DEMO_DEVICES],
  });
  console.log(`device simulator listening on ${sim.url} (admin API: ${sim.url}/_sim/devices)`);
  for (const d of DEMO_DEVICES) console.log(`  ${d.kind.padEnd(18)} ${sim.baseUrlFor(d.id)}`);
  return sim;
}

if (require.main === module) {
  runDeviceSimulator().then(
    (sim) => {
      const stop = () => {
        sim.close().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    },
    (err: unknown) => {
      console.error(`device simulator failed to start: ${(err as Error).message}`);
      process.exit(1);
    },
  );
}
