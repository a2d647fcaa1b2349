/**
 * `fleetwave setup`: makes a Temporal namespace ready for fleetwave and says what is still missing.
 *
 * - the namespace exists (DescribeNamespace);
 * - fleetwave's search attributes (workflows/search-attributes.ts) are registered, with the right
 *   types: the workflows set them at start and the Web UI's campaign filters query them. On a
 *   self-hosted server setup adds the missing ones through the operator service
 *   (AddSearchAttributes). Temporal Cloud does not take that call from namespace clients: there
 *   setup prints the `tcld namespace search-attributes add` command instead;
 * - a worker polls the task queue, for workflow and for activity tasks (DescribeTaskQueue).
 */
import { isGrpcServiceError } from '@temporalio/client';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import proto from '@temporalio/proto';
import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes';

const { temporal } = proto;
type IndexedValueType = proto.temporal.api.enums.v1.IndexedValueType;
type TaskQueueType = proto.temporal.api.enums.v1.TaskQueueType;
import type { FleetwaveClient } from './library';

/** gRPC status NOT_FOUND. */
const NOT_FOUND = 5;

/** Options for {@link checkSetup}. */
export interface SetupOptions {
  /** Register missing search attributes (self-hosted only). Default: true. */
  register?: boolean;
  /** Treat the server as Temporal Cloud. Default: detected from the address (`*.tmprl.cloud`, `*.api.temporal.io`) or an API key. */
  cloud?: boolean;
}

/** One fleetwave search attribute on the namespace. */
export interface SearchAttributeCheck {
  name: string;
  /** The type fleetwave needs, as Temporal names it (`Keyword`, `Int`, `Bool`). */
  type: string;
  /** `present`; `added` by this run; `missing`; `wrong-type` (registered with another type: fix by hand); `unknown` (could not list). */
  state: 'present' | 'added' | 'missing' | 'wrong-type' | 'unknown';
}

/** What {@link checkSetup} found and did. */
export interface SetupReport {
  address?: string;
  namespace: string;
  taskQueue: string;
  cloud: boolean;
  namespaceExists: boolean;
  searchAttributes: SearchAttributeCheck[];
  /** Pollers on the task queue, by task type; undefined when the queue could not be described. */
  pollers?: { workflow: number; activity: number };
  /** One line per thing still missing, with what to do about it. Empty when ready. */
  missing: string[];
  /** Commands to run by hand (Temporal Cloud: `tcld`). */
  commands: string[];
  ok: boolean;
}

/** `Keyword`, `Int`, `Bool`: the spelling of `tcld` and `temporal operator search-attribute create`. */
function typeName(type: string): string {
  return type
    .toLowerCase()
    .split('_')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}

/** Whether the connection goes to Temporal Cloud, judged from its address and whether it carries an API key. */
export function looksLikeTemporalCloud(address: string | undefined, hasApiKey: boolean): boolean {
  const host = (address ?? '').replace(/:\d+$/, '').toLowerCase();
  return hasApiKey || host.endsWith('.tmprl.cloud') || host.endsWith('.api.temporal.io');
}

