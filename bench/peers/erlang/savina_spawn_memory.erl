%% spawn-memory (bench/savina/spawn-memory.ts): the memory an idle process costs. `Actors`
%% counters (savina_counting:counter/1, waiting in receive) are spawned and have run to their
%% receive; bytesPerActor is the growth of erlang:memory(processes) between a reading before
%% and one after, divided by `Actors`. The figure is processes spawned and started per second.
%% No pid is kept (a process lives without a reference); the run ends them after its readings.
-module(savina_spawn_memory).

-export([run/1]).

run(Actors) ->
    Others = erlang:processes(),
    erlang:garbage_collect(),
    Before = erlang:memory(processes),
    T0 = savina:now_ns(),
    spawn_counters(Actors),
    all_started(),
    Seconds = savina:seconds_since(T0),
    erlang:garbage_collect(),
    After = erlang:memory(processes),
    Spawned = erlang:processes() -- Others,
    savina:kill(Spawned),
    savina:expect("idle processes", length(Spawned), Actors),
    #{messages => Actors, seconds => Seconds, bytesPerActor => (After - Before) / Actors}.

spawn_counters(0) -> ok;
spawn_counters(N) ->
    spawn(savina_counting, counter, [0]),
    spawn_counters(N - 1).

%% Every new process has run to its receive: no run queue holds one any more.
all_started() ->
    case erlang:statistics(total_run_queue_lengths_all) of
        0 -> ok;
        _ ->
            erlang:yield(),
            all_started()
    end.
