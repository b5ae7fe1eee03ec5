/**
 * Temporary receivers: addresses under `/temp` that hand what they receive to a function in
 * this thread: ask replies, snapshot listeners, stop waiters. They are registered like actors,
 * so a reply routed by address finds them from wherever it comes; a closed one is gone, and
 * what still arrives goes to dead letters.
 *
 * The function runs outside any actor's turn (a tell it makes has no actor as sender) and is
 * isolated: a throw is logged and harms nothing else.
 */
import { childPath, type ActorPath } from '../../protocol/address.ts';
import { LocalRef, type Delivery, type Target } from './ref.ts';
import type { SystemMessage } from './system-message.ts';
import type { SystemCore } from './system-core.ts';

export const TEMP_PATH = '/temp' as ActorPath;

/**
 * Whether `address` (`troupe://<node>/<path>`) is a temporary receiver's: used once, so a
 * link neither numbers it nor remembers its ref.
 */
export function isTempAddress(address: string): boolean {
  const slash = address.indexOf('/', 9);
  return slash > 0 && address.startsWith('/temp/', slash);
}

export class TempReceiver implements Target {
  readonly path: ActorPath;
  readonly ref: LocalRef;
  gone = false;
  private readonly system: SystemCore;
  private readonly onMessage: (msg: unknown, meta: unknown) => void;
  /** Called instead when the system terminates while this receiver is open. */
  readonly onAbort: ((error: unknown) => void) | null;

  constructor(
    system: SystemCore,
    name: string,
    onMessage: (msg: unknown, meta: unknown) => void,
    onAbort: ((error: unknown) => void) | null = null,
  ) {
    this.system = system;
    this.path = childPath(TEMP_PATH, system.tempPrefix + name);
    this.onMessage = onMessage;
    this.onAbort = onAbort;
    this.ref = new LocalRef(system, this.path, this);
    system.registerTemp(this);
  }

  deliver(msg: unknown, meta: unknown): Delivery {
    if (this.gone) return this.system.undeliverable(this.ref, msg, meta);
    const sys = this.system;
    const saved = sys.current;
    sys.current = null;
    try {
      this.onMessage(msg, meta);
    } catch (error) {
      sys.logger.error(`troupe: listener at ${this.path} threw`, error);
    } finally {
      sys.current = saved;
    }
    return 'enqueued';
  }

  sendSystem(_msg: SystemMessage): void {
    // A temporary receiver has no children, watchers or subscribers: nothing to do.
  }

  close(): void {
    if (this.gone) return;
    this.gone = true;
    this.system.unregisterTemp(this);
  }
}
