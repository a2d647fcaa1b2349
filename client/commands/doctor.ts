/**
 * `fleetwave doctor --fleet fleet.yaml [--json] [--wait DURATION]`: for every cluster, from the
 * worker that will serve it (the fleet's task queues), whether its Kubernetes endpoint answers,
 * whether the worker's IAM principal has an EKS access entry and which access policies it carries,
 * and which Kubernetes permissions fleetwave needs that RBAC refuses. Exit 0 when every cluster is
 * ready, 1 when something is missing (each named on its cluster's line).
 */
import { Command } from 'commander';
import type { ClusterAccessReport } from '../../domain/access';
import type { CliIO } from '../cli';
import { InvalidInputError, ExitCode } from '../errors';
import { readRegularFile } from '../files';
import { parseFleet } from '../../domain/load';
import { printJson, setExitCode, withClient } from './support';

const MAX_FLEET_BYTES = 64 * 1024 * 1024;

/** One block per cluster: a status line, then what is missing. */
export function formatAccessReports(reports: ClusterAccessReport[]): string {
  const lines: string[] = [];
  for (const r of reports) {
    const ok = r.missing.length === 0;
    const policies = r.policies.map((p) => (p.scope === 'cluster' ? p.name : `${p.name} (${p.scope})`)).join(', ');
    lines.push(
      `${ok ? 'ok     ' : 'MISSING'} ${r.cluster}  queue ${r.taskQueue ?? '?'}` +
        `${r.principal ? `  as ${r.principal}` : ''}${policies ? `  policies ${policies}` : ''}`,
    );
    for (const m of r.missing) lines.push(`        - ${m}`);
  }
  const bad = reports.filter((r) => r.missing.length > 0).length;
  lines.push(`${reports.length - bad} of ${reports.length} cluster${reports.length === 1 ? '' : 's'} ready`);
  return `${lines.join('\n')}\n`;
}

/** The `doctor` command. */
export function doctorCommand(io: CliIO): Command {
  return new Command('doctor')
    .description('check each cluster from the worker that serves it: endpoint, EKS access entry, Kubernetes RBAC')
    .requiredOption('--fleet <fleet.yaml>', 'fleet inventory (its taskQueues say which worker serves which cluster)')
    .option('--wait <duration>', 'how long a check waits for a worker on its task queue', '1 minute')
    .option('--json', 'print the reports as JSON')
    .action(async (opts: { fleet: string; wait: string; json?: boolean }) => {
      const parsed = parseFleet(await readRegularFile(opts.fleet, MAX_FLEET_BYTES));
      if (!parsed.ok) throw InvalidInputError.fromIssues('fleet', parsed.issues, opts.fleet);
      const reports = await withClient((fw) =>
        fw.checkClusterAccess(parsed.value, { scheduleToStartTimeout: opts.wait }),
      );
      if (opts.json) printJson(io, reports);
      else io.out(formatAccessReports(reports));
      if (reports.some((r) => r.missing.length > 0)) setExitCode(ExitCode.runtimeFailure);
    });
}
