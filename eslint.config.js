// ESLint: correctness rules, a line length, and the operator's layers (docs/architecture.md). `make lint`.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

/** Tests and their support modules: they may build objects of any package and read the time. */
const TESTS = ['**/*.test.ts', 'operator/testing/**', 'operator/server/hostile-webhooks/**', 'e2e/**', 'bench/**'];

/** An import of any module under `operator/<dir>/`, from any depth, as a relative specifier names it. */
const into = (dir, message, allowTypeImports = false) => ({ regex: `^(\\.\\.?/)+(.*/)?${dir}/`, message, allowTypeImports });
/** Node and npm modules that do I/O: a pure package must not reach them. */
const IO_MODULES = [
  'node:http',
  'node:https',
  'node:tls',
  'node:dns',
  'node:fs',
  'node:fs/promises',
  'node:child_process',
  'node:dgram',
  '@kubernetes/client-node',
  '@dot-i/k8s-operator',
  'winston',
  'prom-client',
];
const pure = (message) => [
  ...IO_MODULES.map((name) => ({ name, message })),
  { name: 'node:net', allowImportNames: ['isIP', 'isIPv4', 'isIPv6'], message: `${message} (node:net's address checks are allowed)` },
];

/**
 * What each package may import (low to high): meta → gitlab → api → flux → reconcile (pure) ; kube → queue →
 * observability → server → push, leader → controllers → main; gitlab-api (the GitLab REST client) sits on meta
 * and gitlab, reconcile may name its types, controllers use it. A package lists the packages it must not reach.
 */
const LAYERS = [
  {
    files: ['operator/meta/**/*.ts'],
    patterns: [
      'gitlab',
      'gitlab-api',
      'api',
      'flux',
      'reconcile',
      'kube',
      'queue',
      'observability',
      'server',
      'push',
      'leader',
      'controllers',
    ].map((d) => into(d, 'meta/ is the bottom layer: it imports nothing of the operator.')),
    paths: pure('meta/ is pure.'),
  },
  {
    files: ['operator/gitlab/**/*.ts'],
    patterns: ['gitlab-api', 'api', 'flux', 'reconcile', 'kube', 'queue', 'observability', 'server', 'push', 'leader', 'controllers'].map(
      (d) => into(d, 'gitlab/ knows GitLab only: it sits below api/, reconcile/ and push/.'),
    ),
    paths: pure('gitlab/ is pure (the GitLab API client is gitlab-api/, allowed to reconcile/ only as types).'),
  },
  {
    files: ['operator/gitlab-api/**/*.ts'],
    patterns: ['api', 'flux', 'reconcile', 'kube', 'queue', 'observability', 'server', 'push', 'leader', 'controllers'].map((d) =>
      into(d, "gitlab-api/ is GitLab's REST API client: it knows GitLab's API, not links; it imports only meta/ and gitlab/."),
    ),
  },
  {
    files: ['operator/api/**/*.ts'],
    patterns: ['gitlab-api', 'flux', 'reconcile', 'kube', 'queue', 'observability', 'server', 'push', 'leader', 'controllers'].map((d) =>
      into(d, 'api/ is the link API: types, conditions, validation; it imports only meta/ and gitlab/.'),
    ),
    paths: pure('api/ is pure.'),
  },
  {
    files: ['operator/flux/**/*.ts'],
    patterns: ['gitlab', 'api', 'reconcile', 'kube', 'queue', 'observability', 'server', 'push', 'leader', 'controllers'].map((d) =>
      into(d, "flux/ holds Flux's own types only."),
    ),
    paths: pure('flux/ is pure.'),
  },
  {
    files: ['operator/reconcile/**/*.ts'],
    patterns: [
      ...['kube', 'observability', 'server', 'push', 'leader', 'controllers'].map((d) =>
        into(d, 'reconcile/ is pure: decisions only, no I/O; the shell (controllers/) does the reads and writes.'),
      ),
      into('queue', "reconcile/ may name the queue's Outcome type, nothing else of it.", true),
      into('gitlab-api', "reconcile/ may name the GitLab client's types, never call it (a hook's fields are in gitlab/).", true),
    ],
    paths: pure('reconcile/ is pure: no I/O module.'),
  },
  {
    files: ['operator/kube/**/*.ts'],
    patterns: ['gitlab', 'api', 'flux', 'reconcile', 'queue', 'observability', 'server', 'push', 'leader', 'controllers'].map((d) =>
      into(d, 'kube/ is the Kubernetes client and caches: it knows objects, not links.'),
    ),
  },
  {
    files: ['operator/queue/**/*.ts'],
    patterns: ['gitlab', 'api', 'flux', 'reconcile', 'kube', 'observability', 'server', 'push', 'leader', 'controllers'].map((d) =>
      into(d, 'queue/ is generic: keys and time only.'),
    ),
  },
  {
    files: ['operator/observability/**/*.ts', 'operator/server/**/*.ts', 'operator/leader/**/*.ts'],
    patterns: ['gitlab', 'api', 'flux', 'reconcile', 'push', 'controllers'].map((d) =>
      into(d, 'observability/, server/ and leader/ are infrastructure: they know nothing of links or pushes.'),
    ),
  },
  {
    files: ['operator/push/**/*.ts'],
    patterns: [
      into(
        'controllers',
        'push/ must not reach into controllers/: main.ts wires the two (e.g. the status writer through the PushRecords interface).',
      ),
    ],
  },
  {
    files: ['operator/controllers/**/*.ts'],
    patterns: [
      into('push', 'controllers/ must not reach into push/: main.ts wires the two.'),
      into('server', 'controllers/ do not serve HTTP.'),
    ],
  },
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.testenv/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    files: ['**/*.ts'],
    rules: {
      // Prettier wraps code at 140; this catches what it leaves alone (comments, long code lines without strings).
      'max-len': [
        'error',
        { code: 140, tabWidth: 2, ignoreUrls: true, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      eqeqeq: ['error', 'always'],
      // One import per module (type-only names inline): the layers read at a glance.
      'no-duplicate-imports': 'error',
      'no-restricted-syntax': [
        'error',
        { selector: "CallExpression[callee.object.name='Date'][callee.property.name='now']", message: 'Use the injected clock.' },
      ],
    },
  },
  {
    // The clock rule is for the controllers' decisions; clients, the queue's real clock and tests may read the time.
    files: [
      'operator/kube/**',
      'operator/gitlab-api/**',
      'operator/queue/**',
      'operator/push/**',
      'operator/leader/**',
      'operator/observability/**',
      ...TESTS,
    ],
    rules: { 'no-restricted-syntax': 'off' },
  },
  {
    // Tests and the test harness: chai's property assertions, and `any` for JSON read back from the API server.
    files: TESTS,
    rules: { '@typescript-eslint/no-unused-expressions': 'off', '@typescript-eslint/no-explicit-any': 'off' },
  },
  // Layers apply to the operator's code; its tests may read fixtures and build objects of any package.
  ...LAYERS.map(({ files, patterns, paths }) => ({
    files,
    ignores: TESTS,
    rules: { 'no-restricted-imports': ['error', { patterns, paths: paths ?? [] }] },
  })),
);
