/**
 * Self-managed node groups in the simulator through the unmodified @aws-sdk/client-auto-scaling
 * and @aws-sdk/client-ec2: the Auto Scaling group and its tags, an instance refresh to a new
 * launch-template version with checkpoints and a termination lifecycle hook, cancel and rollback
 * with AWS's error codes (the SDK names them `<Code>Fault`), and the nodes the instances put in the Kubernetes API.
 */
import {
  AutoScalingClient,
  CancelInstanceRefreshCommand,
  CompleteLifecycleActionCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeInstanceRefreshesCommand,
  DescribeLifecycleHooksCommand,
  PutLifecycleHookCommand,
  RecordLifecycleActionHeartbeatCommand,
  RollbackInstanceRefreshCommand,
  StartInstanceRefreshCommand,
} from '@aws-sdk/client-auto-scaling';
import { CreateLaunchTemplateVersionCommand, EC2Client } from '@aws-sdk/client-ec2';
import { DescribeClusterCommand } from '@aws-sdk/client-eks';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import type { ClusterInventory } from '../../domain/fleet';
import { amiImageIdOf, releasesOf } from '../../simulator/ami-catalogue';
import { findCluster, startSimulator, type Simulator } from '../../simulator/index';
import { credentials, eksClient, eksToken, errorName, kubeConfig } from './helpers';

const AMI_131 = amiImageIdOf(
  'AL2023_x86_64_STANDARD',
  '1.31',
  releasesOf('AL2023_x86_64_STANDARD', '1.31')[0] ?? '',
  'us-east-1',
);

function fleet(): ClusterInventory[] {
  return [
    {
      name: 'legacy',
      region: 'us-east-1',
      account: '111111111111',
      labels: {},
      version: '1.31',
      nodegroups: [],
      addons: [],
      pdbs: [],
      selfManagedGroups: [{ name: 'legacy-workers', version: '1.30', nodes: 4, managedBy: 'terraform' }],
    },
  ];
}

let sim: Simulator | undefined;
afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});

async function start() {
  sim = await startSimulator({ fleet: fleet(), port: 0, seed: 5, timeScale: 1 });
  const asg = new AutoScalingClient({ endpoint: sim.url, region: 'us-east-1', credentials });
  const ec2 = new EC2Client({ endpoint: sim.url, region: 'us-east-1', credentials });
  return { sim, asg, ec2 };
}

async function newVersion(ec2: EC2Client): Promise<string> {
  const { LaunchTemplateVersion } = await ec2.send(
    new CreateLaunchTemplateVersionCommand({
      LaunchTemplateName: 'legacy-legacy-workers',
      SourceVersion: '1',
      LaunchTemplateData: { ImageId: AMI_131 },
    }),
  );
  return String(LaunchTemplateVersion?.VersionNumber);
}

async function group(asg: AutoScalingClient) {
  const out = await asg.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ['legacy-workers'] }));
  return out.AutoScalingGroups?.[0];
}

async function refreshStatus(asg: AutoScalingClient) {
  const out = await asg.send(new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: 'legacy-workers' }));
  return out.InstanceRefreshes?.[0];
}

