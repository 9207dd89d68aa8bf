// ESLint over src/, test/, bench/ and web/: typescript-eslint's recommended rules with type information
// (they catch the faults of an async server: floating or misused promises, awaiting non-promises).
// Formatting is Prettier's, not ESLint's.
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  globalIgnores(['dist/', 'coverage/', 'drizzle/', 'bench/results/', 'bench/baselines/', '**/dist/', 'examples/', 'packages/*/vitest.config.ts']),
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      // One program for every file (the root tsconfig includes web/ too): a project service, or one
      // program per tsconfig, takes half as long again.
      parserOptions: { project: './tsconfig.json', tsconfigRootDir: import.meta.dirname },
      globals: { ...globals.node },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // `_`-prefixed names say "unused on purpose" (a parameter a signature needs, a skipped element).
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
      // A value imported only for its type is still loaded at run time unless it says `type`.
      '@typescript-eslint/consistent-type-imports': [
        'error',
        { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false },
      ],
      // Passing on a caught or untyped error (an iterator's throw(), a library callback's) invents no non-Error.
      '@typescript-eslint/prefer-promise-reject-errors': [
        'error',
        { allowThrowingAny: true, allowThrowingUnknown: true },
      ],
      // graphql-ws types a client's dispose() as `void | Promise<void>`: Promise.all over them is right.
      '@typescript-eslint/await-thenable': ['error', { allowMixedPromiseArrays: true }],
      // `async` without `await` is how a method keeps a promise-returning contract and turns a throw
      // into a rejection.
      '@typescript-eslint/require-await': 'off',
      // whatwg-node types Yoga's endResponse as a method although it is bound, and Yoga's plugins
      // destructure it: the rule would flag every plugin.
      '@typescript-eslint/unbound-method': 'off',
      eqeqeq: ['error', 'always', { null: 'ignore' }],
    },
  },
  {
    // Tests read GraphQL and JSON answers as `any` on purpose (test/helpers/gql.ts): their expect()
    // calls check the shape, so the no-unsafe-* rules would only add casts.
    files: ['test/**/*.ts', 'packages/*/test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    // The page runs in a browser; its build script runs in Node.
    files: ['web/**/*.ts'],
    ignores: ['web/build.ts'],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    // Config files outside the tsconfig: no type information for them.
    files: ['**/*.js', '**/*.cjs'],
    extends: [tseslint.configs.disableTypeChecked],
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
  },
);
