/**
 * The error bodies the mock answers with, in the shape each client parses: OpenAI's
 * `{ error: { message, type, param, code } }` for the OpenAI endpoints, Anthropic's
 * `{ type: 'error', error: { type, message } }` for /v1/messages (which also carries `param`
 * and `code`, so an OpenAI-style reader finds them too).
 */

export type Dialect = 'openai' | 'anthropic';

export type ErrorKind =
  'invalid_request' | 'not_found' | 'too_large' | 'rate_limit' | 'outage' | 'internal';

const OPENAI_TYPE: Record<ErrorKind, string> = {
  invalid_request: 'invalid_request_error',
  not_found: 'invalid_request_error',
  too_large: 'invalid_request_error',
  rate_limit: 'requests',
  outage: 'server_error',
  internal: 'server_error',
};

const ANTHROPIC_TYPE: Record<ErrorKind, string> = {
  invalid_request: 'invalid_request_error',
  not_found: 'not_found_error',
  too_large: 'request_too_large',
  rate_limit: 'rate_limit_error',
  outage: 'overloaded_error',
  internal: 'api_error',
};

export interface ErrorDetail {
  kind: ErrorKind;
  message: string;
  code: string;
  param?: string | null;
  /** OpenAI's rate-limit type: which limit was hit */
  limitType?: 'requests' | 'tokens';
}

export function errorBody(dialect: Dialect, detail: ErrorDetail): Record<string, unknown> {
  const param = detail.param ?? null;
  if (dialect === 'anthropic') {
    const type = ANTHROPIC_TYPE[detail.kind];
    return { type: 'error', error: { type, message: detail.message, param, code: detail.code } };
  }
  const type = detail.limitType ?? OPENAI_TYPE[detail.kind];
  return { error: { message: detail.message, type, param, code: detail.code } };
}
