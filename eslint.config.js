// Lint: the recommended TypeScript rules plus the few that STYLE.md makes
// explicit (no console in library code, no explicit any at boundaries).
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'docs/**', 'coverage/**', '.tap/**', 'data/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'error',
    },
  },
  {
    // Programs that talk to a terminal: the CLI, the simulator's output, tests and benches.
    files: ['cli.ts', 'cli/**', 'vehicle-sim/output*.ts', 'test/**', 'bench/**', '**/commands/**'],
    rules: { 'no-console': 'off' },
  },
)
