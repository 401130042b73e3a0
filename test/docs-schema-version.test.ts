/**
 * The operator guide names the schema versions of this release (section 9,
 * SQLite's `PRAGMA user_version` and PostgreSQL's): they are the stores' own.
 */
import { readFileSync } from 'node:fs'
import t from 'tap'
import { LATEST_VERSION, PG_LATEST_VERSION } from '../hub/store/index.js'

const guide = readFileSync(new URL('../docs/operator-guide.md', import.meta.url), 'utf8')

t.test('docs/operator-guide.md gives the schema versions the stores migrate to', async (t) => {
  t.match(guide, new RegExp(`The current schema is version ${LATEST_VERSION} \\(PostgreSQL: ${PG_LATEST_VERSION};`))
  t.match(guide, new RegExp(`PRAGMA user_version'\\s+# ${LATEST_VERSION}\\n`))
  t.match(guide, new RegExp(`PRAGMA user_version'\\s+# ok, ${LATEST_VERSION}\\n`))
})
