import { describe, expect, it } from 'vitest';
import {
  DEFAULT_WAIT_SCHEDULE,
  FIRST_LOOK_MS,
  NODEGROUP_FIRST_LOOK_CAP_MS,
  nodegroupBatches,
  nodegroupFirstLookMs,
  walkWait,
  nextLookDelayMs,
  type WaitSchedule,
} from '../../domain/waits';

const s: WaitSchedule = { minMs: 30_000, maxMs: 240_000, growth: 1.5, timeScale: 1 };
const min = 60_000;

describe('the wait schedule', () => {
  it('looks first when the thing can have ended, counting time already waited', () => {
    expect(nextLookDelayMs('control-plane', 0, s)).toBe(FIRST_LOOK_MS['control-plane']);
    expect(nextLookDelayMs('control-plane', 3 * min, s)).toBe(FIRST_LOOK_MS['control-plane'] - 3 * min);
    expect(nextLookDelayMs('addon', 0, s)).toBe(FIRST_LOOK_MS.addon);
    // Never sooner than minMs, even just before the first look.
    expect(nextLookDelayMs('control-plane', FIRST_LOOK_MS['control-plane'] - 1_000, s)).toBe(30_000);
  });

  it('then looks at growth × the time waited, between minMs and maxMs apart', () => {
    expect(nextLookDelayMs('control-plane', 8 * min, s)).toBe(4 * min);
    expect(nextLookDelayMs('nodegroup', 4 * min, s)).toBe(2 * min);
    expect(nextLookDelayMs('nodegroup', 60 * min, s)).toBe(s.maxMs);
    expect(nextLookDelayMs('addon', 41_000, s)).toBe(30_000);
  });

  it('looks first at a node group later the more batches it replaces, up to a cap', () => {
    expect(nodegroupBatches(3)).toBe(3);
    expect(nodegroupBatches(6, 2)).toBe(3);
    expect(nodegroupBatches(10, undefined, 50)).toBe(2);
    // A percentage that rounds to no node still replaces one at a time.
    expect(nodegroupBatches(3, undefined, 10)).toBe(3);
    expect(nodegroupFirstLookMs(1)).toBe(FIRST_LOOK_MS.nodegroup);
    expect(nodegroupFirstLookMs(3)).toBe(FIRST_LOOK_MS.nodegroup + 4 * min);
    expect(nodegroupFirstLookMs(40)).toBe(NODEGROUP_FIRST_LOOK_CAP_MS);
    expect(nextLookDelayMs('nodegroup', 0, s, nodegroupFirstLookMs(3))).toBe(7 * min);
    // After the first look the schedule is the same geometric one.
    expect(nextLookDelayMs('nodegroup', 7 * min, s, nodegroupFirstLookMs(3))).toBe(3.5 * min);
    // Fewer looks for a 3-batch group of 15 minutes than with the 3-minute first look.
    expect(walkWait('nodegroup', 15 * min, s, nodegroupFirstLookMs(3)).looks).toBeLessThan(
      walkWait('nodegroup', 15 * min, s).looks,
    );
  });

  it('divides every delay by the time scale, down to a floor', () => {
    const fast = { ...s, timeScale: 1200 };
    expect(nextLookDelayMs('control-plane', 0, fast)).toBe(Math.round(FIRST_LOOK_MS['control-plane'] / 1200));
    expect(nextLookDelayMs('nodegroup', 60 * min, fast)).toBe(s.maxMs / 1200);
    expect(nextLookDelayMs('addon', 10 * min, { ...s, timeScale: 100_000 })).toBe(20);
  });

  it('costs a few looks per wait, growing with the log of its length', () => {
    expect(walkWait('control-plane', 10 * min, DEFAULT_WAIT_SCHEDULE).looks).toBe(2);
    // 8, 12, then 4 min apart (the cap): 16, 20, 24, 28.
    expect(walkWait('control-plane', 25 * min, DEFAULT_WAIT_SCHEDULE).looks).toBe(6);
    const hour = walkWait('nodegroup', 60 * min, DEFAULT_WAIT_SCHEDULE).looks;
    const twoHours = walkWait('nodegroup', 120 * min, DEFAULT_WAIT_SCHEDULE).looks;
    // Past the cap, one look per maxMs.
    expect(twoHours - hour).toBe(15);
  });
});
