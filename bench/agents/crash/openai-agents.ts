/**
 * `openai-agents` at a crash: the Agents SDK serialises a run (`RunState`) only at an
 * interruption (a tool approval); a run without one keeps nothing a new process could resume.
 */
import { pooledCrashPeer } from './pooled.ts';

export const crashPeer = pooledCrashPeer(
  'openai-agents',
  'RunState only at approval interruptions: none in this task',
);
