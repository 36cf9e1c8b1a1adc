import { writeSync } from 'node:fs';
import type { InjectedSinks } from '@temporalio/worker';
import { loadConfigOrExit } from '../../../src/config';
import { installRuntimeLogging } from '../../../src/temporal/runtime-logging';
import { createWorker } from '../../../src/worker-setup';
import type { ChaosSinks } from './workflow-interceptor';

/**
 * A worker (the product's, from createWorker) that SIGKILLs itself once, at a chosen point, to
 * prove runs survive a worker dying exactly there. CHAOS_PLAN (JSON) picks the point:
 *  - {"at":"activity-done","workflowType":T,"activityType":A}: activity A of a T run has done
 *    its work (its side effects happened) but its result has not been reported;
 *  - {"at":"workflow-task","workflowType":T,"schedules":A}: a workflow task of a T run has been
 *    processed and is about to schedule activity A, but its completion has not been sent.
 * CHAOS_WORKFLOW_BUNDLE is a workflow bundle that includes ./workflow-interceptor. Before dying
 * it prints one "chaos: SIGKILL ..." line, so a test can tell this death from a crash.
 */
export type Plan =
  | { at: 'activity-done'; workflowType: string; activityType: string }
  | { at: 'workflow-task'; workflowType: string; schedules: string };

const plan = JSON.parse(process.env.CHAOS_PLAN ?? 'null') as Plan | null;
if (!plan || !process.env.CHAOS_WORKFLOW_BUNDLE) {
  console.error('chaos worker: CHAOS_PLAN and CHAOS_WORKFLOW_BUNDLE are required');
  process.exit(2);
}

function die(what: string): never {
  writeSync(2, `chaos: SIGKILL ${what}\n`);
  process.kill(process.pid, 'SIGKILL');
  throw new Error('unreachable');
}

const sinks: InjectedSinks<ChaosSinks> = {
  chaos: {
    concluded: {
      fn(info, scheduled) {
        if (plan.at === 'workflow-task' && info.workflowType === plan.workflowType && scheduled.includes(plan.schedules)) {
          die(`in the workflow task of ${info.workflowId} that schedules ${plan.schedules}`);
        }
      },
    },
  },
};

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  installRuntimeLogging(config.LOG_LEVEL);
  const { worker } = await createWorker(config, {
    workflowBundlePath: process.env.CHAOS_WORKFLOW_BUNDLE,
    workerOptions: {
      sinks,
      interceptors: {
        activity: [
          (ctx) => ({
            inbound: {
              async execute(input, next) {
                const result = await next(input);
                const { activityType, workflowType, workflowExecution } = ctx.info;
                if (plan!.at === 'activity-done' && workflowType === plan!.workflowType && activityType === plan!.activityType) {
                  die(`after activity ${activityType} of ${workflowExecution?.workflowId} did its work`);
                }
                return result;
              },
            },
          }),
        ],
      },
    },
  });
  console.log(JSON.stringify({ msg: 'chaos worker started', plan }));
  await worker.run();
}

main().catch((err) => {
  console.error(`chaos worker failed: ${(err as Error).stack ?? err}`);
  process.exit(1);
});
