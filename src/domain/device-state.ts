/**
 * Device lifecycle states (Ironic's naming) and the one table of legal transitions.
 * The only way to change a device's state is `applyEvent`, which refuses illegal moves.
 * Pure: imported by workflows, activities and the API alike.
 */
export const DEVICE_STATES = [
  'ENROLLED',
  'VERIFYING',
  'ACTIVE',
  'VERIFY_FAILED',
  'ABANDONED',
  'DRAINING',
  'DRAIN_FAILED',
  'MAINTENANCE',
  'RESUMING',
  'DELETING',
] as const;
export type DeviceState = (typeof DEVICE_STATES)[number];

/** States a device rests in without an operation driving it. */
export const STABLE_STATES: ReadonlySet<DeviceState> = new Set(['ENROLLED', 'ACTIVE', 'MAINTENANCE', 'ABANDONED']);
/** States that only exist while a workflow is working on the device. */
export const UNSTABLE_STATES: ReadonlySet<DeviceState> = new Set(['VERIFYING', 'DRAINING', 'RESUMING', 'DELETING']);
/** States that need an operator's decision. */
export const FAILURE_STATES: ReadonlySet<DeviceState> = new Set(['VERIFY_FAILED', 'DRAIN_FAILED']);

export const DEVICE_EVENTS = [
  'verify',
  'verify_succeeded',
  'verify_failed',
  'abandon',
  're_enroll',
  'drain',
  'drain_succeeded',
  'drain_failed',
  'drain_cancelled',
  'resume',
  'resume_succeeded',
  'resume_failed',
  'delete',
] as const;
export type DeviceEvent = (typeof DEVICE_EVENTS)[number];

type TransitionTable = Readonly<Record<DeviceEvent, Readonly<Partial<Record<DeviceState, DeviceState>>>>>;

/** event -> (from state -> to state). Anything not listed is illegal. */
export const TRANSITIONS: TransitionTable = {
  verify: { ENROLLED: 'VERIFYING', VERIFY_FAILED: 'VERIFYING' },
  verify_succeeded: { VERIFYING: 'ACTIVE' },
  verify_failed: { VERIFYING: 'VERIFY_FAILED', ENROLLED: 'VERIFY_FAILED' },
  // VERIFYING -> ABANDONED is an onboarding cancelled mid-verification.
  abandon: { ENROLLED: 'ABANDONED', VERIFYING: 'ABANDONED', VERIFY_FAILED: 'ABANDONED' },
  re_enroll: { ABANDONED: 'ENROLLED' },
  // DRAIN_FAILED -> DRAINING is an operator retrying a drain that missed its deadline.
  drain: { ACTIVE: 'DRAINING', DRAIN_FAILED: 'DRAINING' },
  drain_succeeded: { DRAINING: 'MAINTENANCE' },
  drain_failed: { DRAINING: 'DRAIN_FAILED' },
  drain_cancelled: { DRAINING: 'ACTIVE', DRAIN_FAILED: 'ACTIVE' },
  resume: { MAINTENANCE: 'RESUMING', DRAIN_FAILED: 'RESUMING' },
  resume_succeeded: { RESUMING: 'ACTIVE' },
  resume_failed: { RESUMING: 'MAINTENANCE' },
  delete: { ENROLLED: 'DELETING', ACTIVE: 'DELETING', VERIFY_FAILED: 'DELETING', MAINTENANCE: 'DELETING', ABANDONED: 'DELETING' },
};

export class IllegalTransitionError extends Error {
  constructor(
    readonly from: DeviceState,
    readonly event: DeviceEvent,
  ) {
    super(`cannot ${event.replace(/_/g, ' ')} a device in state ${from}; allowed from: ${allowedFrom(event).join(', ')}`);
    this.name = 'IllegalTransitionError';
  }
}

export function allowedFrom(event: DeviceEvent): DeviceState[] {
  return Object.keys(TRANSITIONS[event]) as DeviceState[];
}

export function canApply(from: DeviceState, event: DeviceEvent): boolean {
  return TRANSITIONS[event][from] !== undefined;
}

/** The state after `event`, or IllegalTransitionError. */
export function applyEvent(from: DeviceState, event: DeviceEvent): DeviceState {
  const to = TRANSITIONS[event][from];
  if (to === undefined) throw new IllegalTransitionError(from, event);
  return to;
}

/** The state an event leads to (every event has exactly one target). */
export function targetOf(event: DeviceEvent): DeviceState {
  const targets = new Set(Object.values(TRANSITIONS[event]));
  if (targets.size !== 1) throw new Error(`event ${event} has ${targets.size} targets`);
  return [...targets][0] as DeviceState;
}
