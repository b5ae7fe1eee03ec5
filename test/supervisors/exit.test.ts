/**
 * Exit reasons (supervisors/exit.ts): for a transient child, `normal`, `shutdown` and
 * `{ shutdown: term }` are normal exits (not restarted); a failure restarts it.
 */
import { describe, expect, it } from 'vitest';
import {
  fromReceive,
  startChild,
  stopWithShutdown,
  supervise,
  whichChildren,
  type ActorRef,
  type RestartType,
  type RuntimeEvent,
  type SupervisorRef,
  type Terminated,
} from '../../index.ts';
import { settle } from '../../testing.ts';
import { testSystem } from '../support/system.ts';

type Ending = 'normal' | 'shutdown' | 'shutdown-term' | 'failure';
const term = { why: 'drained', jobs: 3 };

/** A child that ends the given way when told `end`. */
function ending(id: string, log: string[]) {
  return fromReceive<null, Ending>(
    () => (log.push(`start:${id}`), null),
    (s, how, ctx) => {
      if (how === 'normal') ctx.stop();
      else if (how === 'shutdown') stopWithShutdown(ctx);
      else if (how === 'shutdown-term') stopWithShutdown(ctx, term);
      else throw new Error('failure');
      return s;
    },
    { stop: () => void log.push(`stop:${id}`) },
  );
}

/** Restarted? for each restart type, by how the child ended (OTP's table). */
const restarted: Record<Ending, Record<RestartType, boolean>> = {
  normal: { permanent: true, transient: false, temporary: false },
  shutdown: { permanent: true, transient: false, temporary: false },
  'shutdown-term': { permanent: true, transient: false, temporary: false },
  failure: { permanent: true, transient: true, temporary: false },
};

describe('exit reasons and restart types', () => {
  for (const [how, byType] of Object.entries(restarted) as [Ending, Record<RestartType, boolean>][])
    for (const [restart, expected] of Object.entries(byType) as [RestartType, boolean][]) {
      it(`a ${restart} child ending with ${how} is ${expected ? '' : 'not '}restarted`, async () => {
        const { system } = testSystem();
        const log: string[] = [];
        const sup = system.spawn(
          supervise({
            intensity: 5,
            children: [{ id: 'w', behaviour: ending('w', log), restart }],
          }),
          { name: 'sup' },
        ) as SupervisorRef;
        await settle(system);
        (system.actorAt('/user/sup/w') as ActorRef<Ending>).tell(how);
        await settle(system);
        expect(log).toEqual(expected ? ['start:w', 'stop:w', 'start:w'] : ['start:w', 'stop:w']);
        expect(system.actorAt('/user/sup/w') !== undefined).toBe(expected);
        expect(system.actorAt(sup.path)).toBeDefined();
        await system.shutdown();
      });
    }

  it('simple-one-for-one, transient: {shutdown, term} is normal; the child is forgotten', async () => {
    const { system } = testSystem();
    const log: string[] = [];
    const sup = system.spawn(
      supervise({
        strategy: 'simple-one-for-one',
        children: [{ id: 'job', behaviour: (id: string) => ending(id, log), restart: 'transient' }],
      }),
    ) as SupervisorRef;
    const x = (await startChild<Ending>(sup, 'x'))!;
    x.tell('shutdown-term');
    await settle(system);
    expect(log).toEqual(['start:x', 'stop:x']);
    expect(await whichChildren(sup)).toEqual([]);
    await system.shutdown();
  });
});

describe('stopWithShutdown', () => {
  it('watchers see reason shutdown with { shutdown: term }; the supervisor reports shutdown', async () => {
    const { system } = testSystem();
    const events: RuntimeEvent[] = [];
    system.events.subscribe((e) => events.push(e));
    system.spawn(
      supervise({ children: [{ id: 'w', behaviour: ending('w', []), restart: 'transient' }] }),
      { name: 'sup' },
    );
    await settle(system);
    const w = system.actorAt('/user/sup/w') as ActorRef<Ending>;
    const seen = new Promise<Terminated>((resolve) => system.watch(w, resolve));
    w.tell('shutdown-term');
    expect(await seen).toMatchObject({ reason: 'shutdown', error: { shutdown: term } });
    await settle(system);
    expect(events.filter((e) => e.type === 'child-stopped')).toMatchObject([
      { id: 'w', reason: 'shutdown' },
    ]);
    await system.shutdown();
  });

  it('refuses something that is not an actor context with ERR_NOT_AN_ACTOR_CONTEXT', () => {
    expect(() => stopWithShutdown({} as never)).toThrow(
      expect.objectContaining({ code: 'ERR_NOT_AN_ACTOR_CONTEXT' }),
    );
  });
});
