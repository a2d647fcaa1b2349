/**
 * `fleetwave discover --region R [--role-name NAME | --role-arn ARN... | --role-arns FILE]
 *   [--label LABEL=tag:TAG...] [--label-map FILE] [-o fleet.yaml | --diff fleet.yaml] [--json]`:
 * lists EKS clusters across accounts and regions and writes the fleet file (client/discover.ts).
 * Runs in the CLI with the caller's AWS credentials and the worker's endpoint settings
 * (FLEETWAVE_AWS_ENDPOINT, AWS_ENDPOINT_URL_EKS), not on a worker.
 *
 * Progress (one line per account × region) and every problem go to stderr; the fleet file, the
 * diff or the JSON to stdout (or `-o`). Exit codes: 0 when at least one account × region was
 * listed, problems or not; 1 when none could be (or, with `--strict`, when anything went wrong);
 * 2 for bad arguments.
 */
import { writeFile } from 'node:fs/promises';
import { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { formatIssue, parseFleet } from '../../domain/load';
import type { CliIO } from '../cli';
import {
  createDiscoveryAws,
  discoverFleet,
  parseLabelRule,
  renderFleetYaml,
  type AccountSource,
  type DiscoveryAws,
  type DiscoveryProblem,
  type LabelRule,
} from '../discover';
import { ExitCode, FleetwaveError, InvalidInputError } from '../errors';
import { readRegularFile } from '../files';
import { diffFleets, renderFleetDiff } from '../fleet-diff';

interface DiscoverCliOptions {
  region: string[];
  roleName?: string;
  roleArn: string[];
  roleArns?: string;
  label: string[];
  labelMap?: string;
  clusterRoleName?: string;
  output?: string;
  diff?: string;
  json?: boolean;
  strict?: boolean;
}

const MAX_INPUT_BYTES = 5 * 1024 * 1024;
const collect = (value: string, previous: string[]) => [...previous, ...value.split(',').filter(Boolean)];

async function accountSource(opts: DiscoverCliOptions): Promise<AccountSource> {
  const arns = [...opts.roleArn];
  if (opts.roleArns) {
    const text = await readRegularFile(opts.roleArns, MAX_INPUT_BYTES);
    arns.push(
      ...text
        .split('\n')
        .map((l) => l.replace(/#.*/, '').trim())
        .filter(Boolean),
    );
  }
  if (opts.roleName && arns.length > 0) throw new InvalidInputError('give --role-name or role ARNs, not both');
  if (opts.roleName) {
    if (!/^[\w+=,.@/-]{1,64}$/.test(opts.roleName))
      throw new InvalidInputError(`--role-name: "${opts.roleName}" is not an IAM role name`);
    return { kind: 'organization', roleName: opts.roleName };
  }
  if (arns.length > 0) {
    const bad = arns.find((a) => !/^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/.test(a));
    if (bad) throw new InvalidInputError(`"${bad}" is not an IAM role ARN (arn:aws:iam::123456789012:role/NAME)`);
    return { kind: 'roles', roleArns: arns };
  }
  return { kind: 'caller' };
}

/** `--label` flags and a `--label-map` file (`LABEL: tag:TAG` per line of a YAML map). */
async function labelRules(opts: DiscoverCliOptions): Promise<LabelRule[]> {
  const texts = [...opts.label];
  if (opts.labelMap) {
    const doc: unknown = parseYaml(await readRegularFile(opts.labelMap, MAX_INPUT_BYTES));
    if (!doc || typeof doc !== 'object' || Array.isArray(doc))
      throw new InvalidInputError(`${opts.labelMap}: must be a map of LABEL: tag:TAG`);
    for (const [label, value] of Object.entries(doc)) texts.push(`${label}=${String(value)}`);
  }
  const rules: LabelRule[] = [];
  for (const text of texts) {
    const rule = parseLabelRule(text);
    if (typeof rule === 'string') throw new InvalidInputError(`--label ${rule}`);
    rules.push(rule);
  }
  return rules;
}

function problemLine(p: DiscoveryProblem): string {
  const where = [p.account, p.region, p.cluster].filter(Boolean).join(' ');
  return `problem: ${where}: ${p.stage} ${p.error}: ${p.message}`;
}

/** Builds the `discover` command; `aws` replaces the clients built from the environment (tests). */
export function discoverCommand(io: CliIO, aws?: DiscoveryAws): Command {
  return new Command('discover')
    .description('list EKS clusters across accounts and regions and write the fleet file (or diff it)')
    .requiredOption('--region <region>', 'AWS region to list (repeatable, or comma-separated)', collect, [])
    .option(
      '--role-name <name>',
      'list the accounts with AWS Organizations ListAccounts and assume arn:aws:iam::ACCOUNT:role/NAME in each',
    )
    .option('--role-arn <arn>', 'assume this role and list its account (repeatable)', collect, [])
    .option('--role-arns <file>', 'role ARNs to assume, one a line (# comments)')
    .option('--label <LABEL=tag:TAG>', 'label from an EKS tag, e.g. env=tag:Environment (repeatable)', collect, [])
    .option('--label-map <file>', 'YAML map of LABEL: tag:TAG (default without --label: every tag that is a label)')
    .option('--cluster-role-name <name>', "write roleArn arn:aws:iam::ACCOUNT:role/NAME on each cluster (the worker's)")
    .option('-o, --output <file>', 'write the fleet file here (default: stdout)')
    .option('--diff <fleet.yaml>', 'show the differences from this fleet file instead of writing one')
    .option('--json', 'print the fleet (or the diff) and the problems as one JSON object')
    .option('--strict', 'exit 1 when anything could not be listed')
    .action(async (opts: DiscoverCliOptions) => {
      const regions = [...new Set(opts.region)];
      const badRegion = regions.find((r) => !/^[a-z]{2}(-gov)?-[a-z]+-\d$/.test(r));
      if (regions.length === 0 || badRegion)
        throw new InvalidInputError(`--region: "${badRegion ?? ''}" is not an AWS region such as us-east-1`);
      const source = await accountSource(opts);
      const rules = await labelRules(opts);
      const fileFleet = opts.diff ? await readFleet(opts.diff) : undefined;
      const clients =
        aws ??
        createDiscoveryAws({
          endpoint: process.env.FLEETWAVE_AWS_ENDPOINT || undefined,
          eksEndpoint: process.env.AWS_ENDPOINT_URL_EKS || undefined,
        });

      let result;
      try {
        result = await discoverFleet(clients, {
          regions,
          accounts: source,
          labelRules: rules,
          ...(opts.clusterRoleName ? { clusterRoleName: opts.clusterRoleName } : {}),
          onAccounts: (accounts) =>
            io.err(
              `discovering ${accounts.length} account(s) × ${regions.length} region(s): ${accounts.length * regions.length} to list\n`,
            ),
          onCell: (cell, done, total) =>
            io.err(
              `[${done}/${total}] ${cell.account} ${cell.region}: ${cell.ok ? `${cell.clusters} cluster(s)` : 'not listed'}\n`,
            ),
        });
      } catch (err) {
        const what = source.kind === 'organization' ? 'Organizations ListAccounts' : 'STS GetCallerIdentity';
        throw new FleetwaveError(
          `${what} failed, nothing was listed: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`,
          ExitCode.runtimeFailure,
        );
      }
      for (const p of result.problems) io.err(`${problemLine(p)}\n`);
      const listed = result.cells.filter((c) => c.ok).length;
      io.err(
        `${result.fleet.clusters.length} cluster(s) from ${listed}/${result.cells.length} account × region; ${result.problems.length} problem(s)\n`,
      );

      const diff = fileFleet ? diffFleets(fileFleet, result.fleet) : undefined;
      const text = opts.json
        ? `${JSON.stringify(
            {
              ...(diff ? { diff } : { fleet: result.fleet }),
              accounts: result.accounts,
              cells: result.cells,
              problems: result.problems,
            },
            null,
            2,
          )}\n`
        : diff
          ? renderFleetDiff(diff, result.fleet)
          : renderFleetYaml(result.fleet, [
              `Discovered by fleetwave discover: ${regions.join(', ')}; ${result.accounts.length} account(s).`,
              ...(result.problems.length > 0
                ? [`${result.problems.length} problem(s) (see stderr): clusters may be missing.`]
                : []),
            ]);
      if (opts.output) await writeFile(opts.output, text);
      else io.out(text);

      if (listed === 0) throw new FleetwaveError('no account × region could be listed', ExitCode.runtimeFailure);
      if (opts.strict && result.problems.length > 0)
        throw new FleetwaveError(`${result.problems.length} problem(s) (--strict)`, ExitCode.runtimeFailure);
    });
}

async function readFleet(file: string) {
  const parsed = parseFleet(await readRegularFile(file, 50 * 1024 * 1024));
  if (!parsed.ok) {
    throw new InvalidInputError(
      `${file} is invalid:\n  ${parsed.issues.map((i) => formatIssue(i, file)).join('\n  ')}`,
    );
  }
  return parsed.value;
}
