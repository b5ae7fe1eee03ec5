%% forkjoin-create (bench/savina/forkjoin-create.ts): a spawner spawns `Actors` processes,
%% sends each one `{work, Spawner}`, and each answers `done` once and ends; the run ends at
%% the last answer. The figure is actors/s: a process's whole short life.
%%
%% The spawner keeps its message queue off its heap (spawn_opt, message_queue_data off_heap,
%% OTP's advice for a process that gets many messages): the answers pile up while it is still
%% spawning, and on the heap every garbage collection of the spawner would go through them
%% (measured: about 20× slower for 100,000 actors).
-module(savina_forkjoin_create).

-export([run/1]).

-include("savina.hrl").

run(Actors) ->
    Bench = self(),
    Spawner = spawn_opt(fun() -> spawner(Actors, Bench) end,
                        [{message_queue_data, off_heap}]),
    T0 = savina:now_ns(),
    Spawner ! start,
    Answers = receive
                  {answers, A} -> A
              after ?TIMEOUT -> erlang:error(forkjoin_create_timeout)
              end,
    Seconds = savina:seconds_since(T0),
    savina:expect("answers", Answers, Actors),
    #{messages => Actors, seconds => Seconds}.

worker() ->
    receive
        {work, From} -> From ! done
    end.

spawner(N, Bench) ->
    receive
        start ->
            spawn_workers(N, self()),
            Bench ! {answers, collect(N, 0)}
    end.

spawn_workers(0, _) -> ok;
spawn_workers(N, Self) ->
    spawn(fun worker/0) ! {work, Self},
    spawn_workers(N - 1, Self).

collect(0, Answers) -> Answers;
collect(N, Answers) ->
    receive
        done -> collect(N - 1, Answers + 1)
    after ?TIMEOUT -> Answers
    end.
