// Pure request-number arithmetic, kept apart from ioctl.ts so that modules without I/O (codecs,
// tun/tap request encoders) can compute ioctl numbers without loading the FFI.

/** Linux _IOC encoding: dir(2) size(14) type(8) nr(8). */
export function ioc(dir: 'none' | 'w' | 'r' | 'rw', type: string, nr: number, size: number): number {
  const d = { none: 0, w: 1, r: 2, rw: 3 }[dir]
  return ((d << 30) | (size << 16) | (type.charCodeAt(0) << 8) | nr) >>> 0
}
