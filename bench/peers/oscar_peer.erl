%% oscar_peer: the Erlang/OTP side of oscar-bench's comparison.
%%
%% oscar-bench starts this module in a distributed node on loopback
%% (`erl -noshell -name ...@127.0.0.1 -s oscar_peer main`) and drives it
%% through standard input and output, one workload at a time, alternating
%% with its own runs: it writes "WORKLOAD N" and reads back
%% "WORKLOAD VALUE" (or "WORKLOAD error REASON"), with VALUE in the unit
%% oscar-bench reports for that workload. Each workload does the same work
%% as the Oscar-C side, with the same counts:
%%
%%   call-rtt N     N calls, one after the other, from one process to
%%                  another in this node (a request tagged with a fresh
%%                  reference, answered by the same tag); us per call
%%   tell-rate N    4 processes send N one-way messages each into one
%%                  process, timed until it has seen all 4N; M messages/s
%%   spawn-tree D   a tree of processes: each at depth above 1 spawns two
%%                  children and waits for both to report, so 2^D - 1
%%                  processes in all; us per process
%%   idle-actor N   bytes per process with N idle processes alive (the
%%                  growth of erlang:memory(processes), less what the
%%                  measuring process itself grew)
%%   tcp-rtt N      N calls, one after the other, to a process in a second
%%                  node (Erlang distribution over loopback TCP); us per call
%%   tcp-pipe N     N calls to that process with 1,000 in flight; k calls/s
%%   tcp-bin64m N   N calls each carrying one 64 MiB binary (built before
%%                  the clock starts), answered with its size; GB/s
%%
%% The second node is started on the first cross-node workload with the
%% standard `peer` module, linked to this node, and stopped at the end of
%% input. Every loop is bounded by its count; oscar-bench bounds the time.
-module(oscar_peer).
-export([main/0, echo/0]).

-define(WINDOW, 1000).
-define(BIG_SIZE, (64 * 1024 * 1024)).

