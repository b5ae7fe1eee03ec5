%% fib (bench/savina/fib.ts): Fibonacci by a tree of processes. A process asked
%% `{request, N, Parent}` answers `{response, 1}` for N =< 2; otherwise it spawns two
%% children, asks them for N - 1 and N - 2, answers the sum of their two answers and ends.
%% 2·fib(N) − 1 processes; one request and one response each: 2·(2·fib(N) − 1) messages.
%% The run checks the answer against fib(N) by the loop.
-module(savina_fib).

-export([run/1]).

-include("savina.hrl").

run(N) ->
    Root = spawn(fun fib_actor/0),
    T0 = savina:now_ns(),
    Root ! {request, N, self()},
    Value = receive
                {response, V} -> V
            after ?TIMEOUT -> erlang:error(fib_timeout)
            end,
    Seconds = savina:seconds_since(T0),
    Fib = fibonacci(N),
    savina:expect(io_lib:format("fib(~b)", [N]), Value, Fib),
    #{messages => 2 * (2 * Fib - 1), seconds => Seconds}.

fib_actor() ->
    receive
        {request, N, Parent} when N =< 2 ->
            Parent ! {response, 1};
        {request, N, Parent} ->
            Self = self(),
            spawn(fun fib_actor/0) ! {request, N - 1, Self},
            spawn(fun fib_actor/0) ! {request, N - 2, Self},
            receive
                {response, A} ->
                    receive
                        {response, B} -> Parent ! {response, A + B}
                    end
            end
    end.

fibonacci(N) -> fibonacci(N, 0, 1).

fibonacci(0, A, _) -> A;
fibonacci(N, A, B) -> fibonacci(N - 1, B, A + B).
