%% big (bench/savina/big.ts): `Actors` processes, each knowing all (itself included). Each
%% sends `Pings` pings, one at a time, each to a neighbour drawn from its own seeded random
%% sequence (savina:random(Id), the same as the TypeScript side's); the neighbour answers
%% with a pong naming itself, which must be the neighbour pinged. After its last pong a
%% process reports to a sink (and keeps answering pings); the run ends when all have reported.
%% 2 × Actors × Pings + Actors messages.
-module(savina_big).

-export([run/2]).

-include("savina.hrl").

%% What a process knows and keeps: its id, the neighbours (a tuple, and its size), the pings
%% to send, the sink.
-record(me, {id, ns, n, pings, sink}).

run(Actors, Pings) ->
    Bench = self(),
    Sink = spawn(fun() -> sink(Actors, 0, 0, Bench) end),
    Procs = [spawn(fun() -> introduce(Id, Pings, Sink, Bench) end)
             || Id <- lists:seq(0, Actors - 1)],
    Neighbours = list_to_tuple(Procs),
    [P ! {neighbours, Neighbours} || P <- Procs],
    [receive introduced -> ok end || _ <- Procs],
    T0 = savina:now_ns(),
    [P ! start || P <- Procs],
    {Pongs, Wrong} = receive
                         {tally, P, W} -> {P, W}
                     after ?TIMEOUT -> erlang:error(big_timeout)
                     end,
    Seconds = savina:seconds_since(T0),
    savina:kill(Procs),
    savina:expect("pongs from the pinged neighbour", Pongs, Actors * Pings),
    savina:expect("pongs from another neighbour", Wrong, 0),
    #{messages => 2 * Actors * Pings + Actors, seconds => Seconds}.

%% Waits for the neighbours, then for `start`.
introduce(Id, Pings, Sink, Bench) ->
    receive
        {neighbours, Ns} ->
            Bench ! introduced,
            receive
                start -> ping_next(#me{id = Id, ns = Ns, n = tuple_size(Ns), pings = Pings,
                                       sink = Sink}, savina:random(Id), 0, 0)
            end
    end.

%% Pings a random neighbour and waits for its pong, answering pings meanwhile.
ping_next(#me{ns = Ns, n = N} = Me, Random, Pongs, Wrong) ->
    {I, Random1} = savina:next_int(Random, N),
    element(I + 1, Ns) ! {ping, self()},
    wait(Me, Random1, I, Pongs, Wrong).

wait(#me{id = Id, pings = Pings, sink = Sink} = Me, Random, Expected, Pongs, Wrong) ->
    receive
        {ping, From} ->
            From ! {pong, Id},
            wait(Me, Random, Expected, Pongs, Wrong);
        {pong, Expected} when Pongs + Wrong + 1 =:= Pings ->
            Sink ! {report, Pongs + 1, Wrong},
            answer(Id);
        {pong, Expected} ->
            ping_next(Me, Random, Pongs + 1, Wrong);
        {pong, _} when Pongs + Wrong + 1 =:= Pings ->
            Sink ! {report, Pongs, Wrong + 1},
            answer(Id);
        {pong, _} ->
            ping_next(Me, Random, Pongs, Wrong + 1)
    end.

%% Done pinging: only answers.
answer(Id) ->
    receive
        {ping, From} ->
            From ! {pong, Id},
            answer(Id)
    end.

sink(0, Pongs, Wrong, Bench) ->
    Bench ! {tally, Pongs, Wrong};
sink(Left, Pongs, Wrong, Bench) ->
    receive
        {report, P, W} -> sink(Left - 1, Pongs + P, Wrong + W, Bench)
    end.
