// Lint: the recommended TypeScript rules plus the few that STYLE.md makes
// explicit (no console in library code, no explicit any at boundaries), and
// the rooms' import boundaries (docs/architecture.md).
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

/**
 * The rooms and which other rooms each may import (relative imports only;
 * npm packages are free except the hardware libraries below). A room not
 * listed for another may not import it. docs/architecture.md shows this
 * table; test/architecture.test.ts checks that the two agree and that every
 * rule fires.
 */
export const ROOM_IMPORTS = {
  base: [],
  hw: ['base'],
  protocol: ['base'],
  station: ['base', 'hw', 'protocol'],
  hub: ['base', 'protocol'],
  'vehicle-sim': ['base', 'protocol'],
}

/** The only files that may import the hardware libraries. */
export const DRIVER_FILES = ['hw/johnny-five.ts', 'hw/firmata-board.ts', 'hw/serial-port.ts', 'hw/modbus-meter.ts', 'hw/rdm6300-reader.ts']
/** The hardware libraries (drivers); everything else gets hardware through hw/'s interfaces. */
export const DRIVER_LIBRARIES = ['johnny-five', 'serialport', '@serialport/*', 'modbus-serial', 'firmata-io']

const ROOMS = Object.keys(ROOM_IMPORTS)
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

const driverRule = {
  group: DRIVER_LIBRARIES,
  message: `only the hw/ driver files (${DRIVER_FILES.join(', ')}) import hardware libraries; use hw/'s interfaces (docs/architecture.md)`,
}

/** Imports of other rooms the room may not make; with the hardware libraries unless it is a driver file. */
function boundaryRule(room, { driverFile = false } = {}) {
  const forbidden = ROOMS.filter((r) => r !== room && !ROOM_IMPORTS[room].includes(r))
  const patterns = forbidden.map((r) => ({
    regex: `(^|/)${escape(r)}/`,
    message: `${room}/ may not import ${r}/ (it may import: ${ROOM_IMPORTS[room].join(', ') || 'nothing of the project'}; docs/architecture.md)`,
  }))
  return ['error', { patterns: driverFile ? patterns : [...patterns, driverRule] }]
}

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
  // The rooms' boundaries, one block per room.
  ...ROOMS.map((room) => ({ files: [`${room}/**/*.ts`], rules: { 'no-restricted-imports': boundaryRule(room) } })),
  {
    // The top (cli, demo) composes the rooms; it only keeps away from the hardware libraries.
    files: ['*.ts', 'demo/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [driverRule] }] },
  },
  {
    files: DRIVER_FILES,
    rules: { 'no-restricted-imports': boundaryRule('hw', { driverFile: true }) },
  },
)
