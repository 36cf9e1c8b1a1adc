/**
 * Run the pod manager simulator on its own: `tsx simulators/podm/main.ts`.
 * PODM_SIM_PORT (default 7103) and PODM_SIM_HOST (default 127.0.0.1) choose where it listens.
 */
import type { SimPodmConfig } from './config';
import { startPodmSimulator, type PodmSimulator } from './server';
import { portFromEnv, runAsProcess } from '../shared/cli';

/**
 * The pod manager the CLI seeds: 200 pooled resources of mixed types (seed 1, so the same ids
 * every start), 8 composed nodes "1".."8", a tenth of the resources attached at start. It
 * demands no credentials; add them with `PATCH /_sim/podms/podm-1 {"credentials": {...}}`.
 */
export const DEMO_PODMS: readonly SimPodmConfig[] = [
  { id: 'podm-1', seed: 1, pools: 4, nodes: 8, resources: 200, attachedFraction: 0.1, actionDelayMs: 200 },
];

export async function runPodmSimulator(env: NodeJS.ProcessEnv = process.env): Promise<PodmSimulator> {
  const port = portFromEnv(env, 'PODM_SIM_PORT', 7103);
  const sim = await startPodmSimulator({
    port,
    host: env.PODM_SIM_HOST ?? '127.0.0.1',
    podms: [...DEMO_PODMS],
  });
  console.log(`pod manager simulator listening on ${sim.url} (admin API: ${sim.url}/_sim/podms)`);
  for (const cfg of DEMO_PODMS) {
    const view = sim.getPodm(cfg.id)!;
    const types = Object.entries(view.resources.byType)
      .filter(([, n]) => n > 0)
      .map(([t, n]) => `${n} ${t}`)
      .join(', ');
    console.log(`  ${sim.baseUrlFor(cfg.id)}  ${view.resources.total} resources (${types}; ${view.resources.attached} attached), ${view.nodes.length} nodes`);
  }
  return sim;
}

if (require.main === module) runAsProcess('pod manager simulator', () => runPodmSimulator());
