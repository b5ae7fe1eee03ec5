/** The Clock the runtime runs on: defined in protocol/clock.ts, shared with the client SDK. */
export { systemClock, type Clock } from '../../protocol/clock.ts';
