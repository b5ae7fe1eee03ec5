/**
 * The per-request control headers; each wins over the server's option of the same meaning.
 *
 * | header                     | value                                   | option            |
 * | -------------------------- | --------------------------------------- | ----------------- |
 * | `x-mock-mode`              | `reply` or `loop`                       | `mode`            |
 * | `x-mock-repeat`            | `1` (repeat loop arguments) or `0`      | `repeatArguments` |
 * | `x-mock-tool`              | the name of an offered tool to call     | `toolName`        |
 * | `x-mock-latency-ms`        | ms ≥ 0 waited before the reply          | `latencyMs`       |
 * | `x-mock-fault`             | `bad-request`, `outage` or `rate-limit` | (faults.ts)       |
 * | `x-mock-cut-after-chunks`  | integer ≥ 0: SSE events before the cut  | `streamCut`       |
 *
 * A bad value is a 400 that names the header.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { FORCED_FAULTS, type ForcedFault } from './faults.ts';
import { MockRequestError } from './request.ts';
import type { MockMode } from './options.ts';

export interface ControlHeaders {
  mode: MockMode | undefined;
  repeat: boolean | undefined;
  tool: string | undefined;
  latencyMs: number | undefined;
  fault: ForcedFault | undefined;
  cutAfterChunks: number | undefined;
}

function one(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function bad(name: string, value: string, expected: string): never {
  throw new MockRequestError(`header ${name} must be ${expected}, got '${value}'`, name);
}

function nonNegative(headers: IncomingHttpHeaders, name: string, integer: boolean) {
  const raw = one(headers, name);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (
    raw.trim() === '' ||
    !Number.isFinite(value) ||
    value < 0 ||
    (integer && !Number.isInteger(value))
  ) {
    bad(name, raw, integer ? 'an integer ≥ 0' : 'a number ≥ 0');
  }
  return value;
}

export function readControlHeaders(headers: IncomingHttpHeaders): ControlHeaders {
  const mode = one(headers, 'x-mock-mode');
  if (mode !== undefined && mode !== 'reply' && mode !== 'loop')
    bad('x-mock-mode', mode, "'reply' or 'loop'");
  const repeat = one(headers, 'x-mock-repeat');
  if (repeat !== undefined && repeat !== '0' && repeat !== '1')
    bad('x-mock-repeat', repeat, "'0' or '1'");
  const fault = one(headers, 'x-mock-fault');
  if (fault !== undefined && !(FORCED_FAULTS as readonly string[]).includes(fault)) {
    bad('x-mock-fault', fault, FORCED_FAULTS.join(', '));
  }
  const tool = one(headers, 'x-mock-tool');
  return {
    mode,
    repeat: repeat === undefined ? undefined : repeat === '1',
    tool: tool === '' ? undefined : tool,
    latencyMs: nonNegative(headers, 'x-mock-latency-ms', false),
    fault: fault as ForcedFault | undefined,
    cutAfterChunks: nonNegative(headers, 'x-mock-cut-after-chunks', true),
  };
}
