import { describe, expect, it } from 'vitest';
import {
  addMeasurement,
  assessMeasurements,
  emptyTally,
  evaluateCondition,
  parseCondition,
  renderQuery,
  type GateLimits,
  type MeasurementKind,
} from '../../domain/gates';

const limits: GateLimits = { consecutiveSuccesses: 3, failureLimit: 1, inconclusiveLimit: 2, consecutiveErrorLimit: 2 };
const run = (...kinds: MeasurementKind[]) =>
  assessMeasurements(
    kinds.map((kind) => ({ kind })),
    limits,
  );

describe('conditions', () => {
  it('parses comparisons', () => {
    expect(parseCondition('>= 0.99')).toEqual({ op: '>=', threshold: 0.99 });
    expect(parseCondition('<0.02')).toEqual({ op: '<', threshold: 0.02 });
    expect(parseCondition(' != -1e3 ')).toEqual({ op: '!=', threshold: -1000 });
    expect(parseCondition('~ 1')).toBeUndefined();
    expect(parseCondition('< abc')).toBeUndefined();
  });

  it('evaluates every operator', () => {
    const at = (text: string, v: string) => evaluateCondition(parseCondition(text)!, v);
    expect([at('< 1', '0.5'), at('< 1', '1')]).toEqual(['pass', 'fail']);
    expect([at('<= 1', '1'), at('<= 1', '1.1')]).toEqual(['pass', 'fail']);
    expect([at('> 1', '2'), at('> 1', '1')]).toEqual(['pass', 'fail']);
    expect([at('>= 1', '1'), at('>= 1', '0')]).toEqual(['pass', 'fail']);
    expect([at('== 0', '0'), at('== 0', '1')]).toEqual(['pass', 'fail']);
    expect([at('!= 0', '1'), at('!= 0', '0')]).toEqual(['pass', 'fail']);
  });

  it('treats no data and NaN as inconclusive, never as a pass', () => {
    const cond = parseCondition('< 0.02')!;
    for (const v of [undefined, null, '', '  ', 'NaN', Number.NaN, 'garbage']) {
      expect(evaluateCondition(cond, v as string)).toBe('inconclusive');
    }
    // != would pass for NaN in plain JavaScript; here it does not.
    expect(evaluateCondition(parseCondition('!= 0')!, 'NaN')).toBe('inconclusive');
  });

  it('compares Prometheus infinities numerically', () => {
    expect(evaluateCondition(parseCondition('< 0.5')!, '+Inf')).toBe('fail');
    expect(evaluateCondition(parseCondition('< 0.5')!, '-Inf')).toBe('pass');
    expect(evaluateCondition(parseCondition('> 0')!, 'Inf')).toBe('pass');
  });
});

describe('assessMeasurements', () => {
  it('is Running before enough passes, Successful after N in a row', () => {
    expect(run().outcome).toBe('Running');
    expect(run('pass', 'pass').outcome).toBe('Running');
    expect(run('pass', 'pass', 'pass')).toMatchObject({ outcome: 'Successful', successes: 3, consecutiveSuccesses: 3 });
  });

  it('never passes on no data or errors: they break the streak', () => {
    expect(run('pass', 'pass', 'inconclusive', 'pass').outcome).toBe('Running');
    expect(run('pass', 'error', 'pass', 'pass').outcome).toBe('Running');
    expect(run('pass', 'error', 'pass', 'pass', 'pass').outcome).toBe('Successful');
    const silent = assessMeasurements(
      Array.from({ length: 100 }, () => ({ kind: 'inconclusive' as const })),
      {
        ...limits,
        inconclusiveLimit: 1000,
      },
    );
    expect(silent.outcome).toBe('Running');
  });

  it('fails after more than failureLimit failures (total, not in a row)', () => {
    expect(run('fail').outcome).toBe('Running');
    expect(run('fail', 'pass', 'fail')).toMatchObject({ outcome: 'Failed', failures: 2 });
  });

  it('is Inconclusive after more than inconclusiveLimit measurements without data', () => {
    expect(run('inconclusive', 'inconclusive', 'inconclusive')).toMatchObject({
      outcome: 'Inconclusive',
      inconclusive: 3,
    });
  });

  it('is Error after more than consecutiveErrorLimit errors in a row; a measurement resets the count', () => {
    expect(run('error', 'error', 'pass', 'error', 'error').outcome).toBe('Running');
    expect(run('error', 'error', 'error')).toMatchObject({ outcome: 'Error', consecutiveErrors: 3, errors: 3 });
    expect(run('error', 'error', 'fail', 'error').consecutiveErrors).toBe(1);
  });

  it('keeps the first terminal outcome even if measurements follow', () => {
    expect(run('fail', 'fail', 'pass', 'pass', 'pass')).toMatchObject({ outcome: 'Failed', measurements: 2 });
  });

  it('checks failures before inconclusive before errors before success (Argo order)', () => {
    const tally = ['fail', 'fail', 'inconclusive', 'inconclusive', 'inconclusive'].reduce(
      (t, k) => addMeasurement(t, k as MeasurementKind),
      emptyTally(),
    );
    expect(tally).toMatchObject({ failures: 2, inconclusive: 3, measurements: 5 });
    const zero = { consecutiveSuccesses: 1, failureLimit: 0, inconclusiveLimit: 0, consecutiveErrorLimit: 0 };
    expect(assessMeasurements([{ kind: 'fail' }], zero).outcome).toBe('Failed');
    expect(assessMeasurements([{ kind: 'error' }], zero).outcome).toBe('Error');
    expect(assessMeasurements([{ kind: 'pass' }], zero).outcome).toBe('Successful');
  });
});

describe('renderQuery', () => {
  it('substitutes every {{cluster}}', () => {
    expect(renderQuery('max(x{cluster="{{cluster}}"}) / max(y{cluster="{{ cluster }}"})', 'prod-1')).toBe(
      'max(x{cluster="prod-1"}) / max(y{cluster="prod-1"})',
    );
  });

  it('escapes quotes and backslashes so a name cannot leave the string', () => {
    expect(renderQuery('up{cluster="{{cluster}}"}', 'a"} or vector(1) #\\')).toBe(
      'up{cluster="a\\"} or vector(1) #\\\\"}',
    );
    expect(renderQuery('{{cluster}}', '$&')).toBe('$&');
  });

  it("puts a wave gate's clusters in as a regex alternation, each name regex-escaped, then string-escaped", () => {
    const wave = { wave: 'canary', clusters: ['prod-1', 'eu.west', 'a|b'] };
    expect(renderQuery('max(x{cluster=~"{{clusters}}",wave="{{ wave }}"})', 'wave canary', wave)).toBe(
      'max(x{cluster=~"prod-1|eu\\\\.west|a\\\\|b",wave="canary"})',
    );
  });

  it('leaves {{clusters}} and {{wave}} alone in a cluster gate', () => {
    expect(renderQuery('x{cluster=~"{{clusters}}"}', 'prod-1')).toBe('x{cluster=~"{{clusters}}"}');
  });
});
