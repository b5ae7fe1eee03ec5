// ESLint flat config: typescript-eslint's type-checked rules over every TypeScript file.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** The parts that plug into the kernel, each a folder of runtime/ (docs/architecture.md). */
const PARTS = ['shards', 'nodes', 'cluster', 'gateway', 'inspector', 'topics', 'testing'];

export default tseslint.config(
  {
    ignores: [
      'node_modules/**',
      'dist/**',
      'bench/results/**',
      'test-output/**',
      'eslint.config.js',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      'no-empty': ['error', { allowEmptyCatch: false }],
      // behaviours are objects of optional hooks, read once and invoked with .call(behaviour, …)
      '@typescript-eslint/unbound-method': 'off',
      // XState's `types: {} as T` idiom is an assertion that only drives inference: --fix would delete it
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      // a failed ask rejects with whatever the actor failed with: user code may throw non-Errors
      '@typescript-eslint/prefer-promise-reject-errors': 'off',
    },
  },
  // The layers (docs/architecture.md): each imports only those below it.
  ...layer('protocol/**', 'protocol/ is the wire: it knows no actors', [
    'runtime',
    'actors',
    'supervisors',
    'sandbox',
  ]),
  ...layer('runtime/**', 'runtime/ sits below behaviours, supervisors and the sandbox', [
    'actors',
    'supervisors',
    'sandbox',
  ]),
  // the kernel knows none of its parts; the parts reach the kernel through its interface
  {
    files: ['runtime/core/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            ...below('runtime/ sits below behaviours, supervisors and the sandbox', [
              'actors',
              'supervisors',
              'sandbox',
            ]),
            {
              group: ['../*.ts', ...PARTS.map((part) => `../${part}/**`)],
              message:
                'runtime/core/ is the kernel: it imports none of its parts (they plug in as extensions, runtime/core/extension.ts)',
            },
          ],
        },
      ],
    },
  },
  {
    files: PARTS.map((part) => `runtime/${part}/**`),
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            ...below('runtime/ sits below behaviours, supervisors and the sandbox', [
              'actors',
              'supervisors',
              'sandbox',
            ]),
            {
              group: ['**/core/*', '!**/core/index.ts'],
              message:
                "a part imports the kernel through its interface, runtime/core/index.ts, never the kernel's files",
            },
          ],
        },
      ],
    },
  },
  ...layer('sandbox/**', 'the sandbox knows no agents or supervisors', ['actors', 'supervisors']),
  ...layer('supervisors/**', 'supervisors know no agents', ['actors/agent']),
  ...layer('actors/*.ts', 'behaviours know no agents', ['actors/agent', 'agent']),
  ...oneClock(
    ['runtime/**/*.ts', 'protocol/client/**/*.ts', 'actors/**/*.ts', 'supervisors/**/*.ts'],
    // the clock and the timer heap themselves, and the testing kit's simulated clock
    // (protocol/clock.ts is outside the files above); sandbox/ is not in them either: its
    // watchdog measures real CPU and wall time on purpose
    ['runtime/core/timers.ts', 'runtime/testing/**'],
  ),
);

/**
 * One clock (protocol/clock.ts): in `files`, time is read and timers are armed through the
 * injected Clock (`system.clock`, `system.timers`, a client's `options.clock`), so that unit
 * tests drive a simulated clock instead of sleeping. Where real time is meant, the line says so
 * with an eslint-disable comment that gives the reason.
 */
function oneClock(files, ignores) {
  const message =
    'use the injected Clock (system.clock / system.timers, runtime/core/clock-timers.ts; a client: options.clock), or say with an eslint-disable comment why this must be real time';
  const timers = ['setTimeout', 'setInterval', 'clearTimeout', 'clearInterval'];
  return [
    {
      files,
      ignores,
      rules: {
        'no-restricted-globals': ['error', ...timers.map((name) => ({ name, message }))],
        'no-restricted-properties': [
          'error',
          { object: 'Date', property: 'now', message },
          { object: 'performance', property: 'now', message },
          ...['globalThis', 'window', 'self', 'global'].flatMap((object) =>
            timers.map((property) => ({ object, property, message })),
          ),
        ],
        'no-restricted-syntax': [
          'error',
          { selector: "NewExpression[callee.name='Date'][arguments.length=0]", message },
          {
            selector: 'ImportDeclaration[source.value=/^(node:)?timers(\\u002Fpromises)?$/]',
            message,
          },
        ],
      },
    },
  ];
}

/** Files matching `files` may not import from the folders `below` names (at any depth). */
function layer(files, why, forbidden) {
  return [
    {
      files: [files],
      rules: { 'no-restricted-imports': ['error', { patterns: below(why, forbidden) }] },
    },
  ];
}

/** The import patterns of the folders `forbidden` names, at any depth. */
function below(why, forbidden) {
  return forbidden.map((folder) => ({
    group: [`**/${folder}/**`, `./${folder}/**`],
    message: why,
  }));
}
