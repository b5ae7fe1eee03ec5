// ESLint flat config: typescript-eslint's type-checked rules over every TypeScript file.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

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
  ...layer('sandbox/**', 'the sandbox knows no agents or supervisors', ['actors', 'supervisors']),
  ...layer('supervisors/**', 'supervisors know no agents', ['actors/agent']),
  ...layer('actors/*.ts', 'behaviours know no agents', ['actors/agent', 'agent']),
);

/** Files matching `files` may not import from the folders `below` names (at any depth). */
function layer(files, why, forbidden) {
  return [
    {
      files: [files],
      rules: {
        'no-restricted-imports': [
          'error',
          {
            patterns: forbidden.map((folder) => ({
              group: [`**/${folder}/**`, `./${folder}/**`],
              message: why,
            })),
          },
        ],
      },
    },
  ];
}
