import { describe, expect, it } from 'vitest';
import {
  AMI_TYPES,
  NODEGROUP_ROLLBACK_SOURCES,
  irreversibleNodegroupReason,
  nodegroupReversibility,
} from '../../domain/node-models';

describe('nodegroupReversibility (the node-group rollback rule)', () => {
  it('a custom AMI named by a launch template goes back by the previous launch-template version', () => {
    const rule = nodegroupReversibility({ amiType: 'CUSTOM', launchTemplate: { name: 'lt', version: '3' } });
    expect(rule).toMatchObject({ reversible: true, how: 'previous launch-template version' });
    expect(rule.source).toBe(NODEGROUP_ROLLBACK_SOURCES.launchTemplates);
  });

  it('every amiType EKS picks the AMI for is irreversible, with or without a launch template', () => {
    for (const amiType of AMI_TYPES.filter((t) => t !== 'CUSTOM')) {
      for (const launchTemplate of [undefined, { name: 'lt', version: '2' }]) {
        const rule = nodegroupReversibility({ amiType, launchTemplate });
        expect(rule.reversible).toBe(false);
        expect(rule.how).toBeUndefined();
        expect(rule.why).toContain(amiType);
        expect(rule.source).toBe(NODEGROUP_ROLLBACK_SOURCES.apiReference);
      }
    }
    expect(nodegroupReversibility({ amiType: 'BOTTLEROCKET_ARM_64', launchTemplate: { version: '2' } }).why).toContain(
      'an earlier launch-template version without an image changes neither',
    );
  });

  it('an unknown amiType is EKS’s default, and CUSTOM without a launch template has nothing to go back to', () => {
    expect(nodegroupReversibility({}).why).toContain('AL2023_x86_64_STANDARD');
    expect(nodegroupReversibility({ amiType: 'CUSTOM' }).reversible).toBe(false);
  });

  it('the kept reason names the node group, where it stays, why and the source', () => {
    const rule = nodegroupReversibility({ amiType: 'AL2023_ARM_64_STANDARD' });
    expect(irreversibleNodegroupReason('arm', '1.31 (1.31.2-20250101)', rule)).toBe(
      'node group arm stays at 1.31 (1.31.2-20250101): EKS picks its AL2023_ARM_64_STANDARD AMI, and EKS cannot roll a node group back to an earlier Kubernetes or AMI version (Amazon EKS API Reference: UpdateNodegroupVersion)',
    );
  });
});
