import { describe, expect, it } from 'vitest';
import {
  checkMinorStep,
  checkNodeSkew,
  compareMinor,
  firstSkewedHop,
  MAX_HOPS,
  nextMinor,
  parseMinor,
  planClusterVersions,
  SUPPORTED_MINORS,
  toMinor,
  upgradePath,
} from '../../domain/versions';
import { member } from './fixtures';

describe('parsing', () => {
  it('reads minors out of EKS and kubelet version strings', () => {
    expect(parseMinor('1.31')).toEqual({ major: 1, minor: 31 });
    expect(toMinor('v1.29.3-eks-a737599')).toBe('1.29');
    expect(toMinor('1.30.0-20240703')).toBe('1.30');
    expect(toMinor('1.31.2')).toBe('1.31');
    expect(parseMinor('latest')).toBeUndefined();
    expect(parseMinor('1')).toBeUndefined();
  });

  it('compares and steps minors numerically, not as text', () => {
    expect(compareMinor('1.9', '1.10')).toBeLessThan(0);
    expect(nextMinor('1.30')).toBe('1.31');
    expect(nextMinor('1.9')).toBe('1.10');
    expect(() => nextMinor('x')).toThrow();
  });

  it('declares the supported set 1.23–1.35', () => {
    expect(SUPPORTED_MINORS[0]).toBe('1.23');
    expect(SUPPORTED_MINORS[SUPPORTED_MINORS.length - 1]).toBe('1.35');
  });
});

describe('upgradePath', () => {
  it('chains one minor per hop', () => {
    expect(upgradePath('1.29', '1.31')).toEqual({ ok: true, path: ['1.30', '1.31'] });
    expect(upgradePath('1.30', '1.31')).toEqual({ ok: true, path: ['1.31'] });
    expect(upgradePath('1.31', '1.31')).toEqual({ ok: true, path: [] });
  });

  it('refuses downgrades with a reason', () => {
    const r = upgradePath('1.31', '1.30');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/downgrade from 1.31 to 1.30/);
  });

  it(`refuses chains longer than ${MAX_HOPS} hops`, () => {
    expect(upgradePath('1.27', '1.31').ok).toBe(true);
    const r = upgradePath('1.26', '1.31');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/5 control-plane hops/);
  });

  it('refuses minors outside the supported set', () => {
    expect(upgradePath('1.35', '1.36').ok).toBe(false);
    expect(upgradePath('1.22', '1.23').ok).toBe(false);
    expect(upgradePath('banana', '1.31').ok).toBe(false);
  });
});

describe('checkNodeSkew', () => {
  it('allows nodes up to 3 minors older, never newer', () => {
    expect(checkNodeSkew('1.31', '1.31').ok).toBe(true);
    expect(checkNodeSkew('1.31', '1.28').ok).toBe(true);
    expect(checkNodeSkew('1.31', '1.27')).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/4 minors behind/),
    });
    expect(checkNodeSkew('1.30', '1.31')).toMatchObject({ ok: false, reason: expect.stringMatching(/newer/) });
  });
});

describe('planClusterVersions', () => {
  it('plans a chained 1.29 → 1.31 upgrade', () => {
    expect(planClusterVersions(member('a', { version: '1.29' }), '1.31')).toEqual({ path: ['1.30', '1.31'] });
  });

  it('skips a cluster whose control plane and node groups are at target', () => {
    const plan = planClusterVersions(member('a', { version: '1.31' }), '1.31');
    expect(plan).toEqual({ path: [], skip: 'already at target (1.31)' });
  });

  it('does not skip a cluster at target whose node groups lag: they still need upgrading', () => {
    const plan = planClusterVersions(member('a', { version: '1.31', nodegroups: [{ version: '1.30' }] }), '1.31');
    expect(plan).toEqual({ path: [] });
  });

  it('refuses a downgrade', () => {
    const plan = planClusterVersions(member('a', { version: '1.31' }), '1.30');
    expect(plan.refusal).toMatch(/downgrade/);
    expect(plan.path).toEqual([]);
  });

  it('refuses when a hop would leave node groups more than 3 minors behind', () => {
    const m = member('a', { version: '1.29', nodegroups: [{ name: 'system' }, { name: 'batch', version: '1.27' }] });
    const plan = planClusterVersions(m, '1.31');
    expect(plan.refusal).toMatch(/hop to 1.31 .* batch \(1.27\) .* at least 1.28 first/);
    // One hop is still fine: 1.27 is 3 behind 1.30.
    expect(planClusterVersions(m, '1.30')).toEqual({ path: ['1.30'] });
  });

  it('refuses node groups newer than the control plane', () => {
    const m = member('a', { version: '1.29', nodegroups: [{ name: 'x', version: '1.30' }] });
    expect(planClusterVersions(m, '1.31').refusal).toMatch(/node group x: nodes at 1.30 are newer/);
  });

  it('plans an empty path for a patch-only campaign', () => {
    expect(planClusterVersions(member('a', { version: '1.29' }), undefined)).toEqual({ path: [] });
  });
});

describe('checkMinorStep', () => {
  it('allows the same or the next minor, refuses downgrades, skips and non-versions', () => {
    expect(checkMinorStep('1.30.2-eks-1', '1.31').ok).toBe(true);
    expect(checkMinorStep('1.31', '1.31').ok).toBe(true);
    expect(checkMinorStep('1.31', '1.30')).toEqual({ ok: false, reason: '1.31 → 1.30 is a downgrade' });
    expect(checkMinorStep('1.29', '1.31')).toMatchObject({ ok: false, reason: expect.stringMatching(/skips a minor/) });
    expect(checkMinorStep('x', '1.31')).toMatchObject({ ok: false, reason: expect.stringMatching(/not a Kubernetes/) });
  });
});

describe('firstSkewedHop', () => {
  it('names the first hop that leaves the nodes out of skew', () => {
    expect(firstSkewedHop(['1.30', '1.31'], '1.28')).toBeUndefined();
    expect(firstSkewedHop(['1.31', '1.32', '1.33'], '1.28')).toMatchObject({ hop: '1.32' });
  });
});
