import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/** Edge modules: they use zod and yaml and are imported by workflows only as types. */
const EDGE = new Set(['spec.ts', 'fleet.ts', 'load.ts']);
const pureModules = readdirSync('domain').filter((f) => f.endsWith('.ts') && !EDGE.has(f));

describe('domain/ stays importable inside Temporal workflows', () => {
  it.each(pureModules)('%s imports only pure domain modules (edge ones as types)', (file) => {
    const source = readFileSync(`domain/${file}`, 'utf8');
    for (const match of source.matchAll(/^import\s+(type\s+)?[^;]*?from\s+'([^']+)';/gms)) {
      const [statement, typeOnly, from] = match;
      expect(from, statement).toMatch(/^\.\//);
      if (EDGE.has(`${from?.slice(2)}.ts`)) expect(typeOnly, `${file}: ${statement}`).toBeDefined();
    }
  });

  it.each(pureModules)('%s reads no clock, randomness or process state', (file) => {
    const source = readFileSync(`domain/${file}`, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
    expect(source).not.toMatch(/Date\.now\(|new Date\(\s*\)|Math\.random|process\.|require\(|globalThis/);
  });
});
