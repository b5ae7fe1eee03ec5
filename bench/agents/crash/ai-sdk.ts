/** `ai-sdk` at a crash: `generateText` keeps nothing; the restarted process has nothing to resume. */
import { pooledCrashPeer } from './pooled.ts';

export const crashPeer = pooledCrashPeer('ai-sdk', 'none: generateText keeps no state');
