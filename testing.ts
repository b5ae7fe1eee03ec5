/** `troupe/testing`: what users need to test their own actors without sleeps. */
export * from './runtime/testing/index.ts';
