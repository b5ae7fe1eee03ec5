import { describe, expect, it } from 'vitest';
import { setTimeout } from 'node:timers/promises';
import { emit as xemit, createMachine } from 'xstate';
import {
  fromMachine,
  fromReceive,
  fromStore,
  type EmittedEvent,
  type Terminated,
} from '../../index.ts';
import { settle } from '../../testing.ts';
import { testSystem } from '../support/system.ts';

type Seen = (EmittedEvent | Terminated)[];

describe('emitted events', () => {
  it('ctx.emit reaches event subscribers, not snapshot ones; unsubscribing stops them; a stop ends them', async () => {
    const { system } = testSystem();
    const a = system.spawn(
      fromReceive(0, (n: number, m: { type: 'go' | 'stop' }, ctx) => {
        if (m.type === 'stop') ctx.stop();
        else ctx.emit({ type: 'went', n: n + 1 });
        return n + 1;
      }),
      { name: 'a' },
    );
    const seen: Seen = [];
    const later: Seen = [];
    const unsubscribe = system.subscribeEvents(a, (e) => seen.push(e));
    system.subscribeEvents(a, (e) => later.push(e));
    const snapshots: unknown[] = [];
    system.subscribe(a, (u) => snapshots.push(u));
    a.tell({ type: 'go' });
    await settle(system);
    expect(seen.map((e) => (e as EmittedEvent).event)).toEqual([{ type: 'went', n: 1 }]);
    expect(seen[0]!.ref).toBe(a);
    // snapshot subscribers get snapshots only
    expect(snapshots.every((u) => (u as { type: string }).type === 'troupe.snapshot')).toBe(true);
    unsubscribe();
    a.tell({ type: 'go' });
    a.tell({ type: 'stop' });
    await settle(system);
    expect(seen).toHaveLength(1);
    expect(later.map((e) => e.type)).toEqual(['troupe.event', 'troupe.event', 'troupe.terminated']);
    // an actor that is gone: terminated at once
    const gone: Seen = [];
    system.subscribeEvents(a, (e) => gone.push(e));
    await settle(system);
    expect(gone.map((e) => e.type)).toEqual(['troupe.terminated']);
  });

  it('XState’s emit action and @xstate/store’s enq.emit reach event subscribers', async () => {
    const { system } = testSystem();
    const machine = createMachine({
      on: { ping: { actions: xemit({ type: 'pinged' }) } },
    });
    const m = system.spawn(fromMachine(machine), { name: 'm' });
    const s = system.spawn(
      fromStore({
        context: { n: 0 },
        emits: { added: (_: { n: number }) => undefined },
        on: {
          add: (ctx, _e: object, enq) => {
            (enq.emit as Record<string, (e: object) => void>).added!({ n: ctx.n + 1 });
            return { n: ctx.n + 1 };
          },
        },
      }),
      { name: 's' },
    );
    const seen: unknown[] = [];
    system.subscribeEvents(m, (e) => seen.push(e.type === 'troupe.event' ? e.event : e.type));
    system.subscribeEvents(s, (e) => seen.push(e.type === 'troupe.event' ? e.event : e.type));
    await setTimeout(1);
    m.tell({ type: 'ping' });
    await settle(system);
    s.tell({ type: 'add' });
    await settle(system);
    expect(seen).toEqual([{ type: 'pinged' }, { type: 'added', n: 1 }]);
  });
});
