import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  DEVICE_EVENTS,
  DEVICE_STATES,
  FAILURE_STATES,
  IllegalTransitionError,
  STABLE_STATES,
  TRANSITIONS,
  UNSTABLE_STATES,
  allowedFrom,
  applyEvent,
  canApply,
  targetOf,
  type DeviceEvent,
  type DeviceState,
} from '../../src/domain/device-state';

const pairs: [DeviceState, DeviceEvent][] = DEVICE_STATES.flatMap((s) => DEVICE_EVENTS.map((e) => [s, e] as [DeviceState, DeviceEvent]));

function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

/** Replays events from a state; each step must be legal. */
function replay(from: DeviceState, events: DeviceEvent[]): DeviceState[] {
  const trail: DeviceState[] = [from];
  for (const e of events) trail.push(applyEvent(trail[trail.length - 1], e));
  return trail;
}

describe('the transition table', () => {
  it('only mentions known states and events', () => {
    expect(Object.keys(TRANSITIONS).sort()).toEqual([...DEVICE_EVENTS].sort());
    for (const event of DEVICE_EVENTS) {
      for (const [from, to] of Object.entries(TRANSITIONS[event])) {
        expect(DEVICE_STATES).toContain(from);
        expect(DEVICE_STATES).toContain(to);
      }
    }
  });

  it('has no dead events and no self-loops', () => {
    expect(DEVICE_EVENTS.filter((e) => allowedFrom(e).length === 0)).toEqual([]);
    const loops = pairs.filter(([s, e]) => TRANSITIONS[e][s] === s).map(([s, e]) => `${s} + ${e}`);
    expect(loops).toEqual([]);
  });

  it('reaches every state from ENROLLED, and leaves every state but DELETING', () => {
    const reached = new Set<DeviceState>(['ENROLLED']);
    let grew = true;
    while (grew) {
      grew = false;
      for (const [s, e] of pairs) {
        if (reached.has(s) && canApply(s, e) && !reached.has(applyEvent(s, e))) {
          reached.add(applyEvent(s, e));
          grew = true;
        }
      }
    }
    expect([...reached].sort()).toEqual([...DEVICE_STATES].sort());
    const deadEnds = DEVICE_STATES.filter((s) => DEVICE_EVENTS.every((e) => !canApply(s, e)));
    expect(deadEnds).toEqual(['DELETING']);
  });
});

describe('applyEvent', () => {
  it.each(pairs)('%s + %s follows TRANSITIONS or throws IllegalTransitionError', (state, event) => {
    const expected = TRANSITIONS[event][state];
    expect(canApply(state, event)).toBe(expected !== undefined);
    if (expected !== undefined) {
      expect(applyEvent(state, event)).toBe(expected);
      return;
    }
    const err = thrownBy(() => applyEvent(state, event));
    expect(err).toBeInstanceOf(IllegalTransitionError);
    const illegal = err as IllegalTransitionError;
    expect(illegal.name).toBe('IllegalTransitionError');
    expect({ from: illegal.from, event: illegal.event }).toEqual({ from: state, event });
    // Names the state the device is in and every state the event is allowed from.
    expect(illegal.message).toMatch(new RegExp(`\\bstate ${state}\\b`));
    const allowed = /allowed from: (.*)$/.exec(illegal.message)?.[1]?.split(', ');
    expect(allowed?.sort()).toEqual(Object.keys(TRANSITIONS[event]).sort());
  });

  it('explains a refused drain in words an operator can act on', () => {
    expect(() => applyEvent('MAINTENANCE', 'drain')).toThrow('cannot drain a device in state MAINTENANCE; allowed from: ACTIVE, DRAIN_FAILED');
    expect(() => applyEvent('ACTIVE', 'verify_succeeded')).toThrow(
      'cannot verify succeeded a device in state ACTIVE; allowed from: VERIFYING',
    );
  });
});

