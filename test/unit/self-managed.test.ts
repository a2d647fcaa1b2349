/** The pure rules of self-managed node groups (domain/self-managed.ts). */
import { describe, expect, it } from 'vitest';
import { AMI_TYPES } from '../../domain/node-models';
import {
  amiTypeOfEksAmiName,
  eksAmiName,
  isSelfManagedGroupOf,
  pdbOfEvictionRefusal,
  selfManagedRollbackPath,
} from '../../domain/self-managed';

describe('self-managed node groups', () => {
  it('belong to a cluster by kubernetes.io/cluster/<name> or eks:cluster-name, never a managed node group', () => {
    expect(isSelfManagedGroupOf('prod', { 'kubernetes.io/cluster/prod': 'owned' })).toBe(true);
    expect(isSelfManagedGroupOf('prod', { 'kubernetes.io/cluster/prod': 'shared' })).toBe(true);
    expect(isSelfManagedGroupOf('prod', { 'eks:cluster-name': 'prod' })).toBe(true);
    expect(isSelfManagedGroupOf('prod', { 'kubernetes.io/cluster/other': 'owned' })).toBe(false);
    expect(isSelfManagedGroupOf('prod', { 'eks:cluster-name': 'prod', 'eks:nodegroup-name': 'ng-1' })).toBe(false);
  });

  it('roll back with RollbackInstanceRefresh only where AWS allows it, else forward (and why)', () => {
    const ok = { status: 'InProgress', hasDesiredConfiguration: true, groupVersion: '3', previousImageId: 'ami-0abc' };
    expect(selfManagedRollbackPath(ok)).toEqual({ how: 'rollback' });
    expect(selfManagedRollbackPath({ ...ok, status: 'Successful' })).toMatchObject({ how: 'forward' });
    expect(selfManagedRollbackPath({ ...ok, hasDesiredConfiguration: false })).toMatchObject({ how: 'forward' });
    expect(selfManagedRollbackPath({ ...ok, groupVersion: '$Latest' })).toMatchObject({
      how: 'forward',
      reason: 'the group uses launch-template version $Latest',
    });
    expect(selfManagedRollbackPath({ ...ok, previousImageId: 'resolve:ssm:/aws/service/x' })).toMatchObject({
      how: 'forward',
    });
  });

  it('tells the family of an EKS optimized or Bottlerocket AMI from its name (the inverse of eksAmiName)', () => {
    const linux = AMI_TYPES.filter((t) => !t.startsWith('WINDOWS') && t !== 'CUSTOM');
    for (const amiType of linux) {
      const release = amiType.startsWith('BOTTLEROCKET') ? '1.34.0-18d04e52' : '1.31.5-20250304';
      const name = eksAmiName(amiType, '1.31', release) as string;
      expect([amiType, amiTypeOfEksAmiName(name)]).toEqual([amiType, amiType]);
    }
    expect(eksAmiName('AL2023_x86_64_STANDARD', '1.31', '1.31.5-20250304')).toBe(
      'amazon-eks-node-al2023-x86_64-standard-1.31-v20250304',
    );
    expect(amiTypeOfEksAmiName('acme-eks-1.31-x86_64-20250115')).toBeUndefined();
  });

  it('reads the PodDisruptionBudget from the Eviction API refusal', () => {
    const body = {
      kind: 'Status',
      details: {
        causes: [
          {
            reason: 'DisruptionBudget',
            message: 'The disruption budget payments-api needs 2 healthy pods and has 2 currently',
          },
        ],
      },
    };
    expect(pdbOfEvictionRefusal(body)).toBe('payments-api');
    expect(pdbOfEvictionRefusal(JSON.stringify(body))).toBe('payments-api');
    expect(pdbOfEvictionRefusal({})).toBeUndefined();
  });
});
