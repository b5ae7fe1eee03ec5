/**
 * troupe: an actor runtime for multi-agent systems.
 * The public API, named export by export (the runtime core and the behaviours).
 */
export {
  createSystem,
  ActorSystem,
  SystemTerminatedError,
  InvalidBehaviourError,
} from './runtime/system.ts';
export type { TerminationReport, SystemState } from './runtime/system.ts';
export type { SystemOptions, SpawnOptions, ShardChoice } from './runtime/options.ts';
export { DEFAULT_THROUGHPUT, DEFAULT_TIME_SLICE_MS } from './runtime/options.ts';
export {
  defineExtension,
  type AddressResolver,
  type Extension,
  type ExtensionCore,
} from './runtime/core/extension.ts';
export type { ShutdownPhase, ShutdownTask } from './runtime/core/shutdown-phases.ts';
export type { SystemApi } from './runtime/system-api.ts';
export { InvalidPrincipalError, narrowPrincipal } from './runtime/core/principal.ts';
export type { ActorRef, Delivery, EncodedRef } from './runtime/core/ref.ts';
export { isActorRef } from './runtime/core/ref.ts';
export type { ActorContext } from './runtime/core/context.ts';
export type { Behaviour, InOf, ReplyOf } from './runtime/core/behaviour.ts';
export { TroupeError, InvalidOptionError } from './runtime/core/error.ts';
export {
  parseAddress,
  formatAddress,
  entityAddress,
  InvalidAddressError,
  InvalidActorNameError,
} from './protocol/address.ts';
export type { Address, ActorPath, NodeId, ParsedAddress } from './protocol/address.ts';
export { DEFAULT_MAILBOX_CAPACITY, MailboxFullError } from './runtime/core/mailbox.ts';
export type { MailboxOptions, OverflowPolicy } from './runtime/core/mailbox.ts';
export { ASK_TIMEOUT_MS, AskTimeoutError, AskDeliveryError } from './runtime/core/ask.ts';
export type { AskOptions } from './runtime/core/ask.ts';
export { NameTakenError, ActorStoppedError } from './runtime/core/cell.ts';
export type { Lifecycle } from './runtime/core/cell.ts';
export {
  ActorFailedError,
  EscalatedError,
  InvalidDirectiveError,
  DEFAULT_DIRECTIVE,
} from './runtime/core/failure.ts';
export type { Directive, DirectiveName, ChildFailure } from './runtime/core/failure.ts';
export type { DeadLetter, DeadLetterReason } from './runtime/core/dead-letters.ts';
export type {
  Terminated,
  DeliveryFailed,
  SnapshotUpdate,
  EmittedEvent,
  StopReason,
  TroupeNotice,
} from './runtime/core/notices.ts';
export {
  InMemoryStore,
  PersistenceConflictError,
  MigrationError,
} from './runtime/core/persistence.ts';
export {
  DEFAULT_PASSIVATE_AFTER_MS,
  EntityNotDefinedError,
  type EntityOptions,
} from './runtime/cluster/entities.ts';
export { RedisSnapshotStore, EntityLostError } from './runtime/cluster/redis-store.ts';
export type { ClusterOptions } from './runtime/cluster/options.ts';
export {
  cluster,
  clusterExtension,
  entitiesExtension,
  type ClusterPart,
} from './runtime/cluster/extension.ts';
export type {
  PersistenceStore,
  StoredSnapshot,
  LoadedSnapshot,
  PersistenceOptions,
} from './runtime/core/persistence.ts';
export { encodeValue, decodeValue, SerializationError } from './runtime/core/refcodec.ts';
export { ENVELOPE_VERSION } from './runtime/core/envelope.ts';
export type { Envelope, EnvelopeKind } from './runtime/core/envelope.ts';
export type { Clock } from './runtime/core/clock.ts';
export { systemClock } from './runtime/core/clock.ts';
export type { Logger } from './runtime/core/logger.ts';
export { portable, portableFactory } from './runtime/shards/portable.ts';
export { SHARD_SHUTDOWN_MS } from './runtime/shards/node.ts';
export { shards, shardsExtension, type ShardsOptions } from './runtime/shards/extension.ts';
export { ShardPlacementError, ReminderUnavailableError } from './runtime/system.ts';
export { RemoteError, NotPortableError, ShardLostError } from './runtime/shards/router.ts';
export { RemoteSpawnError } from './runtime/shards/remote.ts';
export {
  offloadTask,
  OffloadError,
  OffloadTaskError,
  OffloadTimeoutError,
  OffloadQueueFullError,
  OffloadAbortedError,
  OffloadDataError,
  OFFLOAD_MAX_THREADS,
  OFFLOAD_MAX_QUEUE,
  OFFLOAD_TIMEOUT_MS,
  OFFLOAD_IDLE_TIMEOUT_MS,
} from './runtime/core/offload.ts';
export type {
  OffloadTask,
  OffloadOptions,
  OffloadRunOptions,
  OffloadResult,
  OffloadDone,
  OffloadFailed,
} from './runtime/core/offload.ts';
export { fromReceive } from './actors/receive.ts';
export type { Receive, ReceiveOptions } from './actors/receive.ts';
export { fromStore } from './actors/store.ts';
export { fromMachine, reply, spawnActor, asTarget } from './actors/machine.ts';
export type { MachineView, MachineOptions, MachineState } from './actors/machine.ts';
export { actorContext, NoActorContextError } from './actors/current.ts';
export { supervise, MaxRestartIntensityError, SUPERVISOR_KIND } from './supervisors/supervisor.ts';
export type {
  SupervisorMsg,
  SupervisorReply,
  ChildInfo,
  ChildCounts,
  SupervisorState,
} from './supervisors/supervisor.ts';
export {
  startChild,
  terminateChild,
  restartChild,
  deleteChild,
  whichChildren,
  countChildren,
  SupervisorRequestError,
} from './supervisors/api.ts';
export type { SupervisorRef } from './supervisors/api.ts';
export { getChildSpec, checkChildSpecs } from './supervisors/api.ts';
export { IGNORE } from './supervisors/spec.ts';
export type { ChildType, ChildFactory, Ignore } from './supervisors/spec.ts';
export { stopWithShutdown } from './supervisors/exit.ts';
export { SupervisorSpecError, DEFAULT_INTENSITY, DEFAULT_PERIOD_MS } from './supervisors/spec.ts';
export type {
  ChildSpec,
  SupervisorOptions,
  Strategy,
  RestartType,
  AutoShutdown,
} from './supervisors/spec.ts';
export type { BackoffOptions } from './supervisors/backoff.ts';
export { recordRestart, restartWindow, restartsIn } from './supervisors/intensity.ts';
export type { RestartWindow } from './supervisors/intensity.ts';
export type { RuntimeEvent, SupervisionEvent } from './runtime/core/events.ts';
export { sandboxed, MAX_SOURCE_CHARS } from './sandbox/behaviour.ts';
export type { SandboxedOptions, SandboxCapabilities, SandboxEmitted } from './sandbox/behaviour.ts';
export { SandboxModeError } from './sandbox/behaviour.ts';
export { runUntrusted } from './sandbox/run.ts';
export type { RunUntrustedOptions } from './sandbox/run.ts';
export { configureSandboxes } from './sandbox/config.ts';
export type { SandboxMode, SandboxOptions } from './sandbox/config.ts';
export {
  SandboxLimitError,
  SandboxCodeError,
  SandboxCapabilityError,
  SandboxSourceError,
  SANDBOX_MEMORY_MB,
  SANDBOX_CPU_MS,
  SANDBOX_WALL_MS,
  SANDBOX_COPY_BYTES,
} from './sandbox/limits.ts';
export type { SandboxLimits, SandboxLimitName } from './sandbox/limits.ts';
export { SandboxPoolExhaustedError, SANDBOX_MAX_ISOLATES, SANDBOX_WARM } from './sandbox/pool.ts';
export type { SandboxPoolOptions } from './sandbox/pool.ts';
export { SandboxHostLostError } from './sandbox/host-link.ts';
export { sandboxStats } from './sandbox/stats.ts';
export type { SandboxStats } from './sandbox/stats.ts';
export { SANDBOX_MAX_IN_FLIGHT } from './sandbox/behaviour.ts';
export { NodeDownError } from './runtime/nodes/node.ts';
export type { Topics } from './runtime/topics/topics.ts';
export { topicsExtension } from './runtime/topics/extension.ts';
export type { NodeOptions, NodesOptions, LinkTuning } from './runtime/nodes/options.ts';
export type { PeerSpec } from './runtime/nodes/net.ts';
export {
  nodes,
  nodesExtension,
  type NodesExtensionOptions,
  type NodesPart,
} from './runtime/nodes/extension.ts';
export {
  NODE_PROTOCOL_VERSION,
  CLOSE as LINK_CLOSE_CODES,
  LinkProtocolError,
} from './protocol/node-link.ts';
export { Gateway, CLIENT_BUNDLE_URL } from './runtime/gateway/gateway.ts';
export type { GatewayStats } from './runtime/gateway/gateway.ts';
export { gateway, gatewayExtension } from './runtime/gateway/extension.ts';
export { DEFAULT_GATEWAY_LIMITS, DEFAULT_SNAPSHOT_TUNING } from './runtime/gateway/options.ts';
export type {
  GatewayOptions,
  GatewayLimits,
  SnapshotTuning,
  Principal,
  GatewayOp,
  OpDetail,
  Authenticate,
  Authorize,
} from './runtime/gateway/options.ts';
export { CLIENT_CLOSE, CLIENT_PROTOCOL_VERSION, SUBPROTOCOL } from './protocol/client-protocol.ts';
export type { ClientCloseCode, ErrorCode as ClientErrorCode } from './protocol/client-protocol.ts';
