/**
 * `npm run temporal:ensure`: prints the path of a Temporal CLI, building it if missing.
 * Progress goes to stderr so that `$(npm run -s temporal:ensure)` captures only the path.
 */
import { findOrBuildTemporalCli } from './temporal-cli';

try {
  const cli = await findOrBuildTemporalCli({ log: (line) => process.stderr.write(`${line}\n`) });
  process.stdout.write(`${cli}\n`);
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}
