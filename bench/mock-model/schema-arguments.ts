/**
 * Tool-call arguments built from a tool's JSON schema, deterministically: the same schema
 * and `variant` give the same value, and a different variant gives a different value
 * wherever the schema leaves room (strings, numbers, enums; booleans alternate).
 *
 * - object: every property in `properties`, plus any `required` name it does not describe
 *   (as a string), nested objects built the same way;
 * - string: `<property>-<variant>`, padded or cut to `minLength` / `maxLength`; formats
 *   `date-time`, `date`, `email`, `uri`, `uuid` give a value of that format;
 * - integer / number: `minimum` (or 0) + variant, wrapped into `maximum`;
 * - boolean: true for even variants; array: `max(minItems, 1)` items, at most `maxItems`;
 * - `const`, `enum` (the variant-th value), `default` when nothing else says; `anyOf` / `oneOf`:
 *   the first branch that is not null; `allOf`: the branches merged; a type list: the first
 *   that is not null; `$ref` to `#/...` is resolved against the root schema.
 *
 * Recursion stops at `MAX_DEPTH` levels (a recursive `$ref`): deeper values are null.
 */
import { isRecord, type JsonSchema } from './request.ts';

export const MAX_DEPTH = 8;

const EPOCH_MS = Date.UTC(2026, 0, 1);
const DAY_MS = 86_400_000;

/** The arguments for a tool whose parameters are `schema` (an object schema; `{}` gives `{}`). */
export function argumentsFor(schema: JsonSchema, variant: number): unknown {
  return build({ type: 'object', ...schema }, schema, variant, 'value', 0);
}

function build(
  schema: JsonSchema,
  root: JsonSchema,
  variant: number,
  name: string,
  depth: number,
): unknown {
  if (depth > MAX_DEPTH) return null;
  const resolved = resolve(schema, root);
  if ('const' in resolved) return resolved.const;
  if (Array.isArray(resolved.enum) && resolved.enum.length > 0) {
    return resolved.enum[variant % resolved.enum.length];
  }
  const branch = firstBranch(resolved.anyOf) ?? firstBranch(resolved.oneOf);
  if (branch) return build(branch, root, variant, name, depth + 1);
  if (Array.isArray(resolved.allOf)) {
    return build(merge(resolved.allOf, root), root, variant, name, depth + 1);
  }
  switch (typeOf(resolved)) {
    case 'object':
      return object(resolved, root, variant, depth);
    case 'array':
      return array(resolved, root, variant, name, depth);
    case 'string':
      return string(resolved, variant, name);
    case 'integer':
      return integer(resolved, variant);
    case 'number':
      return integer(resolved, variant);
    case 'boolean':
      return variant % 2 === 0;
    case 'null':
      return null;
    default:
      return 'default' in resolved ? resolved.default : `${name}-${variant}`;
  }
}

function resolve(schema: JsonSchema, root: JsonSchema): JsonSchema {
  let current = schema;
  for (let hops = 0; hops < MAX_DEPTH && typeof current.$ref === 'string'; hops++) {
    const ref = current.$ref;
    if (!ref.startsWith('#')) return {};
    let target: unknown = root;
    for (const key of ref.slice(1).split('/').filter(Boolean)) {
      target = isRecord(target) ? target[key.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined;
    }
    current = isRecord(target) ? target : {};
  }
  return current;
}

function firstBranch(branches: unknown): JsonSchema | undefined {
  if (!Array.isArray(branches)) return undefined;
  const records = branches.filter(isRecord);
  return records.find((b) => b.type !== 'null') ?? records[0];
}

function merge(parts: unknown[], root: JsonSchema): JsonSchema {
  const properties: Record<string, unknown> = {};
  const required: unknown[] = [];
  let merged: JsonSchema = {};
  for (const part of parts.filter(isRecord).map((p) => resolve(p, root))) {
    merged = { ...merged, ...part };
    if (isRecord(part.properties)) Object.assign(properties, part.properties);
    if (Array.isArray(part.required)) required.push(...part.required);
  }
  delete merged.allOf;
  return Object.keys(properties).length > 0 ? { ...merged, properties, required } : merged;
}

function typeOf(schema: JsonSchema): string | undefined {
  const type = schema.type;
  if (typeof type === 'string') return type;
  if (Array.isArray(type)) {
    const first = type.find((t) => t !== 'null') ?? type[0];
    return typeof first === 'string' ? first : undefined;
  }
  if (isRecord(schema.properties)) return 'object';
  if (schema.items !== undefined) return 'array';
  return undefined;
}

function object(schema: JsonSchema, root: JsonSchema, variant: number, depth: number) {
  const out: Record<string, unknown> = {};
  const properties = isRecord(schema.properties) ? schema.properties : {};
  for (const [key, sub] of Object.entries(properties)) {
    out[key] = build(isRecord(sub) ? sub : {}, root, variant, key, depth + 1);
  }
  if (Array.isArray(schema.required)) {
    for (const key of schema.required) {
      if (typeof key === 'string' && !(key in out)) out[key] = `${key}-${variant}`;
    }
  }
  return out;
}

function array(schema: JsonSchema, root: JsonSchema, variant: number, name: string, depth: number) {
  const min = typeof schema.minItems === 'number' ? schema.minItems : 0;
  const max = typeof schema.maxItems === 'number' ? schema.maxItems : Infinity;
  const length = Math.min(Math.max(min, 1), max);
  const items = isRecord(schema.items) ? schema.items : {};
  return Array.from({ length }, (_, i) => build(items, root, variant + i, name, depth + 1));
}

function string(schema: JsonSchema, variant: number, name: string): string {
  const formatted = format(schema.format, variant);
  if (formatted !== undefined) return formatted;
  let value = `${name}-${variant}`;
  const min = typeof schema.minLength === 'number' ? schema.minLength : 0;
  const max = typeof schema.maxLength === 'number' ? schema.maxLength : Infinity;
  if (value.length < min) value = value.padEnd(min, 'x');
  // the variant's digits are kept when the cut is shorter than the name
  if (value.length > max) value = String(variant).slice(-max).padStart(Math.min(max, 1), '0');
  return value;
}

function format(fmt: unknown, variant: number): string | undefined {
  const date = new Date(EPOCH_MS + variant * DAY_MS).toISOString();
  switch (fmt) {
    case 'date-time':
      return date;
    case 'date':
      return date.slice(0, 10);
    case 'email':
      return `user${variant}@example.com`;
    case 'uri':
    case 'url':
      return `https://example.com/${variant}`;
    case 'uuid':
      return `00000000-0000-4000-8000-${String(variant).padStart(12, '0')}`;
    default:
      return undefined;
  }
}

function integer(schema: JsonSchema, variant: number): number {
  const exclusiveMin =
    typeof schema.exclusiveMinimum === 'number' ? schema.exclusiveMinimum + 1 : 0;
  const lo = typeof schema.minimum === 'number' ? schema.minimum : exclusiveMin;
  const exclusiveMax =
    typeof schema.exclusiveMaximum === 'number' ? schema.exclusiveMaximum - 1 : Infinity;
  const hi = typeof schema.maximum === 'number' ? schema.maximum : exclusiveMax;
  const start = Math.ceil(lo);
  const span = Math.floor(hi) - start + 1;
  if (!Number.isFinite(span)) return start + variant;
  if (span <= 0) return lo;
  return start + (variant % span);
}
