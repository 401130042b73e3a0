/** The StationOutbox contract, run against the SQLite outbox and the in-memory double the agent tests inject. */
import { join } from 'node:path'
import t from 'tap'
import { Outbox, OUTBOX_FILE } from '../station/outbox.js'
import { MemoryOutbox } from './helpers/station-doubles.js'
import { tempDir } from './helpers/station-agent.js'
import { outboxContract } from './helpers/station-outbox-contract.js'

outboxContract(t, 'sqlite', () => {
  const dir = tempDir()
  return { outbox: Outbox.open(dir), reopen: () => new Outbox(join(dir, OUTBOX_FILE)) }
})

outboxContract(t, 'memory double', () => {
  const outbox = new MemoryOutbox()
  return { outbox, reopen: () => outbox }
})
