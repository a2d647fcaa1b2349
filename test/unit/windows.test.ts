import { describe, expect, it } from 'vitest';
import type { MaintenanceWindow } from '../../domain/spec';
import {
  checkWindow,
  nominalWindowMs,
  windowOccurrences,
  windowsFor,
  windowState,
  zonedTimeToUtc,
  type WindowTiming,
} from '../../domain/windows';
import { member } from './fixtures';

const H = 3_600_000;
const ALL_DAYS: WindowTiming['days'] = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
const utc = (iso: string) => Date.parse(iso);
const w = (over: Partial<WindowTiming>): WindowTiming => ({
  days: ALL_DAYS,
  start: '01:00',
  end: '05:00',
  timezone: 'UTC',
  ...over,
});

describe('zonedTimeToUtc', () => {
  it('converts wall-clock time in a zone, summer and winter', () => {
    expect(zonedTimeToUtc({ year: 2024, month: 7, day: 1, hour: 2, minute: 0 }, 'Europe/Berlin')).toBe(
      utc('2024-07-01T00:00:00Z'),
    );
    expect(zonedTimeToUtc({ year: 2024, month: 1, day: 1, hour: 2, minute: 0 }, 'Europe/Berlin')).toBe(
      utc('2024-01-01T01:00:00Z'),
    );
    expect(zonedTimeToUtc({ year: 2024, month: 1, day: 1, hour: 9, minute: 30 }, 'Asia/Kolkata')).toBe(
      utc('2024-01-01T04:00:00Z'),
    );
  });

  it('moves a time in the spring-forward gap forward by the gap', () => {
    // New York, 2024-03-10: 02:00 EST jumps to 03:00 EDT; 02:30 does not exist.
    expect(zonedTimeToUtc({ year: 2024, month: 3, day: 10, hour: 2, minute: 30 }, 'America/New_York')).toBe(
      utc('2024-03-10T07:30:00Z'),
    );
  });

  it('takes the earlier of two autumn instants', () => {
    // New York, 2024-11-03: 01:30 happens at 05:30Z (EDT) and again at 06:30Z (EST).
    expect(zonedTimeToUtc({ year: 2024, month: 11, day: 3, hour: 1, minute: 30 }, 'America/New_York')).toBe(
      utc('2024-11-03T05:30:00Z'),
    );
  });
});

