/** A johnny-five IO plugin published under a name, without a default export (like raspi-io's RaspiIO). */
import { MockIo } from '../../hw/mock-io.js'

export class NamedIo extends MockIo {}
export const helperValue = 42
