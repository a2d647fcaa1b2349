// The fleetwave CLI from the compiled dist/ (`npm run build`), the way the image and an installed
// package run it: no tsx, no TypeScript loader thread, no source maps of transpiled modules.
// bin/fleetwave.mjs prefers the sources whenever tsx is installed (a checkout), so the bench starts
// this instead when it measures the worker as deployed (`npm run bench -- --worker built`).
const { main } = await import('../../dist/client/cli.js');
process.exitCode = await main(process.argv);