describe('state classes', () => {
  it('STABLE, UNSTABLE and FAILURE partition DEVICE_STATES', () => {
    const all = [...STABLE_STATES, ...UNSTABLE_STATES, ...FAILURE_STATES];
    expect(all.sort()).toEqual([...DEVICE_STATES].sort()); // every state once: no overlap, no gap
    expect(new Set(all).size).toBe(all.length);
  });

  it('DEVICE_STATES is the DeviceState enum of prisma/schema.prisma, in the same order', () => {
    const schema = readFileSync(path.resolve(__dirname, '../../prisma/schema.prisma'), 'utf8');
    const block = /^enum\s+DeviceState\s*\{([^}]*)\}/m.exec(schema);
    expect(block).not.toBeNull();
    const labels = block![1]
      .split('\n')
      .map((line) => line.replace(/\/\/.*$/, '').trim())
      .filter(Boolean)
      .map((line) => line.split(/\s+/)[0]);
    expect(labels).toEqual([...DEVICE_STATES]);
  });
});

describe('targetOf', () => {
  it.each([...DEVICE_EVENTS])('%s has exactly one target, the one every transition of it leads to', (event) => {
    const targets = new Set(Object.values(TRANSITIONS[event]));
    expect(targets.size).toBe(1);
    expect(targetOf(event)).toBe([...targets][0]);
    for (const from of allowedFrom(event)) expect(applyEvent(from, event)).toBe(targetOf(event));
  });
});

describe('lifecycle paths', () => {
  it('onboarding: ENROLLED -> VERIFYING -> ACTIVE', () => {
    expect(replay('ENROLLED', ['verify', 'verify_succeeded'])).toEqual(['ENROLLED', 'VERIFYING', 'ACTIVE']);
  });

  it('a failed verification is retried: VERIFYING -> VERIFY_FAILED -> VERIFYING -> ACTIVE', () => {
    expect(replay('VERIFYING', ['verify_failed', 'verify', 'verify_succeeded'])).toEqual([
      'VERIFYING',
      'VERIFY_FAILED',
      'VERIFYING',
      'ACTIVE',
    ]);
  });

  it('an operator abandons from VERIFY_FAILED and re-enrolls from ABANDONED', () => {
    expect(replay('VERIFY_FAILED', ['abandon', 're_enroll', 'verify'])).toEqual([
      'VERIFY_FAILED',
      'ABANDONED',
      'ENROLLED',
      'VERIFYING',
    ]);
    expect(() => applyEvent('ACTIVE', 'abandon')).toThrow(IllegalTransitionError);
    expect(() => applyEvent('VERIFY_FAILED', 're_enroll')).toThrow(IllegalTransitionError);
  });

  it('maintenance: drain, hold, resume; a failed drain is cancelled or resumed', () => {
    expect(replay('ACTIVE', ['drain', 'drain_succeeded', 'resume', 'resume_succeeded'])).toEqual([
      'ACTIVE',
      'DRAINING',
      'MAINTENANCE',
      'RESUMING',
      'ACTIVE',
    ]);
    expect(replay('ACTIVE', ['drain', 'drain_failed', 'drain_cancelled'])).toEqual(['ACTIVE', 'DRAINING', 'DRAIN_FAILED', 'ACTIVE']);
    expect(replay('DRAIN_FAILED', ['resume', 'resume_failed'])).toEqual(['DRAIN_FAILED', 'RESUMING', 'MAINTENANCE']);
    // An operator retries a drain that missed its deadline.
    expect(replay('DRAIN_FAILED', ['drain', 'drain_succeeded'])).toEqual(['DRAIN_FAILED', 'DRAINING', 'MAINTENANCE']);
  });

  it('a device being drained or verified cannot be deleted', () => {
    for (const s of ['VERIFYING', 'DRAINING', 'RESUMING', 'DRAIN_FAILED', 'DELETING'] as const) {
      expect(() => applyEvent(s, 'delete')).toThrow(IllegalTransitionError);
    }
  });
});
