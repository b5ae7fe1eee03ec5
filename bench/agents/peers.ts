/**
 * The agent implementations, by impl id, each loaded when first run (a peer's framework is
 * imported only by the benches that run it: `npm run bench -- --only counting` loads none).
 * Each module exports `peer`: its pools (agent-step; agent-step-http and agent-swarm) and its
 * memory holder (agent-memory).
 */
import type { ImplId } from '../harness.ts';
import type { Counter, MakeHttpPool, MakePool } from './pool.ts';
import { offline } from './offline.ts';

export type AgentImplId = Extract<
  ImplId,
  'troupe:agent' | 'langgraph' | 'openai-agents' | 'mastra' | 'ai-sdk'
>;

/** The agent implementations, in the order they run. */
export const AGENT_IMPLS: readonly AgentImplId[] = [
  'troupe:agent',
  'langgraph',
  'openai-agents',
  'mastra',
  'ai-sdk',
];

/** One finished conversation, and what the framework needs to continue it. */
export interface HeldAgent {
  /** The task's final answer (the bench checks it). */
  readonly answer: string;
  /** What must stay alive for the agent to take its next message (kept until measured). */
  readonly held: unknown;
}

export interface MemoryHolder {
  /** Makes agent `i`, runs task `input` on it to its end, and says what it holds. */
  agent(i: number, input: string): Promise<HeldAgent>;
  /**
   * The time an idle agent takes to take its next message (troupe: a `status` ask), when the
   * framework has such a message; absent for the peers (their next message is a new task).
   */
  touch?(held: unknown): Promise<void>;
  /** Awaited before memory is measured: what the framework does with idle agents (troupe hibernates them). */
  settle?(): Promise<void>;
  close(): Promise<void>;
}

/**
 * What agents of a framework share (its model, tools, a compiled graph, a store: made before
 * the baseline, not counted), and the maker of each agent.
 */
export type MemoryPeer = (counter: Counter) => Promise<MemoryHolder>;

export interface Peer {
  /** A pool on the in-process fake model (agent-step). */
  readonly pool: MakePool;
  readonly memory: MemoryPeer;
  /** A pool on the mock model server, through the framework's official client. */
  readonly httpPool: MakeHttpPool;
}

const LOADERS: Readonly<Record<AgentImplId, () => Promise<{ readonly peer: Peer }>>> = {
  'troupe:agent': () => import('./troupe.ts'),
  langgraph: () => import('./langgraph.ts'),
  'openai-agents': () => import('./openai-agents.ts'),
  mastra: () => import('./mastra.ts'),
  'ai-sdk': () => import('./ai-sdk.ts'),
};

/** The implementation `id`, loaded (tracing and telemetry off first: offline.ts). */
export async function loadPeer(id: AgentImplId): Promise<Peer> {
  offline();
  return (await LOADERS[id]()).peer;
}
