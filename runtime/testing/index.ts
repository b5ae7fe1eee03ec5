/** `troupe/testing`: a simulated clock and a test probe, for testing actors without sleeps. */
export { SimulatedClock, nextTurn } from './simulated-clock.ts';
export {
  TestProbe,
  createTestProbe,
  settle,
  EXPECT_WITHIN_MS,
  EXPECT_NO_MESSAGE_MS,
} from './probe.ts';