/** Checks the namespace, search attributes and task queue of `fw`, registering missing attributes where it can. */
export async function checkSetup(fw: FleetwaveClient, opts: SetupOptions = {}): Promise<SetupReport> {
  const connection = fw.client.connection;
  const namespace = fw.namespace;
  const taskQueue = fw.taskQueue;
  const options = (connection as { options?: { apiKey?: unknown } }).options;
  const hasApiKey = Boolean(process.env.TEMPORAL_API_KEY) || Boolean(options?.apiKey);
  const cloud = opts.cloud ?? looksLikeTemporalCloud(fw.address, hasApiKey);
  const missing: string[] = [];
  const commands: string[] = [];

  let namespaceExists = true;
  try {
    await connection.workflowService.describeNamespace({ namespace });
  } catch (err) {
    if (!isGrpcServiceError(err) || err.code !== NOT_FOUND) throw err;
    namespaceExists = false;
    missing.push(
      cloud
        ? `namespace ${namespace} does not exist: create it in Temporal Cloud (tcld namespace create)`
        : `namespace ${namespace} does not exist: temporal operator namespace create --namespace ${namespace}`,
    );
  }

  const searchAttributes: SearchAttributeCheck[] = SEARCH_ATTRIBUTES.map(({ name, type }) => ({
    name,
    type: typeName(type),
    state: 'unknown',
  }));
  if (namespaceExists) {
    let registered: Record<string, number> | undefined;
    try {
      const listed = await connection.operatorService.listSearchAttributes({ namespace });
      registered = { ...(listed.systemAttributes ?? {}), ...(listed.customAttributes ?? {}) } as Record<string, number>;
    } catch (err) {
      // Temporal Cloud may refuse the operator service to namespace credentials: then the state stays unknown.
      if (!cloud) throw err;
    }
    for (const check of searchAttributes) {
      if (!registered) break;
      const want = encodeSearchAttributeIndexedValueType(SEARCH_ATTRIBUTES.find((k) => k.name === check.name)!.type);
      const have = registered[check.name];
      check.state = have === undefined ? 'missing' : have === want ? 'present' : 'wrong-type';
    }
    const toAdd = searchAttributes.filter((c) => c.state === 'missing');
    if (toAdd.length > 0 && !cloud && (opts.register ?? true)) {
      const add: Record<string, IndexedValueType> = {};
      for (const { name } of toAdd) {
        add[name] = encodeSearchAttributeIndexedValueType(SEARCH_ATTRIBUTES.find((k) => k.name === name)!.type)!;
      }
      await connection.operatorService.addSearchAttributes({ namespace, searchAttributes: add });
      for (const check of toAdd) check.state = 'added';
    }
    for (const check of searchAttributes) {
      if (check.state === 'wrong-type') {
        missing.push(`search attribute ${check.name} is registered with another type; fleetwave needs ${check.type}`);
      }
    }
    const notThere = searchAttributes.filter((c) => c.state === 'missing' || (cloud && c.state === 'unknown'));
    if (notThere.length > 0) {
      missing.push(`search attributes not registered: ${notThere.map((c) => c.name).join(', ')}`);
      if (cloud) {
        commands.push(
          [
            `tcld namespace search-attributes add --namespace ${namespace}`,
            ...notThere.map((c) => `--search-attribute "${c.name}=${c.type}"`),
          ].join(' \\\n    '),
        );
      } else {
        for (const c of notThere) {
          commands.push(
            `temporal operator search-attribute create --namespace ${namespace} --name ${c.name} --type ${c.type}`,
          );
        }
      }
    }
  }

  let pollers: SetupReport['pollers'];
  if (namespaceExists) {
    const count = async (taskQueueType: TaskQueueType) => {
      const res = await connection.workflowService.describeTaskQueue({
        namespace,
        taskQueue: { name: taskQueue, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
        taskQueueType,
      });
      return res.pollers?.length ?? 0;
    };
    pollers = {
      workflow: await count(temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW),
      activity: await count(temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY),
    };
    if (pollers.workflow === 0 || pollers.activity === 0) {
      missing.push(
        `no worker polls task queue ${taskQueue} (workflow pollers: ${pollers.workflow}, activity pollers: ${pollers.activity}): start one with \`fleetwave worker\``,
      );
    }
  }

  return {
    ...(fw.address ? { address: fw.address } : {}),
    namespace,
    taskQueue,
    cloud,
    namespaceExists,
    searchAttributes,
    ...(pollers ? { pollers } : {}),
    missing,
    commands,
    ok: missing.length === 0,
  };
}

/** The report as the CLI prints it. */
export function formatSetupReport(report: SetupReport): string {
  const lines = [
    `Temporal ${report.address ?? '(address unknown)'}${report.cloud ? ' (Temporal Cloud)' : ''}, namespace ${report.namespace}, task queue ${report.taskQueue}`,
    `  namespace          ${report.namespaceExists ? 'exists' : 'MISSING'}`,
  ];
  if (report.namespaceExists) {
    const by = (state: SearchAttributeCheck['state']) =>
      report.searchAttributes.filter((c) => c.state === state).map((c) => c.name);
    const parts = [
      by('present').length ? `${by('present').length} present` : '',
      by('added').length ? `added ${by('added').join(', ')}` : '',
      by('missing').length ? `MISSING ${by('missing').join(', ')}` : '',
      by('wrong-type').length ? `WRONG TYPE ${by('wrong-type').join(', ')}` : '',
      by('unknown').length ? `could not list ${by('unknown').length}` : '',
    ].filter(Boolean);
    lines.push(`  search attributes  ${parts.join('; ')}`);
    if (report.pollers) {
      lines.push(
        `  workers            ${report.pollers.workflow} workflow and ${report.pollers.activity} activity pollers on ${report.taskQueue}`,
      );
    }
  }
  if (report.missing.length > 0) {
    lines.push('missing:');
    for (const line of report.missing) lines.push(`  - ${line}`);
  }
  if (report.commands.length > 0) {
    lines.push(report.cloud ? 'run (Temporal Cloud, with tcld logged in):' : 'or run:');
    for (const command of report.commands) lines.push(`  ${command}`);
  }
  if (report.ok) lines.push('ready: fleetwave can run campaigns on this namespace');
  return `${lines.join('\n')}\n`;
}
