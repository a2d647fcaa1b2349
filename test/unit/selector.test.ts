import { describe, expect, it } from 'vitest';
import { describeSelector, isEmptySelector, matchesSelector } from '../../domain/selector';

const labels = { env: 'prod', region: 'us-east-1', team: 'payments' };

describe('matchesSelector', () => {
  it('matches everything with no selector or an empty one', () => {
    expect(matchesSelector(labels)).toBe(true);
    expect(matchesSelector(labels, {})).toBe(true);
    expect(matchesSelector({}, { matchLabels: {}, matchExpressions: [] })).toBe(true);
  });

  it('requires every matchLabels entry with the exact value', () => {
    expect(matchesSelector(labels, { matchLabels: { env: 'prod' } })).toBe(true);
    expect(matchesSelector(labels, { matchLabels: { env: 'prod', region: 'us-east-1' } })).toBe(true);
    expect(matchesSelector(labels, { matchLabels: { env: 'prod', region: 'eu-west-1' } })).toBe(false);
    expect(matchesSelector(labels, { matchLabels: { tier: 'tier-1' } })).toBe(false);
  });

  it('In needs the key with one of the values', () => {
    const sel = { matchExpressions: [{ key: 'region', operator: 'In' as const, values: ['us-east-1', 'eu-west-1'] }] };
    expect(matchesSelector(labels, sel)).toBe(true);
    expect(matchesSelector({ region: 'ap-south-1' }, sel)).toBe(false);
    expect(matchesSelector({}, sel)).toBe(false);
  });

  it('NotIn matches a cluster without the key (Kubernetes semantics)', () => {
    const sel = { matchExpressions: [{ key: 'env', operator: 'NotIn' as const, values: ['dev'] }] };
    expect(matchesSelector(labels, sel)).toBe(true);
    expect(matchesSelector({ env: 'dev' }, sel)).toBe(false);
    expect(matchesSelector({}, sel)).toBe(true);
  });

  it('Exists and DoesNotExist test the key only, an empty value included', () => {
    expect(matchesSelector({ legacy: '' }, { matchExpressions: [{ key: 'legacy', operator: 'Exists' }] })).toBe(true);
    expect(matchesSelector({}, { matchExpressions: [{ key: 'legacy', operator: 'Exists' }] })).toBe(false);
    expect(matchesSelector({}, { matchExpressions: [{ key: 'legacy', operator: 'DoesNotExist' }] })).toBe(true);
    expect(matchesSelector({ legacy: '' }, { matchExpressions: [{ key: 'legacy', operator: 'DoesNotExist' }] })).toBe(
      false,
    );
  });

  it('ANDs matchLabels and every expression', () => {
    const sel = {
      matchLabels: { env: 'prod' },
      matchExpressions: [
        { key: 'region', operator: 'In' as const, values: ['us-east-1'] },
        { key: 'team', operator: 'NotIn' as const, values: ['search'] },
        { key: 'frozen', operator: 'DoesNotExist' as const },
      ],
    };
    expect(matchesSelector(labels, sel)).toBe(true);
    expect(matchesSelector({ ...labels, frozen: 'true' }, sel)).toBe(false);
    expect(matchesSelector({ ...labels, team: 'search' }, sel)).toBe(false);
  });

  it('does not see inherited object properties as labels', () => {
    expect(matchesSelector({}, { matchExpressions: [{ key: 'constructor', operator: 'Exists' }] })).toBe(false);
    expect(matchesSelector({}, { matchLabels: { toString: 'x' } })).toBe(false);
  });
});

describe('describeSelector', () => {
  it('renders kubectl syntax', () => {
    expect(
      describeSelector({
        matchLabels: { env: 'prod' },
        matchExpressions: [
          { key: 'region', operator: 'In', values: ['us-east-1', 'eu-west-1'] },
          { key: 'team', operator: 'NotIn', values: ['search'] },
          { key: 'canary', operator: 'Exists' },
          { key: 'frozen', operator: 'DoesNotExist' },
        ],
      }),
    ).toBe('env=prod,region in (us-east-1,eu-west-1),team notin (search),canary,!frozen');
  });

  it('renders an empty selector as (all)', () => {
    expect(describeSelector()).toBe('(all)');
    expect(describeSelector({ matchLabels: {} })).toBe('(all)');
    expect(isEmptySelector({ matchExpressions: [] })).toBe(true);
    expect(isEmptySelector({ matchLabels: { a: 'b' } })).toBe(false);
  });
});
