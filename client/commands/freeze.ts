/**
 * `fleetwave freeze add|list|remove` and `fleetwave pace set|show|clear`: the fleet-wide change
 * calendar and start pace that every campaign on the worker pool's task queue honours (held by
 * the `fleet-control/<taskQueue>` workflow; see client/fleet-control.ts).
 *
 *   freeze add --reason R (--until ISO [--from ISO] | --for 4h | --weekly --days Fri,Sat --start 18:00 --end 06:00 [--timezone TZ])
 *   freeze list [--json]
 *   freeze remove ID
 *   pace set --rate 10/h [--burst 3]
 *   pace show [--json] | pace clear
 *
 * Inside a freeze no cluster upgrade starts; upgrades already running finish their current step and
 * hold (a rollback runs to its end) until the freeze ends or is removed. Arguments are checked
 * before connecting: a bad one exits 2 naming it and changes nothing.
 */
import { Command } from 'commander';
import { parseDuration } from '../../domain/duration';
import {
  describeFreeze,
  describePace,
  parseRate,
  validateFreeze,
  type FleetPace,
  type FreezeInput,
} from '../../domain/freezes';
import type { FleetControlView } from '../../workflows/definitions';
import type { CliIO } from '../cli';
import { InvalidInputError } from '../errors';
import { addFreeze, readFleetControl, removeFreeze, setFleetPace } from '../fleet-control';
import { currentUser } from '../library';
import { printJson, withClient } from './support';

interface FreezeAddOptions {
  reason?: string;
  from?: string;
  until?: string;
  for?: string;
  weekly?: boolean;
  days?: string;
  start?: string;
  end?: string;
  timezone: string;
  as?: string;
  json?: boolean;
}

/** The freeze `freeze add` asks for, or bad input naming every problem. `nowMs` is the operator's clock. */
export function freezeInputFromOptions(opts: FreezeAddOptions, nowMs: number): FreezeInput {
  const problems: string[] = [];
  const reason = opts.reason?.trim() ?? '';
  const absolute = opts.from !== undefined || opts.until !== undefined || opts.for !== undefined;
  const weeklyFlags = opts.days !== undefined || opts.start !== undefined || opts.end !== undefined;
  if (opts.weekly && absolute) problems.push('--weekly cannot be combined with --from, --until or --for');
  if (!opts.weekly && weeklyFlags) problems.push('--days, --start and --end need --weekly');
  if (opts.until !== undefined && opts.for !== undefined) problems.push('give --until or --for, not both');
  const input: FreezeInput = { reason, addedBy: opts.as?.trim() || currentUser() };
  if (opts.weekly) {
    if (opts.start === undefined) problems.push('--weekly needs --start HH:MM');
    if (opts.end === undefined) problems.push('--weekly needs --end HH:MM');
    const days = (opts.days ?? 'Mon,Tue,Wed,Thu,Fri,Sat,Sun')
      .split(',')
      .map((d) => d.trim())
      .filter(Boolean)
      .map((d) => d.slice(0, 1).toUpperCase() + d.slice(1, 3).toLowerCase());
    input.weekly = {
      days: days as NonNullable<FreezeInput['weekly']>['days'],
      start: opts.start ?? '',
      end: opts.end ?? '',
      timezone: opts.timezone,
    };
  } else {
    const from = opts.from === undefined ? nowMs : Date.parse(opts.from);
    if (opts.from !== undefined) input.from = Number.isNaN(from) ? opts.from : new Date(from).toISOString();
    if (opts.until !== undefined) {
      const until = Date.parse(opts.until);
      input.until = Number.isNaN(until) ? opts.until : new Date(until).toISOString();
    }
    if (opts.for !== undefined) {
      const ms = parseDuration(opts.for);
      if (ms === undefined || ms <= 0) problems.push(`--for "${opts.for}": must be a duration such as 4h or 2d`);
      else if (!Number.isNaN(from)) input.until = new Date(from + ms).toISOString();
    }
  }
  if (problems.length === 0) {
    problems.push(
      ...validateFreeze(input, nowMs).map((p) =>
        p
          .replace('a date range (from/until) or a weekly window', '--until, --for or --weekly')
          .replace(/^a date range needs an end \(until\)$/, 'a date range needs --until or --for')
          .replace(
            /^a freeze needs a reason$/,
            '--reason: a freeze needs a reason (shown in every campaign held by it)',
          ),
      ),
    );
  }
  if (problems.length > 0) throw new InvalidInputError(problems.map((p) => `freeze add: ${p}`).join('\n'));
  return input;
}

