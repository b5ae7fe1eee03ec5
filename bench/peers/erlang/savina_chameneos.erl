%% chameneos (bench/savina/chameneos.ts): `Chameneos` creatures, coloured red, yellow, blue by
%% turns (0, 1, 2), go to a mall process to meet. The mall keeps at most one waiting; when a
%% second comes it forwards the newcomer's `meet` to the waiting one and counts a meeting. The
%% waiting one takes the complement colour, tells the newcomer (`change`), and both go back.
%% After `Meetings` meetings the mall answers every `meet` with `exit`; each creature then
%% reports its meetings (`faded`) and ends. The reports must add up to 2 × Meetings, and the
%% mall must have had Chameneos + 2 × Meetings requests. 4 × Meetings + 3 × Chameneos messages.
-module(savina_chameneos).

-export([run/2]).

-include("savina.hrl").

run(Chameneos, Meetings) ->
    Bench = self(),
    Mall = spawn(fun() -> mall(none, Meetings, 0, 0, 0, Chameneos, Bench) end),
    Creatures = [spawn(fun() -> creature(Mall, I rem 3) end) || I <- lists:seq(0, Chameneos - 1)],
    T0 = savina:now_ns(),
    [C ! start || C <- Creatures],
    {Met, Requests} = receive
                          {mall, M, R} -> {M, R}
                      after ?TIMEOUT -> erlang:error(chameneos_timeout)
                      end,
    Seconds = savina:seconds_since(T0),
    savina:expect("meetings reported by the chameneos", Met, 2 * Meetings),
    savina:expect("meeting requests at the mall", Requests, Chameneos + 2 * Meetings),
    #{messages => 4 * Meetings + 3 * Chameneos, seconds => Seconds}.

%% The colour two creatures take when they meet: the same if they match, else the third.
complement(C, C) -> C;
complement(A, B) -> 3 - A - B.

creature(Mall, Colour) ->
    receive
        start ->
            Mall ! {meet, Colour, self()},
            creature(Mall, Colour, 0)
    end.

creature(Mall, Colour, Meetings) ->
    receive
        {meet, Other, Newcomer} ->
            New = complement(Colour, Other),
            Newcomer ! {change, New},
            Mall ! {meet, New, self()},
            creature(Mall, New, Meetings + 1);
        {change, New} ->
            Mall ! {meet, New, self()},
            creature(Mall, New, Meetings + 1);
        exit ->
            Mall ! {faded, Meetings}
    end.

mall(Waiting, Left, Requests, Faded, Met, Chameneos, Bench) ->
    receive
        {meet, _, Creature} when Left =:= 0 ->
            Creature ! exit,
            mall(Waiting, Left, Requests + 1, Faded, Met, Chameneos, Bench);
        {meet, _, Creature} when Waiting =:= none ->
            mall(Creature, Left, Requests + 1, Faded, Met, Chameneos, Bench);
        {meet, _, _} = Meet ->
            Waiting ! Meet,
            mall(none, Left - 1, Requests + 1, Faded, Met, Chameneos, Bench);
        {faded, Meetings} when Faded + 1 =:= Chameneos ->
            Bench ! {mall, Met + Meetings, Requests};
        {faded, Meetings} ->
            mall(Waiting, Left, Requests, Faded + 1, Met + Meetings, Chameneos, Bench)
    end.
