import { BpfError, bpfFailure } from './errors.ts'
import { closeQuietly, objPin } from './sys.ts'

/**
 * The fd of a bpf object (map or program) that this process owns: readable while open, pinned
 * under a bpffs path, closed once (`using` closes it too). The object itself lives on while
 * anything else holds it: a pin, an attachment, another fd.
 */
export abstract class BpfObjectFd implements Disposable {
  #fd: number
  readonly #noun: 'map' | 'program'

  protected constructor(fd: number, noun: 'map' | 'program') {
    this.#fd = fd
    this.#noun = noun
  }

  get fd(): number {
    if (this.#fd < 0) throw new BpfError({ kind: 'closed', operation: `${this.#noun} fd` })
    return this.#fd
  }

  get closed(): boolean {
    return this.#fd < 0
  }

  /** Pins the object at `path` in a bpf filesystem, where other processes can open it. */
  pin(path: string): void {
    try {
      objPin(this.fd, path)
    } catch (e) {
      throw bpfFailure(`pin ${this.#noun}`, e, path)
    }
  }

  /** Closes this process's fd; closing again does nothing. */
  close(): void {
    if (this.#fd < 0) return
    const fd = this.#fd
    this.#fd = -1
    closeQuietly(fd)
  }

  /** Closes the fd (`using`). */
  [Symbol.dispose](): void {
    this.close()
  }
}