main() ->
    io:format("ready~n"),
    command_loop(#{}),
    halt(0).

%% command_loop serves commands until standard input closes.
command_loop(Remote) ->
    case io:get_line("") of
        eof ->
            stop_remote(Remote);
        {error, _} ->
            stop_remote(Remote);
        Line ->
            command_loop(serve(string:lexemes(string:trim(Line), " "), Remote))
    end.

%% serve runs one command and prints its answer; a failure is an answer
%% too, so that the bench never waits for one in vain.
serve([Name, Count], Remote) ->
    try run(Name, list_to_integer(Count), Remote) of
        {Value, Remote1} ->
            io:format("~s ~.6f~n", [Name, float(Value)]),
            Remote1
    catch
        Class:Reason ->
            io:format("~s error ~0p~n", [Name, {Class, Reason}]),
            Remote
    end;
serve(Words, Remote) ->
    io:format("? error bad command ~0p~n", [Words]),
    Remote.

run("call-rtt", N, R) -> {isolated(fun() -> call_rtt(N) end), R};
run("tell-rate", N, R) -> {isolated(fun() -> tell_rate(N) end), R};
run("spawn-tree", D, R) -> {isolated(fun() -> spawn_tree(D) end), R};
run("idle-actor", N, R) -> {isolated(fun() -> idle_bytes(N) end), R};
run("tcp-rtt", N, R0) -> with_remote(R0, fun(Echo) -> remote_rtt(Echo, N) end);
run("tcp-pipe", N, R0) -> with_remote(R0, fun(Echo) -> remote_pipe(Echo, N) end);
run("tcp-bin64m", N, R0) -> with_remote(R0, fun(Echo) -> remote_big(Echo, N) end);
run(Name, _, _) -> error({unknown_workload, Name}).

%% isolated runs Fun in a fresh process, so that every round starts from
%% the same heap, and returns its result.
isolated(Fun) ->
    Self = self(),
    {Pid, Mon} = spawn_monitor(fun() -> Self ! {self(), Fun()} end),
    receive
        {Pid, Value} ->
            erlang:demonitor(Mon, [flush]),
            Value;
        {'DOWN', Mon, process, Pid, Reason} ->
            error(Reason)
    end.

now_s() ->
    erlang:monotonic_time(nanosecond) / 1.0e9.

%% ---------------------------------------------------------------------
%% In one node

%% echo answers calls: {call, From, Tag} with {Tag, ok}, and
%% {take, From, Tag, Bin} with {Tag, byte_size(Bin)}.
echo() ->
    receive
        {call, From, Tag} ->
            From ! {Tag, ok},
            echo();
        {take, From, Tag, Bin} ->
            From ! {Tag, byte_size(Bin)},
            echo();
        stop ->
            ok
    end.

call_rtt(N) ->
    Echo = spawn_link(fun echo/0),
    T0 = now_s(),
    calls(Echo, N),
    Dt = now_s() - T0,
    Echo ! stop,
    Dt / N * 1.0e6.

%% calls makes N calls to Echo, each waiting for its own reply.
calls(_, 0) ->
    ok;
calls(Echo, N) ->
    Tag = make_ref(),
    Echo ! {call, self(), Tag},
    receive
        {Tag, ok} -> calls(Echo, N - 1)
    end.

tell_rate(PerSender) ->
    Self = self(),
    Sink = spawn_link(fun() -> sink(4 * PerSender, Self) end),
    T0 = now_s(),
    [spawn_link(fun() -> hits(Sink, PerSender) end) || _ <- lists:seq(1, 4)],
    receive
        {Sink, done} -> ok
    end,
    4 * PerSender / (now_s() - T0) / 1.0e6.

sink(0, Parent) ->
    Parent ! {self(), done};
sink(Left, Parent) ->
    receive
        hit -> sink(Left - 1, Parent)
    end.

hits(_, 0) ->
    ok;
hits(Sink, Left) ->
    Sink ! hit,
    hits(Sink, Left - 1).

spawn_tree(Depth) ->
    Self = self(),
    T0 = now_s(),
    spawn(fun() -> tree(Self, Depth) end),
    Count =
        receive
            {done, C} -> C
        end,
    Dt = now_s() - T0,
    Count = (1 bsl Depth) - 1,
    Dt / Count * 1.0e6.

tree(Parent, 1) ->
    Parent ! {done, 1};
tree(Parent, Depth) ->
    Self = self(),
    spawn(fun() -> tree(Self, Depth - 1) end),
    spawn(fun() -> tree(Self, Depth - 1) end),
    receive
        {done, A} ->
            receive
                {done, B} -> Parent ! {done, A + B + 1}
            end
    end.

idle_bytes(N) ->
    garbage_collect(),
    {memory, Own0} = process_info(self(), memory),
    Total0 = erlang:memory(processes),
    Pids = [spawn(fun idle/0) || _ <- lists:seq(1, N)],
    {memory, Own1} = process_info(self(), memory),
    Total1 = erlang:memory(processes),
    [P ! stop || P <- Pids],
    ((Total1 - Total0) - (Own1 - Own0)) / N.

idle() ->
    receive
        stop -> ok
    end.

%% ---------------------------------------------------------------------
%% Across two nodes

%% with_remote runs Fun with the echo process of the second node, which it
%% starts first if needed, and returns {Value, Remote}.
with_remote(#{echo := Echo} = Remote, Fun) ->
    {Fun(Echo), Remote};
with_remote(#{}, Fun) ->
    Remote = start_remote(),
    with_remote(Remote, Fun).

start_remote() ->
    Name = list_to_atom("oscar_peer_" ++ os:getpid()),
    Dir = filename:dirname(code:which(?MODULE)),
    {ok, Peer, Node} = peer:start_link(#{
        name => Name,
        host => "127.0.0.1",
        longnames => true,
        args => [
            "-setcookie", atom_to_list(erlang:get_cookie()),
            "-pa", Dir,
            "-kernel", "inet_dist_use_interface", "{127,0,0,1}"
        ]
    }),
    Echo = spawn(Node, ?MODULE, echo, []),
    % Warm up: the connection is up and the code loaded there.
    ok = remote_calls(Echo, 100),
    #{peer => Peer, echo => Echo}.

stop_remote(#{peer := Peer, echo := Echo}) ->
    Echo ! stop,
    peer:stop(Peer);
stop_remote(#{}) ->
    ok.

remote_rtt(Echo, N) ->
    T0 = now_s(),
    ok = remote_calls(Echo, N),
    (now_s() - T0) / N * 1.0e6.

%% remote_calls is calls/2 with a plain integer tag: a reference made in
%% this node is as good, but an integer keeps the message the same size
%% in every round.
remote_calls(_, 0) ->
    ok;
remote_calls(Echo, N) ->
    Echo ! {call, self(), N},
    receive
        {N, ok} -> remote_calls(Echo, N - 1)
    end.

remote_pipe(Echo, N) ->
    T0 = now_s(),
    First = min(N, ?WINDOW),
    [Echo ! {call, self(), I} || I <- lists:seq(1, First)],
    pipe(Echo, First, 0, N),
    N / (now_s() - T0) / 1.0e3.

%% pipe receives replies and sends one more call for each, while fewer
%% than N were sent, until all N replies are in. Replies come back in
%% order, one connection carrying them, so the tag is only checked.
pipe(_, _, N, N) ->
    ok;
pipe(Echo, Sent, Got, N) ->
    receive
        {Tag, ok} when is_integer(Tag) ->
            case Sent < N of
                true ->
                    Echo ! {call, self(), Sent + 1},
                    pipe(Echo, Sent + 1, Got + 1, N);
                false ->
                    pipe(Echo, Sent, Got + 1, N)
            end
    end.

remote_big(Echo, N) ->
    Bin = binary:copy(<<"x">>, ?BIG_SIZE),
    T0 = now_s(),
    ok = takes(Echo, Bin, N),
    ?BIG_SIZE * N / (now_s() - T0) / 1.0e9.

takes(_, _, 0) ->
    ok;
takes(Echo, Bin, N) ->
    Echo ! {take, self(), N, Bin},
    Size = byte_size(Bin),
    receive
        {N, Size} -> takes(Echo, Bin, N - 1)
    end.
