/**
 * EC2 Auto Scaling on the simulator's port, in the AWS Query protocol that
 * @aws-sdk/client-auto-scaling speaks (a form body `Action=…&Version=2011-01-01`, lists as
 * `Name.member.N`, XML answers `<ActionResponse><ActionResult>…` in the 2011-01-01 namespace, errors
 * as `<ErrorResponse><Error><Type>Sender</Type><Code>…`): the Auto Scaling groups of self-managed
 * node groups, their instance refreshes and lifecycle hooks (model/asg.ts has the rules and sources).
 *
 * - DescribeAutoScalingGroups (AutoScalingGroupNames.member.N, Filters `tag-key`, `tag-value`,
 *   `tag:<key>`; instances with lifecycle state, health and launch-template version)
 * - StartInstanceRefresh, DescribeInstanceRefreshes, CancelInstanceRefresh, RollbackInstanceRefresh
 * - PutLifecycleHook, DescribeLifecycleHooks, DeleteLifecycleHook, CompleteLifecycleAction,
 *   RecordLifecycleActionHeartbeat
 *
 * Sources: Amazon EC2 Auto Scaling API Reference, each action's page and "Common errors"; error
 * codes and messages as the service sends them (ValidationError, InstanceRefreshInProgress,
 * ActiveInstanceRefreshNotFound, IrreversibleInstanceRefresh, ResourceContention).
 */
import type { AwsResponse } from './aws-misc';
import type { SimCluster, SimFleet } from './model';
import {
  ACTIVE_REFRESH,
  activeRefresh,
  advanceAsg,
  completeAction,
  heartbeat,
  imageOfVersion,
  nudgeRefresh,
  resolveVersion,
  type AsgRefresh,
  type SimAsg,
} from './model/asg';
import { uuidOf } from './random';

const NS = 'http://autoscaling.amazonaws.com/doc/2011-01-01/';

const esc = (v: string) =>
  v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
const iso = (ms: number) => new Date(ms).toISOString();

class AsgError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

const validation = (message: string) => new AsgError('ValidationError', message);

/** `Prefix.member.1`, `Prefix.member.2`, … in index order. */
function members(form: URLSearchParams, prefix: string): string[] {
  const out: [number, string][] = [];
  const re = new RegExp(`^${prefix.replace(/\./g, '\\.')}\\.member\\.(\\d+)$`);
  for (const [k, v] of form) {
    const m = re.exec(k);
    if (m) out.push([Number(m[1]), v]);
  }
  return out.sort((a, b) => a[0] - b[0]).map(([, v]) => v);
}

function int(form: URLSearchParams, key: string): number | undefined {
  const v = form.get(key);
  if (v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n))
    throw validation(`Value '${v}' at '${key}' failed to satisfy constraint: Member must be an integer`);
  return n;
}

function renderAsg(asg: SimAsg): string {
  const instances = asg.instances
    .filter((i) => i.state !== 'Terminated')
    .map(
      (i) =>
        `<member><InstanceId>${i.id}</InstanceId><InstanceType>m6i.large</InstanceType><AvailabilityZone>${asg.region}a</AvailabilityZone><LifecycleState>${i.state}</LifecycleState><HealthStatus>Healthy</HealthStatus><LaunchTemplate><LaunchTemplateId>${asg.template.id}</LaunchTemplateId><LaunchTemplateName>${esc(asg.template.name)}</LaunchTemplateName><Version>${i.ltVersion}</Version></LaunchTemplate><ProtectedFromScaleIn>false</ProtectedFromScaleIn></member>`,
    )
    .join('');
  const tags = Object.entries(asg.tags)
    .map(
      ([k, v]) =>
        `<member><ResourceId>${esc(asg.name)}</ResourceId><ResourceType>auto-scaling-group</ResourceType><Key>${esc(k)}</Key><Value>${esc(v)}</Value><PropagateAtLaunch>true</PropagateAtLaunch></member>`,
    )
    .join('');
  return `<member><AutoScalingGroupName>${esc(asg.name)}</AutoScalingGroupName><AutoScalingGroupARN>${asg.arn}</AutoScalingGroupARN><LaunchTemplate><LaunchTemplateId>${asg.template.id}</LaunchTemplateId><LaunchTemplateName>${esc(asg.template.name)}</LaunchTemplateName><Version>${esc(asg.version)}</Version></LaunchTemplate><MinSize>${asg.min}</MinSize><MaxSize>${asg.max}</MaxSize><DesiredCapacity>${asg.desired}</DesiredCapacity><DefaultCooldown>300</DefaultCooldown><AvailabilityZones><member>${asg.region}a</member></AvailabilityZones><HealthCheckType>EC2</HealthCheckType><HealthCheckGracePeriod>${asg.healthCheckGracePeriod}</HealthCheckGracePeriod><Instances>${instances}</Instances><CreatedTime>${iso(asg.createdAt)}</CreatedTime><Tags>${tags}</Tags><TerminationPolicies><member>Default</member></TerminationPolicies><NewInstancesProtectedFromScaleIn>false</NewInstancesProtectedFromScaleIn><ServiceLinkedRoleARN>arn:aws:iam::${asg.account}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling</ServiceLinkedRoleARN><CapacityRebalance>false</CapacityRebalance></member>`;
}

