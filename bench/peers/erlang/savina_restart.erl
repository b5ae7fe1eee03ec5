%% restart (bench/savina/restart.ts): how fast an OTP supervisor brings a failed child back.
%% One worker runs under a one_for_one `supervisor` (intensity = Failures, period 5 s: never
%% reached). A driver sends the worker `fail`, on which it exits (a crash: reason
%% induced_failure); the supervisor restarts it. A restarted worker is a new process with a
%% new, empty mailbox, so it cannot find a `next` already queued as a troupe actor does:
%% it announces itself to the driver (`{up, Pid}`), the driver sends `{next, FailedAt}`, and
%% the worker records now − FailedAt and answers. `Failures` times, one at a time.
%%
%% The figure is restarts/s; p50Us/p99Us: from sending `fail` to the restarted worker
%% handling `next` (the crash, the EXIT signal to the supervisor, its restart of the child,
%% the announcement and `next`). Logging is off (logger level none) so that the
%% supervisor's child_terminated reports are not formatted and printed in the timed part.
-module(savina_restart).
-behaviour(supervisor).

-export([run/1]).
-export([init/1, start_worker/1]).

-include("savina.hrl").

run(Failures) ->
    ok = logger:set_primary_config(level, none),
    Bench = self(),
    Driver = spawn(fun() -> driver(Bench) end),
    {ok, Sup} = supervisor:start_link(?MODULE, {Failures, Driver}),
    unlink(Sup),
    T0 = savina:now_ns(),
    Driver ! {start, Failures},
    Latencies = receive
                    {latencies, Ls} -> Ls
                after ?TIMEOUT -> erlang:error(restart_timeout)
                end,
    Seconds = savina:seconds_since(T0),
    exit(Sup, kill),
    savina:expect("messages handled after a restart", length(Latencies), Failures),
    #{messages => Failures, seconds => Seconds,
      p50Us => savina:percentile(Latencies, 50), p99Us => savina:percentile(Latencies, 99)}.

%% ---- the supervisor ------------------------------------------------------------------------

init({Failures, Driver}) ->
    Flags = #{strategy => one_for_one, intensity => Failures, period => 5},
    Worker = #{id => worker, start => {?MODULE, start_worker, [Driver]},
               restart => permanent, shutdown => brutal_kill, type => worker},
    {ok, {Flags, [Worker]}}.

start_worker(Driver) ->
    {ok, spawn_link(fun() -> Driver ! {up, self()}, worker(Driver) end)}.

%% ---- the worker and the driver -------------------------------------------------------------

worker(Driver) ->
    receive
        fail -> exit(induced_failure);
        {next, FailedAt} ->
            Driver ! {restarted, self(), savina:now_ns() - FailedAt},
            worker(Driver)
    end.

driver(Bench) ->
    receive
        {up, Worker} ->
            receive
                {start, Failures} -> Bench ! {latencies, drive(Worker, Failures, [])}
            end
    end.

%% Fails the worker, waits for its new incarnation, sends it `next`; Failures times.
drive(_, 0, Latencies) -> Latencies;
drive(Worker, Left, Latencies) ->
    FailedAt = savina:now_ns(),
    Worker ! fail,
    receive
        {up, New} when New =/= Worker ->
            New ! {next, FailedAt},
            receive
                {restarted, New, Ns} -> drive(New, Left - 1, [Ns / 1000 | Latencies])
            end
    after ?TIMEOUT -> Latencies
    end.
