import { proxySinks, type Sinks, type WorkflowInterceptorsFactory } from '@temporalio/workflow';

/**
 * Test-only workflow interceptor, bundled into the chaos worker's workflow code (never into the
 * product's). After each activation it reports, through a sink, which activities the activation
 * is about to schedule. Sinks run in the worker's main thread after the activation is processed
 * and before its completion goes to the server, so a sink that kills the process there kills it
 * in the middle of a workflow task.
 */
export interface ChaosSinks extends Sinks {
  chaos: { concluded(scheduledActivities: string[]): void };
}

const { chaos } = proxySinks<ChaosSinks>();

export const interceptors: WorkflowInterceptorsFactory = () => ({
  internals: [
    {
      concludeActivation(input, next) {
        const output = next(input);
        const scheduled = output.commands.flatMap((c) => (c.scheduleActivity?.activityType ? [c.scheduleActivity.activityType] : []));
        chaos.concluded(scheduled);
        return output;
      },
    },
  ],
});
