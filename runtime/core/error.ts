/**
 * Errors of bad options given to the runtime's public functions, and the helpers that check
 * options. The base class (TroupeError) and `describe` are the wire's (protocol/error.ts).
 */
import { TroupeError, describe } from '../../protocol/error.ts';

export { TroupeError, describe } from '../../protocol/error.ts';

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