describe('EC2 Auto Scaling (self-managed node groups)', () => {
  it('describes the group with its tags, launch template and instances, found by the cluster tag', async () => {
    const { asg } = await start();
    const out = await asg.send(
      new DescribeAutoScalingGroupsCommand({
        Filters: [{ Name: 'tag:kubernetes.io/cluster/legacy', Values: ['owned'] }],
      }),
    );
    const g = out.AutoScalingGroups?.[0];
    expect(out.AutoScalingGroups).toHaveLength(1);
    expect(g?.LaunchTemplate).toMatchObject({ LaunchTemplateName: 'legacy-legacy-workers', Version: '1' });
    expect(g?.Tags?.map((t) => [t.Key, t.Value])).toEqual(
      expect.arrayContaining([
        ['kubernetes.io/cluster/legacy', 'owned'],
        ['Terraform', 'true'],
      ]),
    );
    expect(g?.Instances).toHaveLength(4);
    expect(g?.Instances?.[0]).toMatchObject({ LifecycleState: 'InService', HealthStatus: 'Healthy' });
    expect(g?.Instances?.[0]?.LaunchTemplate?.Version).toBe('1');
    expect(await errorName(asg.send(new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: 'nope' })))).toBe(
      'ValidationError',
    );
  });

  it('refreshes to a new version: instances wait in Terminating:Wait for the hook, nodes follow the AMI', async () => {
    const { sim, asg, ec2 } = await start();
    const version = await newVersion(ec2);
    await asg.send(
      new PutLifecycleHookCommand({
        AutoScalingGroupName: 'legacy-workers',
        LifecycleHookName: 'drain',
        LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
        HeartbeatTimeout: 600,
        DefaultResult: 'CONTINUE',
      }),
    );
    expect(
      (await asg.send(new DescribeLifecycleHooksCommand({ AutoScalingGroupName: 'legacy-workers' })))
        .LifecycleHooks?.[0],
    ).toMatchObject({
      LifecycleHookName: 'drain',
      HeartbeatTimeout: 600,
      GlobalTimeout: 60000,
    });
    const started = await asg.send(
      new StartInstanceRefreshCommand({
        AutoScalingGroupName: 'legacy-workers',
        DesiredConfiguration: { LaunchTemplate: { LaunchTemplateName: 'legacy-legacy-workers', Version: version } },
        Preferences: {
          MinHealthyPercentage: 75,
          CheckpointPercentages: [50, 100],
          CheckpointDelay: 60,
          SkipMatching: true,
        },
      }),
    );
    expect(started.InstanceRefreshId).toBeTruthy();
    expect(await errorName(asg.send(new StartInstanceRefreshCommand({ AutoScalingGroupName: 'legacy-workers' })))).toBe(
      'InstanceRefreshInProgressFault',
    );

    // 75% of 4 in service: one instance at a time, and it waits for the hook.
    let g = await group(asg);
    const waiting = g?.Instances?.filter((i) => i.LifecycleState === 'Terminating:Wait') ?? [];
    expect(waiting).toHaveLength(1);
    sim.advance(300_000);
    g = await group(asg);
    expect(g?.Instances?.filter((i) => i.LifecycleState === 'Terminating:Wait')).toHaveLength(1);
    await asg.send(
      new RecordLifecycleActionHeartbeatCommand({
        AutoScalingGroupName: 'legacy-workers',
        LifecycleHookName: 'drain',
        InstanceId: waiting[0]?.InstanceId,
      }),
    );

    // Complete each waiting action until the refresh ends; the checkpoint pauses it at 50%.
    const completed: string[] = [];
    let sawCheckpoint = false;
    for (let round = 0; round < 40; round++) {
      const r = await refreshStatus(asg);
      if (r?.Status === 'Successful') break;
      if (r?.StatusReason?.includes('checkpoint')) sawCheckpoint = true;
      for (const i of (await group(asg))?.Instances ?? []) {
        if (i.LifecycleState !== 'Terminating:Wait' || completed.includes(i.InstanceId ?? '')) continue;
        completed.push(i.InstanceId ?? '');
        await asg.send(
          new CompleteLifecycleActionCommand({
            AutoScalingGroupName: 'legacy-workers',
            LifecycleHookName: 'drain',
            InstanceId: i.InstanceId,
            LifecycleActionResult: 'CONTINUE',
          }),
        );
      }
      sim.advance(60_000);
    }
    const done = await refreshStatus(asg);
    expect(done).toMatchObject({ Status: 'Successful', PercentageComplete: 100, InstancesToUpdate: 0 });
    expect(sawCheckpoint).toBe(true);
    expect(completed).toHaveLength(4);
    g = await group(asg);
    expect(g?.LaunchTemplate?.Version).toBe(version);
    expect(g?.Instances?.map((i) => i.LaunchTemplate?.Version)).toEqual([version, version, version, version]);
    expect(
      await errorName(
        asg.send(
          new CompleteLifecycleActionCommand({
            AutoScalingGroupName: 'legacy-workers',
            LifecycleHookName: 'drain',
            InstanceId: completed[0],
            LifecycleActionResult: 'CONTINUE',
          }),
        ),
      ),
    ).toBe('ValidationError');

    sim.advance(300_000);
    const eks = eksClient(sim);
    const { cluster } = await eks.send(new DescribeClusterCommand({ name: 'legacy' }));
    const core = kubeConfig(
      cluster?.endpoint as string,
      await eksToken('legacy'),
      cluster?.certificateAuthority?.data as string,
    ).makeApiClient(CoreV1Api);
    const nodes = (await core.listNode()).items;
    expect(nodes).toHaveLength(4);
    for (const n of nodes) {
      expect(n.metadata?.name).toMatch(/^ip-[\d-]+\.ec2\.internal$/);
      expect(n.status?.nodeInfo?.kubeletVersion).toMatch(/^v1\.31\./);
      expect(n.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    }
    const state = findCluster(sim.state('legacy'), 'legacy');
    expect(state?.autoScalingGroups?.[0]?.terminations.map((t) => t.via)).toEqual(Array(4).fill('lifecycle-action'));
  });

  it('terminates a waiting instance at the heartbeat timeout: the hook holds it only that long', async () => {
    const { sim, asg, ec2 } = await start();
    const version = await newVersion(ec2);
    await asg.send(
      new PutLifecycleHookCommand({
        AutoScalingGroupName: 'legacy-workers',
        LifecycleHookName: 'drain',
        LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
        HeartbeatTimeout: 120,
      }),
    );
    await asg.send(
      new StartInstanceRefreshCommand({
        AutoScalingGroupName: 'legacy-workers',
        DesiredConfiguration: { LaunchTemplate: { LaunchTemplateName: 'legacy-legacy-workers', Version: version } },
        Preferences: { MinHealthyPercentage: 75, SkipMatching: true },
      }),
    );
    sim.advance(121_000);
    const state = findCluster(sim.state('legacy'), 'legacy');
    expect(state?.autoScalingGroups?.[0]?.terminations[0]).toMatchObject({ via: 'heartbeat-timeout', cordoned: false });
    expect(state?.autoScalingGroups?.[0]?.terminations[0]?.podsLeft).toBeGreaterThan(0);
  });

  it('rolls back only an active refresh started with a desired configuration; cancel needs an active one', async () => {
    const { sim, asg, ec2 } = await start();
    const version = await newVersion(ec2);
    await asg.send(
      new StartInstanceRefreshCommand({
        AutoScalingGroupName: 'legacy-workers',
        Preferences: { MinHealthyPercentage: 50 },
      }),
    );
    expect(
      await errorName(asg.send(new RollbackInstanceRefreshCommand({ AutoScalingGroupName: 'legacy-workers' }))),
    ).toBe('IrreversibleInstanceRefreshFault');
    await asg.send(new CancelInstanceRefreshCommand({ AutoScalingGroupName: 'legacy-workers' }));
    sim.advance(600_000);
    expect((await refreshStatus(asg))?.Status).toBe('Cancelled');
    expect(
      await errorName(asg.send(new CancelInstanceRefreshCommand({ AutoScalingGroupName: 'legacy-workers' }))),
    ).toBe('ActiveInstanceRefreshNotFoundFault');

    await asg.send(
      new StartInstanceRefreshCommand({
        AutoScalingGroupName: 'legacy-workers',
        DesiredConfiguration: { LaunchTemplate: { LaunchTemplateName: 'legacy-legacy-workers', Version: version } },
        Preferences: {
          MinHealthyPercentage: 50,
          CheckpointPercentages: [50, 100],
          CheckpointDelay: 3600,
          SkipMatching: true,
        },
      }),
    );
    sim.advance(600_000);
    const atCheckpoint = await group(asg);
    expect(atCheckpoint?.Instances?.filter((i) => i.LaunchTemplate?.Version === version)).toHaveLength(2);
    await asg.send(new RollbackInstanceRefreshCommand({ AutoScalingGroupName: 'legacy-workers' }));
    expect((await refreshStatus(asg))?.Status).toBe('RollbackInProgress');
    sim.advance(1_200_000);
    expect((await refreshStatus(asg))?.Status).toBe('RollbackSuccessful');
    const g = await group(asg);
    expect(g?.LaunchTemplate?.Version).toBe('1');
    expect(g?.Instances?.every((i) => i.LaunchTemplate?.Version === '1')).toBe(true);
    expect(
      await errorName(asg.send(new RollbackInstanceRefreshCommand({ AutoScalingGroupName: 'legacy-workers' }))),
    ).toBe('ActiveInstanceRefreshNotFoundFault');
  });
});