function renderRefresh(asg: SimAsg, r: AsgRefresh): string {
  const pct = r.toUpdate === 0 ? 100 : Math.min(100, Math.floor((r.replaced * 100) / r.toUpdate));
  const prefs = `<Preferences><MinHealthyPercentage>${r.minHealthy}</MinHealthyPercentage><InstanceWarmup>${r.warmupS}</InstanceWarmup>${r.checkpoints.length > 0 ? `<CheckpointPercentages>${r.checkpoints.map((c) => `<member>${c}</member>`).join('')}</CheckpointPercentages><CheckpointDelay>${r.checkpointDelayS}</CheckpointDelay>` : ''}<SkipMatching>${r.skipMatching}</SkipMatching><AutoRollback>${r.autoRollback}</AutoRollback><ScaleInProtectedInstances>Ignore</ScaleInProtectedInstances><StandbyInstances>Ignore</StandbyInstances></Preferences>`;
  const desired = r.desired
    ? `<DesiredConfiguration><LaunchTemplate><LaunchTemplateId>${r.desired.templateId}</LaunchTemplateId><LaunchTemplateName>${esc(r.desired.templateName)}</LaunchTemplateName><Version>${esc(r.desired.version)}</Version></LaunchTemplate></DesiredConfiguration>`
    : '';
  const rollback = r.rollback
    ? `<RollbackDetails><RollbackReason>${esc(r.rollback.reason)}</RollbackReason><RollbackStartTime>${iso(r.rollback.startedAt)}</RollbackStartTime><PercentageCompleteOnRollback>${pct}</PercentageCompleteOnRollback><InstancesToUpdateOnRollback>${Math.max(0, r.rollback.toUpdate - r.rollback.replaced)}</InstancesToUpdateOnRollback></RollbackDetails>`
    : '';
  return `<member><InstanceRefreshId>${r.id}</InstanceRefreshId><AutoScalingGroupName>${esc(asg.name)}</AutoScalingGroupName><Status>${r.status}</Status>${r.statusReason ? `<StatusReason>${esc(r.statusReason)}</StatusReason>` : ''}<StartTime>${iso(r.startedAt)}</StartTime>${r.endedAt !== undefined ? `<EndTime>${iso(r.endedAt)}</EndTime>` : ''}<PercentageComplete>${pct}</PercentageComplete><InstancesToUpdate>${Math.max(0, r.toUpdate - r.replaced)}</InstancesToUpdate><ProgressDetails><LivePoolProgress><PercentageComplete>${pct}</PercentageComplete><InstancesToUpdate>${Math.max(0, r.toUpdate - r.replaced)}</InstancesToUpdate></LivePoolProgress></ProgressDetails>${prefs}${desired}${rollback}</member>`;
}

/** The Auto Scaling Query API over the fleet's self-managed groups. */
export class SimAutoScaling {
  constructor(private readonly fleet: () => SimFleet) {}

