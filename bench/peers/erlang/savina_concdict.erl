%% concdict (bench/savina/concdict.ts): one dictionary process holds a map, pre-filled with
%% 65,536 keys (k => k). `Workers` workers each send it `Messages` requests, one at a time
%% (the next once the answer is in): WritePercent% writes (`{write, Key, Value, From}`,
%% answered with the value) and the rest reads (`{read, Key, From}`, answered with the value
%% or -1), drawn from each worker's seeded random sequence (the TypeScript side's). After its
%% last answer a worker reports to a sink. After the clock the run asks the dictionary for
%% its counts: reads + writes = requests, and its writes = the workers' writes.
%% 2 × Workers × Messages + Workers messages.
-module(savina_concdict).

-export([run/3]).

-include("savina.hrl").

-define(KEYS, 65536).

run(Workers, Messages, WritePercent) ->
    Bench = self(),
    Dict = spawn(fun() -> dictionary(Bench) end),
    receive filled -> ok end,
    Sink = spawn(fun() -> sink(Workers, 0, 0, Bench) end),
    Ws = [spawn(fun() ->
                        worker(Dict, Sink, Messages, WritePercent,
                               savina:random(Id + Messages + WritePercent))
                end)
          || Id <- lists:seq(0, Workers - 1)],
    T0 = savina:now_ns(),
    [W ! start || W <- Ws],
    {Answers, Writes} = receive
                            {report, A, W} -> {A, W}
                        after ?TIMEOUT -> erlang:error(concdict_timeout)
                        end,
    Seconds = savina:seconds_since(T0),
    Dict ! {stats, self()},
    {DictReads, DictWrites} = receive {stats, R, Wr} -> {R, Wr} end,
    savina:kill([Dict]),
    Requests = Workers * Messages,
    savina:expect("answers received by the workers", Answers, Requests),
    savina:expect("requests handled by the dictionary", DictReads + DictWrites, Requests),
    savina:expect("writes handled by the dictionary", DictWrites, Writes),
    #{messages => 2 * Workers * Messages + Workers, seconds => Seconds}.

dictionary(Bench) ->
    Map = maps:from_list([{K, K} || K <- lists:seq(0, ?KEYS - 1)]),
    Bench ! filled,
    dictionary(Map, 0, 0).

dictionary(Map, Reads, Writes) ->
    receive
        {read, Key, From} ->
            From ! {value, maps:get(Key, Map, -1)},
            dictionary(Map, Reads + 1, Writes);
        {write, Key, Value, From} ->
            From ! {value, Value},
            dictionary(Map#{Key => Value}, Reads, Writes + 1);
        {stats, From} ->
            From ! {stats, Reads, Writes},
            dictionary(Map, Reads, Writes)
    end.

worker(Dict, Sink, Messages, WritePercent, Random) ->
    receive
        start -> request(Dict, Sink, Messages, WritePercent, Random, 0, 0)
    end.

%% Sends the next request, or reports once `Messages` are answered.
request(_Dict, Sink, Messages, _WritePercent, _Random, Messages, Writes) ->
    Sink ! {report, Messages, Writes};
request(Dict, Sink, Messages, WritePercent, Random, Answers, Writes) ->
    Self = self(),
    {Writes1, Random3} =
        case savina:next_int(Random, 100) of
            {P, Random1} when P < WritePercent ->
                {Key, Random2} = savina:next_int(Random1, ?KEYS),
                {Value, R} = savina:next(Random2),
                Dict ! {write, Key, Value, Self},
                {Writes + 1, R};
            {_, Random1} ->
                {Key, R} = savina:next_int(Random1, ?KEYS),
                Dict ! {read, Key, Self},
                {Writes, R}
        end,
    receive
        {value, _} -> request(Dict, Sink, Messages, WritePercent, Random3, Answers + 1, Writes1)
    end.

sink(0, Answers, Writes, Bench) ->
    Bench ! {report, Answers, Writes};
sink(Left, Answers, Writes, Bench) ->
    receive
        {report, A, W} -> sink(Left - 1, Answers + A, Writes + W, Bench)
    end.
