/** The client SDK's typed errors (browser-safe: plain Errors with a `code`). */
import type { ErrorCode } from '../client-protocol.ts';

export { InvalidRequestError } from '../client-protocol.ts';

export class TroupeClientError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** The gateway refused or failed a request (`error` frame); `code` says why. */
export class RequestError extends TroupeClientError {
  declare readonly code: ErrorCode;
  /** The request's target (address, path or topic). */
  readonly target: string;
  constructor(code: ErrorCode, message: string, target: string) {
    super(code, message);
    this.target = target;
  }
}

/** `authorize` said no. */
export class ForbiddenError extends RequestError {}

/** A step of the gateway's admission chain refused the request (`refused`); the message says why. */
export class RefusedError extends RequestError {}

/** A limit of the gateway's admission chain (`limited`): the request may succeed later. */
export class LimitedError extends RequestError {}

/** No answer in time: the ask's timeout, or no connection for the request's timeout. */
export class TimeoutError extends RequestError {}

/** The connection dropped while the request waited for its answer: it may or may not have run. */
export class ConnectionLostError extends TroupeClientError {
  constructor(message = 'the connection was lost before the answer came') {
    super('connection-lost', message);
  }
}

/** `client.close()` was called. */
export class ClientClosedError extends TroupeClientError {
  constructor() {
    super('client-closed', 'the client is closed');
  }
}

/**
 * The gateway refused the upgrade with this HTTP status (401: not authenticated, 403: origin
 * not allowed, …). Only a Node client can tell: a browser is not shown the status.
 */
export class ConnectionRefusedError extends TroupeClientError {
  readonly status: number;
  constructor(status: number) {
    super(
      status === 401 ? 'unauthenticated' : 'refused',
      `the gateway refused the connection (HTTP ${status})`,
    );
    this.status = status;
  }
}

export function requestError(code: ErrorCode, message: string, target: string): RequestError {
  if (code === 'forbidden') return new ForbiddenError(code, message, target);
  if (code === 'timeout') return new TimeoutError(code, message, target);
  if (code === 'refused') return new RefusedError(code, message, target);
  if (code === 'limited') return new LimitedError(code, message, target);
  return new RequestError(code, message, target);
}
