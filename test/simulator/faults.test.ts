/**
 * The degrade-after-upgrade fault, end to end through the real SDK and the exposition: a
 * cluster's workload error ratio rises once UpdateNodegroupVersion brings every node to the
 * fault's version, and falls back when the node group (or an add-on) is rolled back.
 */
import {
  DescribeNodegroupCommand,
  UpdateAddonCommand,
  UpdateNodegroupVersionCommand,
  type EKSClient,
} from '@aws-sdk/client-eks';
import { CreateLaunchTemplateVersionCommand, DescribeImagesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { afterEach, describe, expect, it } from 'vitest';
import { parseFleet } from '../../domain/load';
import { startSimulator, type Simulator } from '../../simulator/index';
import { awaitUpdate, credentials, eksClient } from './helpers';

/** The fleet; `customAmi` gives canary's node group a launch template that names its own AMI. */
const fleetYaml = (customAmi: boolean) => `
apiVersion: fleetwave.io/v1alpha1
kind: Fleet
clusters:
  - name: canary
    region: us-west-2
    account: "123456789012"
    labels: { env: prod }
    version: "1.31"
    nodegroups:
      - name: general
        version: "1.30"
        nodes: 3
        maxUnavailable: 1
        ${customAmi ? 'launchTemplate: { name: canary-general, version: "1", imageId: ami-0c0ffee0c0ffee001 }' : ''}
    addons:
      - { name: coredns, version: v1.11.4-eksbuild.2 }
    faults:
      degradeAtVersion: "1.31"
  - name: bystander
    region: us-west-2
    account: "123456789012"
    version: "1.31"
    nodegroups:
      - { name: general, version: "1.30", nodes: 2 }
`;

let sim: Simulator | undefined;
afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});

async function errorRatio(s: Simulator, cluster: string): Promise<number> {
  const text = await (await fetch(`${s.url}/metrics`)).text();
  const match = new RegExp(
    `^fleetwave_sim_workload_error_ratio\\{cluster="${cluster}",region="[^"]+"\\} (\\S+)$`,
    'm',
  ).exec(text);
  if (!match) throw new Error(`no error ratio for ${cluster}`);
  return Number(match[1]);
}

async function updateAndWait(
  eks: EKSClient,
  input: { clusterName: string; nodegroupName: string; launchTemplate?: { name: string; version: string } },
) {
  const { update } = await eks.send(new UpdateNodegroupVersionCommand(input));
  return awaitUpdate(eks, { name: input.clusterName, nodegroupName: input.nodegroupName }, update?.id as string);
}

describe('degrade-after-upgrade fault', () => {
  it('raises the error ratio after UpdateNodegroupVersion completes and lowers it after the rollback', async () => {
    const parsed = parseFleet(fleetYaml(true));
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
    sim = await startSimulator({ fleet: parsed.value, port: 0, timeScale: 1500, seed: 5 });
    const eks = eksClient(sim, 'us-west-2');
    const ng = { clusterName: 'canary', nodegroupName: 'general' };

    const healthy = await errorRatio(sim, 'canary');
    expect(healthy).toBeGreaterThanOrEqual(0.001);
    expect(healthy).toBeLessThan(0.004);
    const bystander = await errorRatio(sim, 'bystander');

    // A custom-AMI node group moves by launch-template version: version 2 names a 1.31 image.
    const ec2 = new EC2Client({ endpoint: sim.url, region: 'us-west-2', credentials });
    const images = await ec2.send(
      new DescribeImagesCommand({ Owners: ['self'], Filters: [{ Name: 'name', Values: ['acme-eks-1.31-x86_64-*'] }] }),
    );
    await ec2.send(
      new CreateLaunchTemplateVersionCommand({
        LaunchTemplateName: 'canary-general',
        SourceVersion: '1',
        LaunchTemplateData: { ImageId: images.Images?.[0]?.ImageId },
      }),
    );
    const { update } = await eks.send(
      new UpdateNodegroupVersionCommand({ ...ng, launchTemplate: { name: 'canary-general', version: '2' } }),
    );
    // While nodes are still being replaced, not every node runs 1.31 yet.
    expect(await errorRatio(sim, 'canary')).toBe(healthy);
    expect((await awaitUpdate(eks, { name: 'canary', nodegroupName: 'general' }, update?.id as string)).status).toBe(
      'Successful',
    );
    const degraded = await errorRatio(sim, 'canary');
    expect(degraded).toBeGreaterThanOrEqual(0.05);
    expect(sim.state('canary').clusters[0]?.workload.degraded).toBe(true);
    expect(await errorRatio(sim, 'bystander')).toBe(bystander);

    // Roll back: point the node group at the launch-template version it had before.
    const { nodegroup } = await eks.send(new DescribeNodegroupCommand(ng));
    expect(nodegroup?.launchTemplate).toMatchObject({ name: 'canary-general', version: '2' });
    const rollback = await updateAndWait(eks, { ...ng, launchTemplate: { name: 'canary-general', version: '1' } });
    expect(rollback.status).toBe('Successful');
    expect((await eks.send(new DescribeNodegroupCommand(ng))).nodegroup?.version).toBe('1.30');
    expect(await errorRatio(sim, 'canary')).toBe(healthy);
  });

  it('also recovers when an add-on is rolled back, and degrades again when it is upgraded', async () => {
    const parsed = parseFleet(fleetYaml(false));
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
    sim = await startSimulator({ fleet: parsed.value, port: 0, timeScale: 1500, seed: 5 });
    const eks = eksClient(sim, 'us-west-2');
    expect((await updateAndWait(eks, { clusterName: 'canary', nodegroupName: 'general' })).status).toBe('Successful');
    const degraded = await errorRatio(sim, 'canary');
    expect(degraded).toBeGreaterThanOrEqual(0.05);

    const addon = async (addonVersion: string) => {
      const { update } = await eks.send(
        new UpdateAddonCommand({ clusterName: 'canary', addonName: 'coredns', addonVersion }),
      );
      return awaitUpdate(eks, { name: 'canary', addonName: 'coredns' }, update?.id as string);
    };
    expect((await addon('v1.11.3-eksbuild.1')).status).toBe('Successful');
    expect(await errorRatio(sim, 'canary')).toBeLessThan(0.004);
    expect((await addon('v1.11.4-eksbuild.2')).status).toBe('Successful');
    expect(await errorRatio(sim, 'canary')).toBe(degraded);
  });
});
