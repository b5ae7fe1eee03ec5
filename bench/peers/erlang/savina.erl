%% The entry point of the Erlang peer, and what the benchmarks share.
%%
%%   erl -noshell -pa BEAMDIR [+S 1:1] -run savina main BENCH 'JSON' [WARMUPS]
%%
%% BENCH is a benchmark's name (bench/savina/*.ts), JSON its parameter object, flat with
%% numbers only ({"hops":1000000}); WARMUPS (default 1) unmeasured runs at the same
%% parameters come first, in the same VM (the TypeScript side has its warm-up run too).
%% The measured run prints exactly one line of JSON on stdout,
%%   {"messages":N,"seconds":S}  (+ "bytesPerActor", "p50Us", "p99Us" where they apply)
%% and the VM halts with 0. A wrong count halts with 1, any other failure with 2, with a
%% message on stderr. Nothing is printed while a run is timed.
-module(savina).

-export([main/1]).
-export([now_ns/0, seconds_since/1, expect/3, percentile/2, kill/1]).
-export([random/1, next/1, next_int/2]).

-define(MASK32, 16#FFFFFFFF).

main([Bench, Json]) ->
    main([Bench, Json, "1"]);
main([Bench, Json, Warmups]) ->
    try
        Params = parse_params(Json),
        [begin
             _ = run(Bench, Params),
             erlang:garbage_collect()
         end
         || _ <- lists:seq(1, list_to_integer(Warmups))],
        Result = run(Bench, Params),
        io:put_chars([to_json(Result), $\n]),
        erlang:halt(0)
    catch
        throw:{wrong_count, What, Got, Expected} ->
            io:format(standard_error, "~s ~s: got ~p, expected ~p; the run lost messages~n",
                      [Bench, What, Got, Expected]),
            erlang:halt(1);
        Class:Reason:Stack ->
            io:format(standard_error, "~s ~s: ~p:~p~n  ~p~n", [Bench, Json, Class, Reason, Stack]),
            erlang:halt(2)
    end.

%% ---- the benchmarks ------------------------------------------------------------------------

run("pingpong", #{hops := Hops}) -> savina_ring:run(2, Hops);
run("threadring", #{actors := Actors, hops := Hops}) -> savina_ring:run(Actors, Hops);
run("counting", #{messages := N}) -> savina_counting:run(N);
run("forkjoin-throughput", #{actors := A, messages := M}) -> savina_forkjoin_throughput:run(A, M);
run("forkjoin-create", #{actors := A}) -> savina_forkjoin_create:run(A);
run("fib", #{n := N}) -> savina_fib:run(N);
run("chameneos", #{chameneos := C, meetings := M}) -> savina_chameneos:run(C, M);
run("big", #{actors := A, pings := P}) -> savina_big:run(A, P);
run("concdict", #{workers := W, messages := M, writePercent := P}) -> savina_concdict:run(W, M, P);
run("banking", #{accounts := A, transactions := T}) -> savina_banking:run(A, T);
run("spawn-memory", #{actors := A}) -> savina_spawn_memory:run(A);
run("restart", #{failures := F}) -> savina_restart:run(F);
run(Bench, Params) -> erlang:error({unknown_benchmark_or_params, Bench, Params}).

%% ---- helpers for the benchmark modules -----------------------------------------------------

%% The clock: monotonic nanoseconds.
now_ns() -> erlang:monotonic_time(nanosecond).

seconds_since(T0) -> (now_ns() - T0) / 1.0e9.

%% Throws a wrong count (exit 1) unless Got =:= Expected.
expect(_What, Same, Same) -> ok;
expect(What, Got, Expected) -> throw({wrong_count, What, Got, Expected}).

%% The P-th percentile of a list by the nearest-rank method (as bench/harness.ts).
percentile(Xs, P) ->
    Sorted = lists:sort(Xs),
    N = length(Sorted),
    lists:nth(min(N, max(1, ceil(P / 100 * N))), Sorted).

%% Ends processes left waiting after a run (a warm-up's must not outlive it).
kill(Pids) -> lists:foreach(fun(P) -> exit(P, kill) end, Pids).

%% ---- random numbers: bench/savina/random.ts, bit for bit ----------------------------------
%% Marsaglia's xorshift32 with the same seeding, so that every implementation makes the same
%% choices (ping targets, keys, transfers). The state is the unsigned 32-bit value.

random(Seed) ->
    X0 = ((Seed bxor 16#5bd1e995) * 16#9e3779b1) band ?MASK32,
    X = case X0 of 0 -> 16#2545f491; _ -> X0 end,
    {_, X1} = next(X),
    {_, X2} = next(X1),
    {_, X3} = next(X2),
    {_, X4} = next(X3),
    X4.

%% {Value, State}: the next unsigned 32-bit value.
next(X) ->
    X1 = X bxor ((X bsl 13) band ?MASK32),
    X2 = X1 bxor (X1 bsr 17),
    X3 = X2 bxor ((X2 bsl 5) band ?MASK32),
    {X3, X3}.

%% {Value, State}: an integer in [0, Bound).
next_int(X, Bound) ->
    {V, X1} = next(X),
    {V rem Bound, X1}.

%% ---- the parameter object in, the sample out -----------------------------------------------

%% {"hops":1000000,"actors":100} -> #{hops => 1000000, actors => 100}: a flat object of
%% numbers is all the benchmarks take (OTP 25 has no json module).
parse_params(Json) ->
    Body = string:trim(string:trim(string:trim(Json), leading, "{"), trailing, "}"),
    maps:from_list([parse_pair(Pair) || Pair <- string:lexemes(Body, ","),
                                        string:trim(Pair) =/= ""]).

parse_pair(Pair) ->
    [Key, Value] = string:split(Pair, ":"),
    {list_to_atom(string:trim(string:trim(Key), both, "\"")), parse_number(string:trim(Value))}.

parse_number(S) ->
    try list_to_integer(S)
    catch error:badarg -> list_to_float(S)
    end.

to_json(Result) ->
    Fields = [{K, maps:get(K, Result)}
              || K <- [messages, seconds, bytesPerActor, p50Us, p99Us], maps:is_key(K, Result)],
    ["{", lists:join(",", [[$", atom_to_list(K), "\":", number(V)] || {K, V} <- Fields]), "}"].

number(V) when is_integer(V) -> integer_to_list(V);
number(V) when is_float(V) -> float_to_list(V, [{decimals, 9}, compact]).
