%% Shared by the benchmark modules: how long the bench process waits for an answer before it
%% gives up (a run that hangs fails with a message instead of being killed silently).
-define(TIMEOUT, 120000).
