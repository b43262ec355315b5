import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { AF_UNIX, closeFd, SOCK_CLOEXEC, SOCK_STREAM, socketPair } from '../../src/netlink/sys/index.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

/** Drops to uid/gid 65534 with no groups and no capabilities (not even in the bounding set). */
const UNPRIVILEGED = [
  'setpriv',
  '--reuid=65534',
  '--regid=65534',
  '--clear-groups',
  '--inh-caps=-all',
  '--bounding-set=-all',
  '--',
]

export interface ChildRun<R> {
  /** Our end of the socketpair; the child has the other end as fd 3. */
  readonly socket: number
  readonly child: ChildProcess
  /** The JSON line the child prints when done. */
  readonly result: Promise<{ identity: { uid: number; capEff: string; capBnd: string }; result: R }>
  close(): void
}

/**
 * Starts test/fixtures/fd-child.ts in `mode`, connected by a Unix socketpair; inside `netns` when
 * given (entered before privileges are dropped).
 */
export function runChild<R>(
  mode: string,
  options: { unprivileged?: boolean; timeoutMs?: number; netns?: string } = {},
): ChildRun<R> {
  const [ours, theirs] = socketPair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC)
  const argv = [
    ...(options.netns ? ['ip', 'netns', 'exec', options.netns] : []),
    ...(options.unprivileged ? UNPRIVILEGED : []),
    process.execPath,
    '--import',
    'tsx',
    'test/fixtures/fd-child.ts',
    mode,
  ]
  const child = spawn(argv[0]!, argv.slice(1), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe', theirs] })
  closeFd(theirs)
  let out = ''
  let err = ''
  child.stdout?.on('data', (d) => {
    out += d
  })
  child.stderr?.on('data', (d) => {
    err += d
  })
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000)
  const result = new Promise<never>((resolve, reject) => {
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      const line = out.trim().split('\n').pop() ?? ''
      try {
        const parsed = JSON.parse(line)
        if (code === 0) resolve(parsed as never)
        else reject(new Error(`child ${mode} failed (${code ?? signal}): ${parsed.error ?? line}\n${err}`))
      } catch {
        reject(new Error(`child ${mode} exited ${code ?? signal} without a result:\n${out}\n${err}`))
      }
    })
  })
  let closed = false
  return {
    socket: ours,
    child,
    result,
    close() {
      if (closed) return
      closed = true
      closeFd(ours)
      if (child.exitCode === null) child.kill('SIGKILL')
    },
  }
}
