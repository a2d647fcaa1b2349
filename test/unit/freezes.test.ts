import { describe, expect, it } from 'vitest';
import { campaignSchema } from '../../domain/spec';
import { resolveCaps } from '../../domain/pacing';
import {
  checkFreezes,
  describeFreeze,
  nextFreezeStart,
  parseRate,
  pruneFreezes,
  resolveCountOrPercent,
  validateFreeze,
  type Freeze,
} from '../../domain/freezes';

const H = 3_600_000;
// Thursday 2026-12-03 06:00 UTC.
const NOW = Date.parse('2026-12-03T06:00:00Z');

function freeze(id: string, fields: Partial<Freeze>): Freeze {
  return { id, reason: id, addedAt: new Date(NOW).toISOString(), ...fields };
}

describe('checkFreezes: the change calendar', () => {
  it('an empty calendar freezes nothing', () => {
    expect(checkFreezes([], NOW)).toEqual({ frozen: false });
  });

  it('an absolute range is [from, until): frozen at from, free at until', () => {
    const f = freeze('f1', { reason: 'holiday', from: '2026-12-03T06:00:00Z', until: '2026-12-03T08:00:00Z' });
    expect(checkFreezes([f], NOW - 1).frozen).toBe(false);
    const at = checkFreezes([f], NOW);
    expect(at).toMatchObject({ frozen: true, untilMs: NOW + 2 * H });
    expect(at.reason).toBe('frozen: holiday until 2026-12-03T08:00:00.000Z');
    expect(checkFreezes([f], NOW + 2 * H).frozen).toBe(false);
  });

  it('a range without from starts at once', () => {
    expect(checkFreezes([freeze('f1', { until: '2026-12-03T07:00:00Z' })], NOW).frozen).toBe(true);
  });

  it('chains overlapping and touching freezes: until is the end of the whole frozen period', () => {
    const a = freeze('f1', { reason: 'incident', from: '2026-12-03T05:00:00Z', until: '2026-12-03T07:00:00Z' });
    const b = freeze('f2', { reason: 'release', from: '2026-12-03T07:00:00Z', until: '2026-12-03T09:00:00Z' });
    const c = freeze('f3', { reason: 'later', from: '2026-12-03T10:00:00Z', until: '2026-12-03T11:00:00Z' });
    const check = checkFreezes([a, b, c], NOW);
    expect(check.freeze?.id).toBe('f1');
    expect(check.untilMs).toBe(NOW + 3 * H);
  });

  it('a weekly window recurs in its timezone, crossing midnight', () => {
    // Wed and Thu 22:00 → 07:00 Berlin (UTC+1 in December): Thu 06:00 UTC is 07:00 Berlin, just out.
    const f = freeze('f1', {
      reason: 'night freeze',
      weekly: { days: ['Wed', 'Thu'], start: '22:00', end: '07:00', timezone: 'Europe/Berlin' },
    });
    expect(checkFreezes([f], NOW - 1).frozen).toBe(true);
    expect(checkFreezes([f], NOW - 1).untilMs).toBe(NOW);
    expect(checkFreezes([f], NOW).frozen).toBe(false);
    // Thursday 22:30 Berlin = 21:30 UTC: frozen until Friday 06:00 UTC.
    const thuNight = Date.parse('2026-12-03T21:30:00Z');
    expect(checkFreezes([f], thuNight).untilMs).toBe(Date.parse('2026-12-04T06:00:00Z'));
    // Friday night is not a freeze day.
    expect(checkFreezes([f], Date.parse('2026-12-04T21:30:00Z')).frozen).toBe(false);
  });

  it('a weekly window chains into an absolute range', () => {
    const weekly = freeze('f1', { weekly: { days: ['Thu'], start: '05:00', end: '07:00', timezone: 'UTC' } });
    const range = freeze('f2', { from: '2026-12-03T06:30:00Z', until: '2026-12-03T12:00:00Z' });
    expect(checkFreezes([weekly, range], NOW).untilMs).toBe(NOW + 6 * H);
  });

  it('drops absolute freezes that ended, keeps weekly ones', () => {
    const ended = freeze('f1', { until: '2026-12-03T05:00:00Z' });
    const running = freeze('f2', { until: '2026-12-03T07:00:00Z' });
    const weekly = freeze('f3', { weekly: { days: ['Mon'], start: '00:00', end: '01:00', timezone: 'UTC' } });
    expect(pruneFreezes([ended, running, weekly], NOW).map((f) => f.id)).toEqual(['f2', 'f3']);
  });

  it('finds when the next freeze begins: a scheduled range or the next weekly occurrence', () => {
    expect(nextFreezeStart([], NOW)).toBeUndefined();
    const later = freeze('f1', { from: '2026-12-03T09:00:00Z', until: '2026-12-03T10:00:00Z' });
    const weekly = freeze('f2', { weekly: { days: ['Thu', 'Fri'], start: '08:00', end: '08:30', timezone: 'UTC' } });
    expect(nextFreezeStart([later], NOW)).toBe(NOW + 3 * H);
    expect(nextFreezeStart([later, weekly], NOW)).toBe(NOW + 2 * H);
    // Inside today's occurrence, the next one is tomorrow's; a range in force or ended never begins again.
    expect(nextFreezeStart([weekly], NOW + 2 * H + 60_000)).toBe(Date.parse('2026-12-04T08:00:00Z'));
    expect(nextFreezeStart([later], NOW + 3 * H)).toBeUndefined();
    expect(nextFreezeStart([freeze('f3', { until: '2026-12-03T07:00:00Z' })], NOW)).toBeUndefined();
  });

  it('describes each kind in one line', () => {
    expect(describeFreeze({ reason: 'x', from: 'A', until: 'B' })).toBe('A → B');
    expect(describeFreeze({ reason: 'x', until: 'B' })).toBe('now → B');
    expect(
      describeFreeze({ reason: 'x', weekly: { days: ['Fri', 'Sat'], start: '18:00', end: '06:00', timezone: 'UTC' } }),
    ).toBe('weekly Fri,Sat 18:00-06:00 UTC');
  });
});

