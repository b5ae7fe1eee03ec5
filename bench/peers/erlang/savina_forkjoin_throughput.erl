%% forkjoin-throughput (bench/savina/forkjoin-throughput.ts): a producer sends `Messages`
%% `work` messages to each of `Actors` workers, round-robin as Savina's loop does; each worker
%% does Savina's computation (sin² of 37.2) per message and counts. Then the producer asks
%% each worker for its count (FIFO per pair puts the question after the work); the run checks
%% that each handled exactly `Messages`. Actors × Messages messages.
%%
%% Workers keep their message queue off their heap (message_queue_data off_heap): with
%% several schedulers the producer fills them while they run (measured: about 2× with two
%% schedulers, the same with one).
-module(savina_forkjoin_throughput).

-export([run/2]).

-include("savina.hrl").

-define(THETA, 37.2).

run(Actors, Messages) ->
    Bench = self(),
    Workers = [spawn_opt(fun() -> worker(0) end, [{message_queue_data, off_heap}])
               || _ <- lists:seq(1, Actors)],
    Producer = spawn(fun() -> producer(Workers, Messages, Bench) end),
    T0 = savina:now_ns(),
    Producer ! start,
    Counts = receive
                 {counts, Cs} -> Cs
             after ?TIMEOUT -> erlang:error(forkjoin_throughput_timeout)
             end,
    Seconds = savina:seconds_since(T0),
    savina:kill(Workers),
    savina:expect("workers that handled every message",
                  length([C || C <- Counts, C =:= Messages]), Actors),
    #{messages => Actors * Messages, seconds => Seconds}.

worker(Count) ->
    receive
        work ->
            perform_computation(?THETA),
            worker(Count + 1);
        {get, From} ->
            From ! {count, self(), Count}
    end.

%% Savina's per-message work, checked so that it is not dead code.
perform_computation(Theta) ->
    Sin = math:sin(Theta),
    Res = Sin * Sin,
    case Res > 0 of
        true -> Res;
        false -> erlang:error({bad_computation, Theta, Res})
    end.

producer(Workers, Messages, Bench) ->
    receive
        start ->
            send_rounds(Workers, Messages),
            [W ! {get, self()} || W <- Workers],
            Bench ! {counts, [receive {count, W, C} -> C end || W <- Workers]}
    end.

send_rounds(_, 0) -> ok;
send_rounds(Workers, M) ->
    send_round(Workers),
    send_rounds(Workers, M - 1).

send_round([]) -> ok;
send_round([W | Ws]) ->
    W ! work,
    send_round(Ws).
