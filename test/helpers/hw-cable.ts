/** A simulated serial cable that can be pulled: every read in progress on a wrapped port then fails, as on real hardware. */
export class PullableCable {
  readonly #waiting = new Set<(err: Error) => void>()

  /** Wrap a port's `read` so `pull()` rejects it while it waits. */
  wrapRead<T>(read: (buf: Buffer, offset: number, length: number) => Promise<T>): (buf: Buffer, offset: number, length: number) => Promise<T> {
    return (buf, offset, length) =>
      new Promise<T>((resolve, reject) => {
        const onPull = (err: Error): void => reject(err)
        this.#waiting.add(onPull)
        read(buf, offset, length)
          .then(resolve, reject)
          .finally(() => this.#waiting.delete(onPull))
      })
  }

  pull(): void {
    for (const fail of [...this.#waiting]) fail(new Error('device disconnected'))
  }
}
