%% banking (bench/savina/banking.ts): a teller and `Accounts` account processes. The teller
%% sends all `Transactions` orders at once, drawn as Savina's teller draws them from the seeded
%% sequence savina:random(123456) (the TypeScript side's): a source among the first 80% of
%% accounts, a destination of higher number, an amount of 1..1000. The source debits itself,
%% sends `{credit, Amount, Self}` to the destination and waits for `credited`, then confirms
%% to the teller. While it waits it takes credits and leaves new orders in its mailbox: the
%% selective receive in `busy/2` is Erlang's stash. After the clock the run asks every
%% account for its balance: money is neither made nor lost. 4 × Transactions messages.
%%
%% The teller keeps its message queue off its heap (message_queue_data off_heap): the
%% confirmations pile up while it is still sending (measured: about 10× with one scheduler).
%% An explicit stash (a queue in the account's state) instead of the selective receive
%% measured the same.
-module(savina_banking).

-export([run/2]).

-include("savina.hrl").

-define(INITIAL_BALANCE, 1000000).
-define(SEED, 123456).

run(Accounts, Transactions) ->
    Bench = self(),
    Procs = [spawn(fun() -> idle(?INITIAL_BALANCE) end) || _ <- lists:seq(1, Accounts)],
    Teller = spawn_opt(fun() -> teller(list_to_tuple(Procs), Transactions, Bench) end,
                       [{message_queue_data, off_heap}]),
    T0 = savina:now_ns(),
    Teller ! start,
    Confirmed = receive
                    {confirmed, C} -> C
                after ?TIMEOUT -> erlang:error(banking_timeout)
                end,
    Seconds = savina:seconds_since(T0),
    [P ! {balance, self()} || P <- Procs],
    Money = lists:sum([receive {balance, P, B} -> B end || P <- Procs]),
    savina:kill(Procs),
    savina:expect("confirmed transfers", Confirmed, Transactions),
    savina:expect("money in the bank", Money, Accounts * ?INITIAL_BALANCE),
    #{messages => 4 * Transactions, seconds => Seconds}.

idle(Balance) ->
    receive
        {transfer, Amount, To, Teller} ->
            To ! {credit, Amount, self()},
            busy(Balance - Amount, Teller);
        {credit, Amount, From} ->
            From ! credited,
            idle(Balance + Amount);
        {balance, From} ->
            From ! {balance, self(), Balance},
            idle(Balance)
    end.

%% A transfer is under way: credits are taken, orders wait in the mailbox.
busy(Balance, Teller) ->
    receive
        {credit, Amount, From} ->
            From ! credited,
            busy(Balance + Amount, Teller);
        credited ->
            Teller ! confirmed,
            idle(Balance)
    end.

teller(Accounts, Transactions, Bench) ->
    receive
        start ->
            send_orders(Accounts, tuple_size(Accounts), Transactions, savina:random(?SEED)),
            Bench ! {confirmed, confirmations(Transactions, 0)}
    end.

send_orders(_, _, 0, _) -> ok;
send_orders(Accounts, N, Left, Random) ->
    {Src, R1} = savina:next_int(Random, (N div 10) * 8),
    {Hop, R2} = savina:next_int(R1, N - Src),
    {Amount, R3} = savina:next_int(R2, 1000),
    Dst = Src + max(Hop, 1),
    element(Src + 1, Accounts) ! {transfer, Amount + 1, element(Dst + 1, Accounts), self()},
    send_orders(Accounts, N, Left - 1, R3).

confirmations(0, Confirmed) -> Confirmed;
confirmations(Left, Confirmed) ->
    receive
        confirmed -> confirmations(Left - 1, Confirmed + 1)
    after ?TIMEOUT -> Confirmed
    end.