  handle(form: URLSearchParams, region: string, account: string | undefined, now: number): AwsResponse {
    const action = form.get('Action') ?? '';
    const requestId = uuidOf('autoscaling', action, now, Math.random());
    try {
      const body = this.dispatch(action, form, region, account, now);
      return {
        status: 200,
        body: `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${NS}">${body === undefined ? '' : `<${action}Result>${body}</${action}Result>`}<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`,
        headers: { 'content-type': 'text/xml' },
      };
    } catch (err) {
      if (!(err instanceof AsgError)) throw err;
      return {
        status: err.status,
        body: `<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="${NS}"><Error><Type>Sender</Type><Code>${esc(err.code)}</Code><Message>${esc(err.message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
        headers: { 'content-type': 'text/xml' },
      };
    }
  }

  /** Every group visible to the caller, advanced to `now`. */
  private groups(region: string, account: string | undefined, now: number): { c: SimCluster; asg: SimAsg }[] {
    const out: { c: SimCluster; asg: SimAsg }[] = [];
    for (const c of this.fleet().clusters) {
      if (c.region !== region || (account !== undefined && c.account !== account)) continue;
      for (const asg of c.asgs) {
        advanceAsg(c, asg, now);
        out.push({ c, asg });
      }
    }
    return out;
  }

  private group(form: URLSearchParams, region: string, account: string | undefined, now: number) {
    const name = form.get('AutoScalingGroupName');
    if (!name)
      throw validation(
        "1 validation error detected: Value null at 'autoScalingGroupName' failed to satisfy constraint: Member must not be null",
      );
    const found = this.groups(region, account, now).find((g) => g.asg.name === name);
    if (!found) throw validation(`AutoScalingGroup name not found - AutoScalingGroup ${name} not found`);
    return found;
  }

  private dispatch(
    action: string,
    form: URLSearchParams,
    region: string,
    account: string | undefined,
    now: number,
  ): string | undefined {
    switch (action) {
      case 'DescribeAutoScalingGroups': {
        const names = members(form, 'AutoScalingGroupNames');
        let found = this.groups(region, account, now).map((g) => g.asg);
        if (names.length > 0) found = found.filter((a) => names.includes(a.name));
        for (let n = 1; form.has(`Filters.member.${n}.Name`); n++) {
          const name = form.get(`Filters.member.${n}.Name`) ?? '';
          const values = members(form, `Filters.member.${n}.Values`);
          found = found.filter((a) => {
            const tags = Object.entries(a.tags);
            if (name === 'tag-key') return tags.some(([k]) => values.includes(k));
            if (name === 'tag-value') return tags.some(([, v]) => values.includes(v));
            if (name.startsWith('tag:')) {
              const v = a.tags[name.slice(4)];
              return v !== undefined && values.includes(v);
            }
            throw validation(`Filter name '${name}' is not supported.`);
          });
        }
        return `<AutoScalingGroups>${found.map(renderAsg).join('')}</AutoScalingGroups>`;
      }
      case 'StartInstanceRefresh':
        return this.startRefresh(form, region, account, now);
      case 'DescribeInstanceRefreshes': {
        const { asg } = this.group(form, region, account, now);
        const ids = members(form, 'InstanceRefreshIds');
        const refreshes = [...asg.refreshes].reverse().filter((r) => ids.length === 0 || ids.includes(r.id));
        return `<InstanceRefreshes>${refreshes.map((r) => renderRefresh(asg, r)).join('')}</InstanceRefreshes>`;
      }
      case 'CancelInstanceRefresh': {
        const { asg } = this.group(form, region, account, now);
        const r = activeRefresh(asg);
        if (!r || (r.status !== 'Pending' && r.status !== 'InProgress')) {
          throw new AsgError(
            'ActiveInstanceRefreshNotFound',
            `No in progress or pending Instance Refresh found for Auto Scaling group ${asg.name}`,
          );
        }
        r.status = 'Cancelling';
        r.nextAt = Math.min(r.nextAt, now);
        return `<InstanceRefreshId>${r.id}</InstanceRefreshId>`;
      }
      case 'RollbackInstanceRefresh': {
        const { asg } = this.group(form, region, account, now);
        const r = activeRefresh(asg);
        if (!r || r.status === 'RollbackInProgress') {
          throw new AsgError(
            'ActiveInstanceRefreshNotFound',
            `No in progress or pending Instance Refresh found for Auto Scaling group ${asg.name}`,
          );
        }
        if (!r.desired) {
          throw new AsgError(
            'IrreversibleInstanceRefresh',
            'The instance refresh cannot be rolled back because it was started without a desired configuration.',
          );
        }
        if (asg.version === '$Latest' || asg.version === '$Default') {
          throw new AsgError(
            'IrreversibleInstanceRefresh',
            `The instance refresh cannot be rolled back because the Auto Scaling group uses the launch template version ${asg.version}.`,
          );
        }
        if (imageOfVersion(asg.template, r.previous.number).startsWith('resolve:ssm:')) {
          throw new AsgError(
            'IrreversibleInstanceRefresh',
            'The instance refresh cannot be rolled back because the previous launch template uses an AWS Systems Manager parameter for its AMI.',
          );
        }
        const toUpdate = asg.instances.filter(
          (i) => (i.state === 'InService' || i.state === 'Pending') && i.ltVersion !== r.previous.number,
        ).length;
        r.status = 'RollbackInProgress';
        r.rollback = { startedAt: now, toUpdate, replaced: 0, reason: 'Rollback requested by the user.' };
        r.touched.clear();
        r.nextAt = Math.min(r.nextAt, now);
        return `<InstanceRefreshId>${r.id}</InstanceRefreshId>`;
      }
      case 'PutLifecycleHook': {
        const { asg } = this.group(form, region, account, now);
        const name = form.get('LifecycleHookName') ?? '';
        if (!name)
          throw validation(
            "1 validation error detected: Value null at 'lifecycleHookName' failed to satisfy constraint: Member must not be null",
          );
        const existing = asg.hooks.get(name);
        const transition = form.get('LifecycleTransition') ?? existing?.transition;
        if (
          transition !== 'autoscaling:EC2_INSTANCE_TERMINATING' &&
          transition !== 'autoscaling:EC2_INSTANCE_LAUNCHING'
        ) {
          throw validation(`Invalid Lifecycle Transition: ${transition ?? 'null'}`);
        }
        const timeout = int(form, 'HeartbeatTimeout') ?? existing?.heartbeatTimeout ?? 3600;
        if (timeout < 30 || timeout > 7200) {
          throw validation('Heartbeat Timeout must be between 30 and 7200 seconds.');
        }
        const result = form.get('DefaultResult') ?? existing?.defaultResult ?? 'ABANDON';
        if (result !== 'CONTINUE' && result !== 'ABANDON') throw validation(`Invalid default result: ${result}`);
        const metadata = form.get('NotificationMetadata') ?? existing?.metadata;
        asg.hooks.set(name, {
          name,
          transition,
          heartbeatTimeout: timeout,
          defaultResult: result,
          ...(metadata !== undefined ? { metadata } : {}),
        });
        return '';
      }
      case 'DescribeLifecycleHooks': {
        const { asg } = this.group(form, region, account, now);
        const names = members(form, 'LifecycleHookNames');
        const hooks = [...asg.hooks.values()].filter((h) => names.length === 0 || names.includes(h.name));
        return `<LifecycleHooks>${hooks
          .map(
            (h) =>
              `<member><LifecycleHookName>${esc(h.name)}</LifecycleHookName><AutoScalingGroupName>${esc(asg.name)}</AutoScalingGroupName><LifecycleTransition>${h.transition}</LifecycleTransition><HeartbeatTimeout>${h.heartbeatTimeout}</HeartbeatTimeout><GlobalTimeout>${Math.min(172800, 100 * h.heartbeatTimeout)}</GlobalTimeout><DefaultResult>${h.defaultResult}</DefaultResult>${h.metadata !== undefined ? `<NotificationMetadata>${esc(h.metadata)}</NotificationMetadata>` : ''}</member>`,
          )
          .join('')}</LifecycleHooks>`;
      }
      case 'DeleteLifecycleHook': {
        const { asg } = this.group(form, region, account, now);
        const name = form.get('LifecycleHookName') ?? '';
        if (!asg.hooks.delete(name))
          throw validation(`No Lifecycle Hook found with name ${name} for group ${asg.name}`);
        return '';
      }
      case 'CompleteLifecycleAction':
      case 'RecordLifecycleActionHeartbeat': {
        const { c, asg } = this.group(form, region, account, now);
        const hook = form.get('LifecycleHookName') ?? '';
        if (!asg.hooks.has(hook)) throw validation(`No Lifecycle Hook found with name ${hook} for group ${asg.name}`);
        const instanceId = form.get('InstanceId');
        const token = form.get('LifecycleActionToken');
        const i = asg.instances.find(
          (x) =>
            x.state === 'Terminating:Wait' &&
            x.pendingHooks?.has(hook) &&
            ((instanceId && x.id === instanceId) || (token && x.actionToken === token)),
        );
        if (!i) {
          throw validation(
            instanceId
              ? `No active Lifecycle Action found with instance ID ${instanceId}`
              : `No active Lifecycle Action found with token ${token ?? ''}`,
          );
        }
        if (action === 'RecordLifecycleActionHeartbeat') {
          heartbeat(asg, i, now);
          return '';
        }
        const result = form.get('LifecycleActionResult');
        if (result !== 'CONTINUE' && result !== 'ABANDON') {
          throw validation(`Invalid lifecycle action result: ${result ?? 'null'}`);
        }
        completeAction(c, asg, i, hook, now);
        nudgeRefresh(asg, now);
        return '';
      }
      default:
        throw new AsgError('InvalidAction', `The action ${action} is not valid for this web service.`);
    }
  }

  private startRefresh(form: URLSearchParams, region: string, account: string | undefined, now: number): string {
    const { c, asg } = this.group(form, region, account, now);
    if (asg.refreshes.some((r) => ACTIVE_REFRESH.includes(r.status))) {
      throw new AsgError(
        'InstanceRefreshInProgress',
        'An Instance Refresh is already in progress and blocks the execution of this Instance Refresh.',
      );
    }
    const strategy = form.get('Strategy') ?? 'Rolling';
    if (strategy !== 'Rolling' && strategy !== 'ReplaceRootVolume') throw validation(`Invalid strategy: ${strategy}`);
    const minHealthy = int(form, 'Preferences.MinHealthyPercentage') ?? 90;
    if (minHealthy < 0 || minHealthy > 100) throw validation('MinHealthyPercentage must be between 0 and 100.');
    const checkpoints = members(form, 'Preferences.CheckpointPercentages').map(Number);
    const delay = int(form, 'Preferences.CheckpointDelay');
    if (delay !== undefined && checkpoints.length === 0) {
      throw validation('CheckpointDelay can only be specified together with CheckpointPercentages.');
    }
    for (let k = 0; k < checkpoints.length; k++) {
      const p = checkpoints[k] as number;
      if (!Number.isInteger(p) || p < 1 || p > 100 || (k > 0 && p <= (checkpoints[k - 1] as number))) {
        throw validation('CheckpointPercentages must be unique integers between 1 and 100 in ascending order.');
      }
    }
    const skipMatching = form.get('Preferences.SkipMatching') === 'true';
    const autoRollback = form.get('Preferences.AutoRollback') === 'true';
    const ltName = form.get('DesiredConfiguration.LaunchTemplate.LaunchTemplateName');
    const ltId = form.get('DesiredConfiguration.LaunchTemplate.LaunchTemplateId');
    let desired: AsgRefresh['desired'];
    if (ltName || ltId) {
      const t = asg.template;
      if ((ltId && ltId !== t.id) || (ltName && ltName !== t.name)) {
        throw validation(
          ltId
            ? `The specified launch template, with template ID ${ltId}, does not exist.`
            : `The launch template ${ltName} does not exist.`,
        );
      }
      const version = form.get('DesiredConfiguration.LaunchTemplate.Version') ?? '$Default';
      const number = resolveVersion(t, version);
      if (!t.versions.has(number)) {
        throw validation(
          `The specified launch template version ${version} for launch template ${t.id} does not exist.`,
        );
      }
      desired = { templateId: t.id, templateName: t.name, version, number };
    }
    if (skipMatching && !desired) {
      throw validation('SkipMatching requires a desired configuration.');
    }
    if (autoRollback && !desired) {
      throw validation('AutoRollback requires a desired configuration.');
    }
    const previous = { version: asg.version, number: resolveVersion(asg.template, asg.version) };
    const target = desired?.number ?? previous.number;
    const live = asg.instances.filter((i) => i.state === 'InService' || i.state === 'Pending');
    const toUpdate = skipMatching ? live.filter((i) => i.ltVersion !== target).length : live.length;
    const r: AsgRefresh = {
      id: uuidOf(asg.arn, 'refresh', asg.refreshes.length, now),
      status: 'InProgress',
      startedAt: now,
      minHealthy,
      checkpoints,
      checkpointDelayS: checkpoints.length > 0 ? (delay ?? 3600) : 0,
      warmupS: int(form, 'Preferences.InstanceWarmup') ?? asg.healthCheckGracePeriod,
      skipMatching,
      autoRollback,
      ...(desired ? { desired } : {}),
      previous,
      toUpdate,
      replaced: 0,
      touched: new Set(),
      leaving: [],
      launched: [],
      nextAt: now,
      checkpointIndex: 0,
    };
    asg.refreshes.push(r);
    advanceAsg(c, asg, now);
    return `<InstanceRefreshId>${r.id}</InstanceRefreshId>`;
  }
}
