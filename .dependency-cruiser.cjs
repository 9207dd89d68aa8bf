// The import rules of the house: data flows one way, transport -> graphql -> auth -> db, and only the
// entry point (src/main.ts) and the composition root (src/app.ts) wire it all up.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Modules in src/ must not import each other, directly or through others: split out what both need.',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'db-not-upward',
      severity: 'error',
      comment: 'src/db/ is storage: it knows nothing of the domain (auth/), the API (graphql/) or transport/.',
      from: { path: '^src/db/' },
      to: { path: '^src/(auth|graphql|transport)/' },
    },
    {
      name: 'auth-not-upward',
      severity: 'error',
      comment:
        'src/auth/ is the domain: it knows nothing of GraphQL or transport, and receives its settings ' +
        'as plain values instead of reading src/config.ts.',
      from: { path: '^src/auth/' },
      to: { path: '^src/(graphql/|transport/|config\\.ts$)' },
    },
    {
      name: 'graphql-not-to-db',
      severity: 'error',
      comment: 'src/graphql/ is the API layer: it calls the domain (auth/), never storage (db/).',
      from: { path: '^src/graphql/' },
      to: { path: '^src/db/' },
    },
    {
      name: 'only-main-imports-app',
      severity: 'error',
      comment: 'src/app.ts is the composition root: only src/main.ts (and tests, benchmarks) may import it.',
      from: { path: '^src/', pathNot: '^src/main\\.ts$' },
      to: { path: '^src/app\\.ts$' },
    },
    {
      name: 'nothing-imports-main',
      severity: 'error',
      comment: 'src/main.ts is the entry point, with side effects on import: nothing in src/ imports it.',
      from: { path: '^src/' },
      to: { path: '^src/main\\.ts$' },
    },
    {
      name: 'src-not-to-test-or-bench',
      severity: 'error',
      comment: 'Production code never imports test or benchmark code.',
      from: { path: '^src/' },
      to: { path: '^(test|bench)/' },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that cannot be resolved: a typo, or a package missing from package.json.',
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: 'not-to-dev-dep',
      severity: 'error',
      comment: 'src/ runs in production, where devDependencies are not installed (type-only imports are fine).',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'], pathNot: ['node_modules/@types/'] },
    },
  ],
  options: {
    doNotFollow: { path: ['node_modules'] },
    // TypeScript ESM imports say './x.js' for './x.ts': dependency-cruiser resolves a missing .js from a
    // .ts file to its .ts (built in; enhanced-resolve's extensionAlias is not in its schema), and
    // not-to-unresolvable above fails if one slips through. Pre-compilation deps count type-only
    // imports too, so a type cannot smuggle a forbidden edge in.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.d.ts', '.json'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    skipAnalysisNotInRules: true,
  },
};
