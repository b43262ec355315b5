/**
 * Makes a function from generated source: codecs, validators and hashers compile their hot paths
 * once from a declaration (V8 optimizes straight-line code with literal keys and constant indices
 * far better than loops over descriptors).
 *
 * `source` is the body of a factory that returns the function. It names any value it needs through
 * `ref` (each distinct value is passed once, as `$r[i]`); the values of `scope` are visible under their keys,
 * for helpers called on every run, which read faster as plain names.
 */
export function compile<F>(
  source: (ref: (value: unknown) => string) => string,
  scope: Readonly<Record<string, unknown>> = {},
): F {
  const constants: unknown[] = []
  const index = new Map<unknown, number>()
  const ref = (value: unknown) => {
    let i = index.get(value)
    if (i === undefined) {
      i = constants.push(value) - 1
      index.set(value, i)
    }
    return `$r[${i}]`
  }
  const body = source(ref)
  const names = Object.keys(scope)
  return new Function('$r', ...names, body)(constants, ...names.map((n) => scope[n])) as F
}
