/**
 * Merges requests to re-query the same thing within one turn of the event loop, then runs the
 * queries and hands each result over, unless the queue was closed meanwhile. Used for state the
 * kernel announces only partly (ethtool, devlink), where the store asks again instead of trusting
 * the notification's content.
 */
export class RefreshQueue<K, A, R> {
  private readonly queued = new Map<K, A>()
  private scheduled = false
  private closed = false

  constructor(
    private readonly query: (key: K, arg: A) => Promise<R>,
    private readonly deliver: (key: K, result: R) => void,
  ) {}

  ask(key: K, arg: A): void {
    if (this.closed) return
    this.queued.set(key, arg)
    if (this.scheduled) return
    this.scheduled = true
    setImmediate(() => {
      this.scheduled = false
      const batch = [...this.queued]
      this.queued.clear()
      for (const [k, a] of batch)
        void this.query(k, a).then(
          (r) => !this.closed && this.deliver(k, r),
          () => undefined, // the next notification or resync asks again
        )
    })
  }

  close(): void {
    this.closed = true
    this.queued.clear()
  }
}
