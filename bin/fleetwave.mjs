#!/usr/bin/env node
// The fleetwave CLI. An installed package (and the image) runs the compiled dist/client/cli.js. A
// checkout runs the TypeScript sources through tsx (a dev dependency), so `npx fleetwave` after
// `npm ci` needs no build and never runs a stale dist/.
import { existsSync } from 'node:fs';

const source = new URL('../client/cli.ts', import.meta.url);
const built = new URL('../dist/client/cli.js', import.meta.url);

let cli;
if (existsSync(source) && (await canLoadTsx())) {
  const { register } = await import('tsx/esm/api');
  register();
  // A dynamic import: a static one would be evaluated before the loader above is registered.
  cli = await import(source.href);
} else if (existsSync(built)) {
  cli = await import(built.href);
} else {
  process.stderr.write('error: fleetwave is not built (run `npm run build`) and tsx is not installed\n');
  process.exit(1);
}
process.exitCode = await cli.main(process.argv);

async function canLoadTsx() {
  try {
    await import.meta.resolve('tsx/esm/api');
    return true;
  } catch {
    return false;
  }
}
