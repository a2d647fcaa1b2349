#!/usr/bin/env node
// Runs the TypeScript CLI through tsx, so `npx fleetwave` works after `npm ci` without a build.
import { register } from 'tsx/esm/api';

register();
// A dynamic import: a static one would be evaluated before the loader above is registered.
const { main } = await import('../client/cli.ts');
process.exitCode = await main(process.argv);
