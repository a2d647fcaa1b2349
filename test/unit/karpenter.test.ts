/**
 * domain/karpenter.ts: the compatibility matrix, the SSM parameters of a pinned alias, the terms the
 * node step sets, and the terms a release leaves for each ending.
 */
import { describe, expect, it } from 'vitest';
import {
  aliasParameters,
  compareSemver,
  karpenterSupports,
  parseAlias,
  pinnedAliasVersion,
  targetTerms,
  termsOnExit,
} from '../../domain/karpenter';

describe('karpenterSupports (karpenter.sh/docs/upgrading/compatibility/)', () => {
  it('accepts a controller at or above the minimum of every minor on the path', () => {
    expect(karpenterSupports('1.5.0', ['1.32', '1.33'])).toEqual({ ok: true });
    expect(karpenterSupports('1.0.5', ['1.31'])).toEqual({ ok: true });
  });

  it('names the version to install for the first minor it does not support', () => {
    const r = karpenterSupports('1.2.3', ['1.32', '1.33']);
    expect(r).toMatchObject({ ok: false });
    expect(!r.ok && r.reason).toContain(
      'Karpenter 1.2.3 does not support Kubernetes 1.33: upgrade the Karpenter controller to 1.5.0',
    );
    expect(karpenterSupports('1.0.4', ['1.31']).ok).toBe(false);
  });

  it('refuses a minor its table does not cover rather than guessing', () => {
    const r = karpenterSupports('9.0.0', ['1.40']);
    expect(!r.ok && r.reason).toContain('does not know which Karpenter supports Kubernetes 1.40');
  });

  it('compares versions numerically', () => {
    expect(compareSemver('1.10.0', '1.9.0')).toBe(1);
    expect(compareSemver('v1.0.5', '1.0.5')).toBe(0);
    expect(compareSemver('0.37.0', '1.0.5')).toBe(-1);
  });
});

describe('aliases', () => {
  it('parses family@version', () => {
    expect(parseAlias('al2023@v20250101')).toEqual({ family: 'al2023', version: 'v20250101' });
    expect(parseAlias('bottlerocket@latest')).toEqual({ family: 'bottlerocket', version: 'latest' });
    expect(parseAlias('al2023')).toBeUndefined();
  });

  it('lists the SSM parameters Karpenter reads for a pinned version under a minor (al2023.go resolvePath)', () => {
    const params = aliasParameters('al2023@v20250101', '1.32') ?? [];
    expect(params[0]).toBe(
      '/aws/service/eks/optimized-ami/1.32/amazon-linux-2023/x86_64/standard/amazon-eks-node-al2023-x86_64-standard-1.32-v20250101/image_id',
    );
    expect(params).toHaveLength(5);
    expect(aliasParameters('bottlerocket@v1.26.1', '1.32')).toContain(
      '/aws/service/bottlerocket/aws-k8s-1.32/x86_64/1.26.1/image_id',
    );
    expect(aliasParameters('al2023@latest', '1.32')).toBeUndefined();
  });
});

describe('targetTerms', () => {
  const pinned = {
    AL2023_x86_64_STANDARD: { '1.31': '1.31.5-20250301' },
    BOTTLEROCKET_x86_64: { '1.31': '1.33.0-abcdef12' },
  };

  it('an @latest alias takes the version the campaign pinned for its family and the target minor', () => {
    expect(pinnedAliasVersion('al2023', pinned, '1.31')).toBe('v20250301');
    expect(pinnedAliasVersion('bottlerocket', pinned, '1.31')).toBe('v1.33.0');
    const [al, br] = targetTerms(
      [
        { name: 'a', terms: [{ alias: 'al2023@latest' }], amis: [] },
        { name: 'b', terms: [{ alias: 'bottlerocket@latest' }], amis: [] },
      ],
      pinned,
      '1.31',
    );
    expect(al?.to).toEqual([{ alias: 'al2023@v20250301' }]);
    expect(br?.to).toEqual([{ alias: 'bottlerocket@v1.33.0' }]);
  });

  it('a pinned alias version, custom AMIs and a family without a pin keep the user terms', () => {
    const classes = [
      { name: 'p', terms: [{ alias: 'al2023@v20240807' }], amis: [] },
      { name: 'c', terms: [{ id: 'ami-0123' }, { tags: { team: 'ml' } }], amis: [] },
      { name: 'w', terms: [{ alias: 'windows2022@latest' }], amis: [] },
    ];
    for (const t of targetTerms(classes, pinned, '1.31')) expect(t.to).toEqual(t.from);
    expect(
      targetTerms([{ name: 'x', terms: [{ alias: 'al2023@latest' }], amis: [] }], undefined, '1.31')[0]?.to,
    ).toEqual([{ alias: 'al2023@latest' }]);
  });
});

describe('termsOnExit', () => {
  const base = { rolledBack: false, hopsDone: true, controlPlaneBack: false, nodeStepStarted: false };
  it('keeps the target once the node step started, otherwise the user terms', () => {
    expect(termsOnExit({ ...base, nodeStepStarted: true })).toBe('keep');
    expect(termsOnExit(base)).toBe('original');
  });
  it('a rollback goes back to the pinned AMIs while the control plane stays on the new minor', () => {
    expect(termsOnExit({ ...base, rolledBack: true, nodeStepStarted: true })).toBe('pinned');
    expect(termsOnExit({ ...base, rolledBack: true, controlPlaneBack: true })).toBe('original');
    expect(termsOnExit({ ...base, rolledBack: true, hopsDone: false })).toBe('original');
  });
});
