%% pingpong and threadring (bench/savina/ball.ts): `Actors` processes in a ring pass a ball,
%% `{ball, Left}` with the hops still to make, each to the next; a new ball per hop, as the
%% TypeScript side's. Pingpong is a ring of two.
%%
%% The run throws the ball in with Hops - 1, so the processes receive Hops - 1, ..., 0:
%% `Hops` messages, one in flight at a time. The process that receives 0 tells the bench.
-module(savina_ring).

-export([run/2]).

-include("savina.hrl").

run(Actors, Hops) when Actors >= 1, Hops >= 1 ->
    Bench = self(),
    Ring = [spawn(fun() -> passer(Bench) end) || _ <- lists:seq(1, Actors)],
    connect(Ring, tl(Ring) ++ [hd(Ring)]),
    T0 = savina:now_ns(),
    hd(Ring) ! {ball, Hops - 1},
    receive
        finished -> ok
    after ?TIMEOUT -> erlang:error(ring_timeout)
    end,
    Seconds = savina:seconds_since(T0),
    savina:kill(Ring),
    #{messages => Hops, seconds => Seconds}.

%% Tells each passer its peer, and waits until all know (before the clock starts).
connect(Ring, Peers) ->
    lists:foreach(fun({P, Next}) -> P ! {connect, Next} end, lists:zip(Ring, Peers)),
    lists:foreach(fun(_) -> receive connected -> ok end end, Ring).

passer(Bench) ->
    receive
        {connect, Next} ->
            Bench ! connected,
            pass(Next, Bench)
    end.

pass(Next, Bench) ->
    receive
        {ball, 0} ->
            Bench ! finished,
            pass(Next, Bench);
        {ball, Left} ->
            Next ! {ball, Left - 1},
            pass(Next, Bench)
    end.
