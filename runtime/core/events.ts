/**
 * The system's event stream: what happens to actors, as data, for the inspector, traces and
 * tests. Supervisors publish supervision events; the runtime publishes shutdown overruns.
 * Listeners are isolated: one that throws is logged and the others still run.
 */
import type { ActorPath } from '../../protocol/address.ts';
import type { StopReason } from './notices.ts';

export type SupervisionEvent =
  | {
      readonly type: 'child-started';
      readonly supervisor: ActorPath;
      readonly child: ActorPath;
      readonly id: string;
      readonly at: number;
    }
  | {
      readonly type: 'child-failed';
      readonly supervisor: ActorPath;
      readonly child: ActorPath;
      readonly id: string;
      readonly error: unknown;
      readonly at: number;
    }
  | {
      readonly type: 'child-restarted';
      readonly supervisor: ActorPath;
      readonly child: ActorPath;
      readonly id: string;
      /** Backoff before the restart, in ms (0: none). */
      readonly delayMs: number;
      readonly at: number;
    }
  | {
      readonly type: 'child-stopped';
      readonly supervisor: ActorPath;
      readonly child: ActorPath;
      readonly id: string;
      readonly reason: StopReason | 'failed';
      readonly at: number;
    }
  | {
      readonly type: 'intensity-reached';
      readonly supervisor: ActorPath;
      readonly restarts: number;
      readonly intensity: number;
      readonly periodMs: number;
      readonly error: unknown;
      readonly at: number;
    }
  | {
      readonly type: 'escalated';
      readonly supervisor: ActorPath;
      readonly error: unknown;
      readonly at: number;
    }
  | {
      readonly type: 'auto-shutdown';
      readonly supervisor: ActorPath;
      readonly trigger: ActorPath;
      readonly at: number;
    };

export type RuntimeEvent =
  | SupervisionEvent
  | {
      readonly type: 'shutdown-timeout';
      readonly actor: ActorPath;
      readonly shutdownMs: number;
      readonly at: number;
    };

export type EventListener = (event: RuntimeEvent) => void;

export class EventStream {
  private readonly listeners = new Set<EventListener>();
  private readonly onListenerError: (error: unknown) => void;

  constructor(onListenerError: (error: unknown) => void) {
    this.onListenerError = onListenerError;
  }

  /** True when someone listens (publishers may skip building events otherwise). */
  get observed(): boolean {
    return this.listeners.size > 0;
  }

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  publish(event: RuntimeEvent): void {
    for (const l of this.listeners) {
      try {
        l(event);
      } catch (error) {
        this.onListenerError(error);
      }
    }
  }
}
