import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync } from 'node:fs'
import { z } from 'zod'
import { bindMount, createNetnsAt, detachMount, makeSharedMount, SysError } from './sys/index.ts'
import { parseInput } from './validate.ts'

/** Where iproute2 keeps named namespaces, so `ip netns` and rxnetlink see the same ones. */
export const NETNS_DIR = '/run/netns'

const nameSchema = z
  .string()
  .min(1)
  .max(255)
  .refine((s) => !s.includes('/') && s !== '.' && s !== '..', "a namespace name cannot contain '/'")

/** Named network namespaces, managed the way `ip netns add|del|list` does. */
export const namespaces = {
  /** The names of the namespaces in /run/netns (`ip netns list`). */
  list(): string[] {
    try {
      return readdirSync(NETNS_DIR).sort()
    } catch {
      return []
    }
  },

  /** Creates /run/netns/NAME bound to a new network namespace. */
  create(name: string): void {
    const n = parseInput(nameSchema, name, 'namespaces.create')
    mkdirSync(NETNS_DIR, { recursive: true, mode: 0o755 })
    ensureSharedMountPoint()
    const path = `${NETNS_DIR}/${n}`
    try {
      closeSync(openSync(path, 'wx', 0))
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new SysError('namespaces.create', 17, path)
      throw e
    }
    try {
      createNetnsAt(path)
    } catch (e) {
      unlinkSync(path)
      throw e
    }
  },

  /** Removes a named namespace (`ip netns del`); its devices go when nothing else holds it. */
  delete(name: string): void {
    const n = parseInput(nameSchema, name, 'namespaces.delete')
    const path = `${NETNS_DIR}/${n}`
    detachMount(path)
    unlinkSync(path)
  },
}

let sharedChecked = false
/**
 * As iproute2 does, make /run/netns a shared mount point of its own, so the namespaces bound
 * under it are seen from other mount namespaces too.
 */
function ensureSharedMountPoint(): void {
  if (sharedChecked) return
  const mountinfo = readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
  const entry = mountinfo.find((l) => l.split(' ')[4] === NETNS_DIR)
  if (!entry) bindMount(NETNS_DIR, NETNS_DIR)
  if (!entry?.includes('shared:')) makeSharedMount(NETNS_DIR)
  sharedChecked = true
}
