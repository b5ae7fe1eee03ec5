/**
 * The base of every error troupe throws or hands to a supervisor.
 *
 * Each error class carries a stable `code` (tests and callers match on it, never on the
 * text) and the offending values as fields; its message says how to fix the problem.
 */
export class TroupeError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/**
 * A bad option given to a public function: thrown synchronously by constructors and
 * `spawn`, or as a rejection by async functions. `field` names the option path
 * (`options.mailbox.capacity`), `value` is what was given.
 */
export class InvalidOptionError extends TroupeError {
  readonly field: string;
  readonly value: unknown;

  constructor(field: string, value: unknown, expected: string) {
    super('ERR_INVALID_OPTION', `${field} must be ${expected}; got ${describe(value)}`);
    this.field = field;
    this.value = value;
  }
}

/** `v` as an options object, or InvalidOptionError naming `field`. */
export function optionObject(field: string, v: unknown): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new InvalidOptionError(field, v, 'an object');
  return v as Record<string, unknown>;
}

/** Refuses a key of `o` not among `keys`, naming it (`field.key`). */
export function onlyKnownOptions(
  field: string,
  o: Record<string, unknown>,
  keys: readonly string[],
): void {
  for (const k of Object.keys(o))
    if (!keys.includes(k))
      throw new InvalidOptionError(`${field}.${k}`, o[k], `absent (known: ${keys.join(', ')})`);
}

/** Short, safe description of a value for error messages. */
export function describe(value: unknown): string {
  if (typeof value === 'string')
    return JSON.stringify(value.length > 60 ? value.slice(0, 60) + '…' : value);
  if (typeof value === 'function') return 'a function';
  if (value === null || typeof value !== 'object') return String(value);
  if (Array.isArray(value)) return `an array of ${value.length}`;
  const name = value.constructor?.name;
  return name && name !== 'Object' ? `a ${name}` : 'an object';
}
