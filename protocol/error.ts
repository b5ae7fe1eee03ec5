/**
 * The base of every error troupe throws or hands to a supervisor, and the short description
 * of a value its messages use. In protocol/ (the wire knows no actors): the runtime, the
 * extensions and the wire codecs all throw these.
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
