/** A system on a simulated clock with a logger that records instead of printing. */
import { createSystem, type ActorSystem, type Logger, type SystemOptions } from '../../index.ts';
import { SimulatedClock } from '../../testing.ts';

export interface TestSystem {
  readonly system: ActorSystem;
  readonly clock: SimulatedClock;
  readonly logs: { level: 'info' | 'warn' | 'error'; message: string; details: unknown[] }[];
}

export function testSystem(options: Omit<SystemOptions, 'clock' | 'logger'> = {}): TestSystem {
  const clock = new SimulatedClock();
  const logs: TestSystem['logs'] = [];
  const logger: Logger = {
    info: (message, ...details) => logs.push({ level: 'info', message, details }),
    warn: (message, ...details) => logs.push({ level: 'warn', message, details }),
    error: (message, ...details) => logs.push({ level: 'error', message, details }),
  };
  return { system: createSystem({ ...options, clock, logger }), clock, logs };
}
