/** Waiting for a running hub to apply account changes (hub/accounts/live-accounts.ts). */
import type { AppliedChange } from '../../hub/accounts/index.js'
import type { Hub } from '../../hub/app.js'

/** Resolves once `hub` applied the store's accounts as they are now (a change just made by the CLI included; with mqtt.mosquitto, files written and SIGHUP sent). */
export async function accountsCaughtUp(hub: Hub): Promise<void> {
  const target = await hub.context.store.accounts.version()
  if (hub.accounts.live.version >= target) return
  await new Promise<void>((resolve) => {
    const on = (c: AppliedChange): void => {
      if (c.version < target) return
      hub.accounts.live.off('applied', on)
      resolve()
    }
    hub.accounts.live.on('applied', on)
  })
}