describe('windowState', () => {
  it('is always open without windows', () => {
    expect(windowState([], utc('2024-10-07T12:00:00Z'), 10 * H)).toEqual({ open: true, fits: true });
  });

  it('opens and closes on the listed days', () => {
    const mon = w({ days: ['Mon'], start: '01:00', end: '05:00' });
    // 2024-10-07 is a Monday.
    expect(windowState([mon], utc('2024-10-07T02:00:00Z'), H)).toEqual({
      open: true,
      fits: true,
      closesAtMs: utc('2024-10-07T05:00:00Z'),
      nextOpenMs: utc('2024-10-14T01:00:00Z'),
      nextFitMs: utc('2024-10-07T02:00:00Z'),
    });
    const closed = windowState([mon], utc('2024-10-08T02:00:00Z'), H);
    expect(closed).toMatchObject({ open: false, fits: false, nextOpenMs: utc('2024-10-14T01:00:00Z') });
    // The end is exclusive.
    expect(windowState([mon], utc('2024-10-07T05:00:00Z'), 0).open).toBe(false);
  });

  it('keeps a window crossing midnight open the next morning, and belongs to the day it opens', () => {
    const friNight = w({ days: ['Fri'], start: '22:00', end: '02:00' });
    // 2024-10-12 is a Saturday: Friday's window is still open at 01:00.
    expect(windowState([friNight], utc('2024-10-12T01:00:00Z'), 0)).toMatchObject({
      open: true,
      closesAtMs: utc('2024-10-12T02:00:00Z'),
    });
    // Saturday night is not Friday: closed, next opening the following Friday.
    expect(windowState([friNight], utc('2024-10-12T23:00:00Z'), 0)).toMatchObject({
      open: false,
      nextOpenMs: utc('2024-10-18T22:00:00Z'),
    });
    expect(nominalWindowMs(friNight)).toBe(4 * H);
  });

  it('works in the window timezone', () => {
    const berlin = w({ start: '02:00', end: '04:00', timezone: 'Europe/Berlin' });
    // 00:30Z in October is 02:30 CEST.
    expect(windowState([berlin], utc('2024-10-07T00:30:00Z'), 0)).toMatchObject({
      open: true,
      closesAtMs: utc('2024-10-07T02:00:00Z'),
    });
    expect(windowState([berlin], utc('2024-10-07T02:30:00Z'), 0)).toMatchObject({
      open: false,
      nextOpenMs: utc('2024-10-08T00:00:00Z'),
    });
  });

  it('handles DST days: the spring night is an hour shorter, the autumn one an hour longer', () => {
    const nyNight = w({ start: '01:00', end: '05:00', timezone: 'America/New_York' });
    const spring = windowOccurrences(nyNight, utc('2024-03-10T12:00:00Z')).find(
      (o) => o.startMs === utc('2024-03-10T06:00:00Z'),
    );
    expect(spring && spring.endMs - spring.startMs).toBe(3 * H);
    const autumn = windowOccurrences(nyNight, utc('2024-11-03T12:00:00Z')).find(
      (o) => o.startMs === utc('2024-11-03T05:00:00Z'),
    );
    expect(autumn && autumn.endMs - autumn.startMs).toBe(5 * H);
    // Europe/London springs forward at 01:00 UTC on 2024-03-31; a 00:30–02:30 window runs 00:30Z–01:30Z.
    const london = w({ start: '00:30', end: '02:30', timezone: 'Europe/London' });
    expect(windowState([london], utc('2024-03-31T01:00:00Z'), 0)).toMatchObject({
      open: true,
      closesAtMs: utc('2024-03-31T01:30:00Z'),
    });
  });

  it('says whether the upgrade fits and when the next window long enough opens', () => {
    const short = w({ days: ['Mon'], start: '01:00', end: '02:00' });
    const long = w({ days: ['Wed'], start: '01:00', end: '05:00' });
    const s = windowState([short, long], utc('2024-10-07T01:30:00Z'), 2 * H);
    expect(s).toMatchObject({
      open: true,
      fits: false,
      closesAtMs: utc('2024-10-07T02:00:00Z'),
      nextOpenMs: utc('2024-10-09T01:00:00Z'),
      nextFitMs: utc('2024-10-09T01:00:00Z'),
    });
  });

  it('merges overlapping windows into one open period', () => {
    const a = w({ start: '01:00', end: '03:00' });
    const b = w({ start: '02:30', end: '06:00' });
    expect(windowState([a, b], utc('2024-10-07T01:30:00Z'), 4 * H)).toMatchObject({
      open: true,
      fits: true,
      closesAtMs: utc('2024-10-07T06:00:00Z'),
    });
  });

  it('is right on both sides of local midnight in a zone offset by 45 minutes (memo slots)', () => {
    // Asia/Kathmandu is UTC+5:45: local midnight is 18:15Z.
    const ktm = w({ days: ['Tue'], start: '00:00', end: '01:00', timezone: 'Asia/Kathmandu' });
    expect(windowState([ktm], utc('2024-10-07T18:14:59Z'), 0)).toMatchObject({
      open: false,
      nextOpenMs: utc('2024-10-07T18:15:00Z'),
    });
    expect(windowState([ktm], utc('2024-10-07T18:15:00Z'), 0)).toMatchObject({
      open: true,
      closesAtMs: utc('2024-10-07T19:15:00Z'),
    });
  });

  it('searches forward at least a week for the next opening', () => {
    const sun = w({ days: ['Sun'], start: '23:00', end: '23:30' });
    // Monday 00:00 right after Sunday's window: the next one is six days and 23 hours away.
    expect(windowState([sun], utc('2024-10-07T00:00:00Z'), 0).nextOpenMs).toBe(utc('2024-10-13T23:00:00Z'));
  });
});

describe('checkWindow and windowsFor', () => {
  it('admits only when open and the upgrade fits; otherwise says why and when', () => {
    const mon = w({ days: ['Mon'], start: '01:00', end: '03:00' });
    expect(checkWindow([mon], utc('2024-10-07T01:00:00Z'), H)).toEqual({ open: true });
    const late = checkWindow([mon], utc('2024-10-07T02:30:00Z'), H);
    expect(late).toMatchObject({ open: false, nextOpenMs: utc('2024-10-14T01:00:00Z') });
    expect(late.reason).toMatch(/closes at 2024-10-07T03:00:00.000Z, before the estimated 1h upgrade would end/);
    expect(checkWindow([mon], utc('2024-10-08T00:00:00Z'), 5 * H).reason).toMatch(
      /no maintenance window in the next 8 days/,
    );
    expect(checkWindow([], 0, H)).toEqual({ open: true });
  });

  it('selects the windows whose selector matches the cluster', () => {
    const windows = [
      { ...w({}), name: 'prod', selector: { matchLabels: { env: 'prod' } } },
      { ...w({}), name: 'everyone' },
    ] as MaintenanceWindow[];
    expect(windowsFor(member('p', { labels: { env: 'prod' } }), windows).map((x) => x.name)).toEqual([
      'prod',
      'everyone',
    ]);
    expect(windowsFor(member('d', { labels: { env: 'dev' } }), windows).map((x) => x.name)).toEqual(['everyone']);
  });
});
