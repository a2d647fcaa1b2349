// Flat ESLint config. Type-aware rules use the TypeScript project service (tsconfig.json).
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';
import { importX } from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import { builtinModules } from 'node:module';

/**
 * Node built-ins in every spelling (`fs`, `fs/promises`, `node:fs`, any `node:*`). A regex, not
 * gitignore-style globs: a glob `domain` (a built-in name!) would also match `../domain/spec`.
 */
const bareBuiltins = builtinModules.filter((name) => /^[a-z][a-z0-9_]*$/.test(name));
const nodeBuiltinRegex = `^(node:.*|(${bareBuiltins.join('|')})(/.*)?)$`;

const nodeBuiltinsMessage =
  'Node built-ins are not allowed here: this code must stay deterministic and side-effect free.';

export default defineConfig(
  {
    ignores: [
      'node_modules/**',
      'dist/**',
      'bench/results/**',
      'test-output/**',
      '.fleetwave/**',
      '.scratch*/**',
      'coverage/**',
    ],
  },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
      globals: { ...globals.node },
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/consistent-type-imports': [
        'error',
        { prefer: 'type-imports', fixStyle: 'inline-type-imports' },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Plain JS files (this config, bin shims) are not in tsconfig: lint them without types.
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    extends: [tseslint.configs.disableTypeChecked],
    rules: { '@typescript-eslint/consistent-type-imports': 'off' },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: nodeBuiltinRegex, message: nodeBuiltinsMessage },
            {
              group: ['@aws-sdk/*', '@smithy/*', '@kubernetes/*'],
              message: 'Workflows must not call external systems: put the call in an activity.',
            },
            {
              group: ['@temporalio/activity', '@temporalio/client', '@temporalio/worker', '@temporalio/testing'],
              message: 'Workflow code may import only @temporalio/workflow and @temporalio/common.',
            },
          ],
        },
      ],
    },
  },
  {
    // Runtime import cycles make module initialisation order matter and blur which room owns what.
    // `import type` is erased at compile time and does not count.
    files: ['**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      ...importX.flatConfigs.typescript.settings,
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.json' })],
    },
    rules: { 'import-x/no-cycle': ['error', { ignoreExternal: true }] },
  },
  {
    files: ['domain/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ regex: nodeBuiltinRegex, message: nodeBuiltinsMessage }] }],
    },
  },
);