function printView(io: CliIO, view: FleetControlView): void {
  if (view.frozen) io.out(`${view.frozen.text}\n`);
  else io.out('not frozen now\n');
  if (view.freezes.length === 0) io.out('no freezes\n');
  for (const f of view.freezes) {
    io.out(`${f.id}  ${describeFreeze(f)}  ${f.reason}  (added ${f.addedAt}${f.addedBy ? ` by ${f.addedBy}` : ''})\n`);
  }
  io.out(
    view.pace
      ? `fleet-wide pace: ${describePace(view.pace)}; ${view.tokens ?? 0} start(s) available now\n`
      : 'fleet-wide pace: none\n',
  );
}

/** The `freeze` command and its subcommands. */
export function freezeCommand(io: CliIO): Command {
  const freeze = new Command('freeze').description(
    'the fleet-wide change calendar: no cluster upgrade starts inside a freeze; running ones finish their step and hold',
  );
  freeze
    .command('add')
    .description('add a freeze: a date range (--until/--for, optional --from) or a weekly window (--weekly)')
    .option('--reason <text>', 'why, shown in the status of every campaign it holds')
    .option('--from <iso>', 'start of a date range (default: now)')
    .option('--until <iso>', 'end of a date range (exclusive)')
    .option('--for <duration>', 'length of a date range from --from or now, e.g. 4h, 2d')
    .option('--weekly', 'a recurring weekly window instead of a date range')
    .option('--days <list>', 'weekly: days it starts on, e.g. Fri,Sat (default: every day)')
    .option('--start <HH:MM>', 'weekly: start time in --timezone')
    .option('--end <HH:MM>', 'weekly: end time; earlier than --start crosses midnight')
    .option('--timezone <iana>', 'weekly: IANA timezone', 'UTC')
    .option('--as <who>', 'who adds it (default: your OS user)')
    .option('--json', 'print the freeze as JSON')
    .action(async (opts: FreezeAddOptions) => {
      const input = freezeInputFromOptions(opts, Date.now());
      const added = await withClient((fw) => addFreeze(fw, input));
      if (opts.json) printJson(io, added);
      else io.out(`added ${added.id}: ${describeFreeze(added)}  ${added.reason}\n`);
    });
  freeze
    .command('list')
    .description('list the freezes, the one in force now, and the fleet-wide pace')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }) => {
      const view = await withClient((fw) => readFleetControl(fw));
      if (opts.json) printJson(io, view);
      else printView(io, view);
    });
  freeze
    .command('remove')
    .description('remove a freeze by its id (from `freeze list`); held campaigns look again at once')
    .argument('<id>', 'the freeze id, e.g. f3')
    .action(async (id: string) => {
      if (!/^f\d+$/.test(id)) throw new InvalidInputError(`freeze remove: "${id}" is not a freeze id (f1, f2, ...)`);
      const removed = await withClient((fw) => removeFreeze(fw, id));
      io.out(`removed ${removed.id}: ${describeFreeze(removed)}  ${removed.reason}\n`);
    });
  return freeze;
}

/** The pace `pace set` asks for, or bad input naming the problem. */
export function paceFromOptions(opts: { rate?: string; burst?: string }): FleetPace {
  if (!opts.rate) throw new InvalidInputError('pace set: --rate is required, e.g. --rate 10/h');
  let rate: { starts: number; per: string };
  try {
    rate = parseRate(opts.rate);
  } catch (err) {
    throw new InvalidInputError(`pace set: --rate: ${(err as Error).message}`);
  }
  if (opts.burst === undefined) return rate;
  const burst = Number(opts.burst);
  if (!Number.isInteger(burst) || burst < 1) {
    throw new InvalidInputError(`pace set: --burst "${opts.burst}": must be a whole number >= 1`);
  }
  return { ...rate, burst };
}

/** The `pace` command: one token bucket for cluster starts shared by every campaign. */
export function paceCommand(io: CliIO): Command {
  const pace = new Command('pace').description(
    'the fleet-wide start pace: one token bucket shared by every campaign (beside each campaign own rate limit)',
  );
  pace
    .command('set')
    .description('set the fleet-wide pace, e.g. --rate 10/h --burst 3')
    .option('--rate <n/period>', 'starts per period: 10/h, 3/10m')
    .option('--burst <n>', 'starts allowed back to back after a quiet spell (default: the rate count)')
    .action(async (opts: { rate?: string; burst?: string }) => {
      const p = paceFromOptions(opts);
      const view = await withClient((fw) => setFleetPace(fw, p));
      io.out(`fleet-wide pace: ${view.pace ? describePace(view.pace) : 'none'}\n`);
    });
  pace
    .command('show')
    .option('--json', 'print as JSON')
    .description('show the fleet-wide pace and the freezes')
    .action(async (opts: { json?: boolean }) => {
      const view = await withClient((fw) => readFleetControl(fw));
      if (opts.json) printJson(io, view);
      else printView(io, view);
    });
  pace
    .command('clear')
    .description('remove the fleet-wide pace (each campaign own rate limit still applies)')
    .action(async () => {
      await withClient((fw) => setFleetPace(fw, null));
      io.out('fleet-wide pace: none\n');
    });
  return pace;
}