describe('validateFreeze', () => {
  it('accepts a range and a weekly window', () => {
    expect(validateFreeze({ reason: 'r', until: '2026-12-04T00:00:00Z' }, NOW)).toEqual([]);
    expect(
      validateFreeze({ reason: 'r', weekly: { days: ['Fri'], start: '18:00', end: '06:00', timezone: 'UTC' } }, NOW),
    ).toEqual([]);
  });

  it('names every problem', () => {
    expect(validateFreeze({ reason: '' }, NOW)).toEqual([
      'a freeze needs a reason',
      'give a date range (from/until) or a weekly window',
    ]);
    expect(validateFreeze({ reason: 'r', from: '2026-12-04T00:00:00Z' }, NOW)).toEqual([
      'a date range needs an end (until)',
    ]);
    expect(
      validateFreeze(
        {
          reason: 'r',
          until: '2026-12-04T00:00:00Z',
          weekly: { days: ['Fri'], start: '18:00', end: '18:00', timezone: 'UTC' },
        },
        NOW,
      ),
    ).toEqual(['give either a date range (from/until) or a weekly window, not both', 'end must differ from start']);
  });
});

describe('parseRate', () => {
  it('reads n/unit and n/duration', () => {
    expect(parseRate('10/h')).toEqual({ starts: 10, per: '1h' });
    expect(parseRate('3/10m')).toEqual({ starts: 3, per: '10m' });
    expect(parseRate(' 1 / 30s ')).toEqual({ starts: 1, per: '30s' });
  });

  it('refuses anything else with a sentence', () => {
    expect(() => parseRate('fast')).toThrow('rate "fast" must look like 10/h or 3/10m');
    expect(() => parseRate('0/h')).toThrow('starts must be a whole number >= 1');
    expect(() => parseRate('5/0m')).toThrow('the period must be longer than 0');
  });
});

describe('resolveCountOrPercent: a percentage of the clusters, rounded down, at least 1', () => {
  it('uses a count as is', () => {
    expect(resolveCountOrPercent(3, 100)).toBe(3);
  });

  it('rounds a percentage down', () => {
    expect(resolveCountOrPercent('25%', 10)).toBe(2);
    expect(resolveCountOrPercent('25%', 100)).toBe(25);
    expect(resolveCountOrPercent('33.3%', 10)).toBe(3);
    expect(resolveCountOrPercent('100%', 7)).toBe(7);
  });

  it('never goes below 1, so a small wave still makes progress', () => {
    expect(resolveCountOrPercent('25%', 3)).toBe(1);
    expect(resolveCountOrPercent('1%', 0)).toBe(1);
  });
});

describe('spec: maxParallel and caps as counts or percentages', () => {
  const parse = (wave: Record<string, unknown>, caps: unknown[] = []) =>
    campaignSchema.safeParse({
      apiVersion: 'fleetwave.io/v1alpha1',
      kind: 'UpgradeCampaign',
      metadata: { name: 'pct' },
      spec: { target: { kubernetesVersion: '1.31' }, waves: [{ name: 'all', ...wave }], pacing: { caps } },
    });

  it('accepts "25%" for maxParallel and a cap', () => {
    const parsed = parse({ maxParallel: '25%' }, [{ labelKey: 'region', max: '10%' }]);
    expect(parsed.success).toBe(true);
    if (!parsed.success) return;
    expect(parsed.data.spec.waves[0]?.maxParallel).toBe('25%');
    expect(resolveCaps(parsed.data.spec.pacing.caps, 25)).toEqual([{ labelKey: 'region', max: 2 }]);
  });

  it('refuses 0%, over 100% and words', () => {
    for (const bad of ['0%', '150%', 'half', 0]) {
      expect(parse({ maxParallel: bad }).success, String(bad)).toBe(false);
    }
  });
});
