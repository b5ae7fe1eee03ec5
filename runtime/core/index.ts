/**
 * The kernel's interface for the parts that plug into it (runtime/shards, nodes, cluster,
 * gateway, topics, inspector, testing): they import the kernel from here, never its files;
 * eslint holds it (eslint.config.js). Of the cell, only what placing actors on other threads
 * needs is here.
 */
export * from './ask.ts';
export * from './behaviour.ts';
export * from './boundary.ts';
export * from './clock-timers.ts';
export * from './clock.ts';
export * from './context.ts';
export * from './dead-letters.ts';
export * from './envelope.ts';
export * from './error.ts';
export * from './events.ts';
export * from './extension.ts';
export * from './failure.ts';
export * from './logger.ts';
export * from './mailbox.ts';
export * from './notices.ts';
export * from './offload.ts';
export * from './options.ts';
export * from './outbox.ts';
export * from './persistence.ts';
export * from './principal.ts';
export * from './ref.ts';
export * from './refcodec.ts';
export * from './routes.ts';
export * from './scheduler.ts';
export * from './shutdown-phases.ts';
export * from './subscribers.ts';
export * from './system-api.ts';
export * from './system-core.ts';
export * from './system-message.ts';
export * from './system.ts';
export * from './telemetry.ts';
export * from './temp.ts';
export * from './timers.ts';
export * from './wire-ref.ts';
export {
  ActorCell,
  ActorStoppedError,
  NameTakenError,
  keyName,
  senderOf,
  spawnDetached,
  type Lifecycle,
  lifecycleName,
  HALTED,
  RUNNING,
  STOPPED,
  SUSPENDED,
  type Kid,
  type ParentLink,
  type RemoteKid,
} from './cell.ts';
