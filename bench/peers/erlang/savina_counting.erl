%% counting (bench/savina/counting.ts): a producer sends N `inc` to one counter, then
%% `{get, From}`; the counter answers with its total, which the run checks. N messages.
-module(savina_counting).

-export([run/1, counter/1]).

-include("savina.hrl").

run(N) ->
    Bench = self(),
    Counter = spawn(fun() -> counter(0) end),
    Producer = spawn(fun() -> producer(Counter, N, Bench) end),
    T0 = savina:now_ns(),
    Producer ! start,
    Total = receive
                {total, Count} -> Count
            after ?TIMEOUT -> erlang:error(counting_timeout)
            end,
    Seconds = savina:seconds_since(T0),
    savina:kill([Counter]),
    savina:expect("counter total", Total, N),
    #{messages => N, seconds => Seconds}.

%% The counter (spawn-memory spawns it too): its state is the count.
counter(Count) ->
    receive
        inc -> counter(Count + 1);
        {get, From} ->
            From ! {total, Count},
            counter(Count)
    end.

producer(Counter, N, Bench) ->
    receive
        start ->
            send_incs(Counter, N),
            Counter ! {get, self()},
            receive
                {total, _} = Total -> Bench ! Total
            end
    end.

send_incs(_, 0) -> ok;
send_incs(Counter, N) ->
    Counter ! inc,
    send_incs(Counter, N - 1).
