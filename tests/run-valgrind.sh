#!/usr/bin/env bash
# run-valgrind.sh: the memcheck pass of the test suite. The sanitizer
# build cannot see inside libuv and NNG, which are not instrumented;
# valgrind sees every access of the process, theirs included. It runs a
# chosen part of the actor, transport and sub pool tests (the sub pools
# too: children are traced), and the `oscar` command: its help, and a
# status of a live supervisor. Any invalid access, use of uninitialised
# memory or definite leak in any of those processes fails the pass, with
# valgrind's report.
#
#   run-valgrind.sh SUPPRESSIONS ACTOR_TESTS TRANSPORT_TESTS SUBPOOL_TESTS OSCAR SUPERVISOR
#
# Exit status 0 when clean, 1 otherwise, 77 (skipped) without valgrind.
set -uo pipefail

if (($# != 6)); then
	echo "usage: $0 SUPPRESSIONS ACTOR_TESTS TRANSPORT_TESTS SUBPOOL_TESTS OSCAR SUPERVISOR" >&2
	exit 2
fi
supp=$1 actor=$2 transport=$3 subpool=$4 oscar=$5 supervisor=$6
if ! command -v valgrind >/dev/null 2>&1; then
	echo "run-valgrind.sh: valgrind is not installed (scripts/setup.sh installs it)" >&2
	exit 77
fi

logs=$(mktemp -d "${TMPDIR:-/tmp}/oscar-valgrind.XXXXXX")
sup_pid=
cleanup() {
	if [[ -n "$sup_pid" ]] && kill -0 "$sup_pid" 2>/dev/null; then
		kill -KILL "$sup_pid" 2>/dev/null
		wait "$sup_pid" 2>/dev/null
	fi
	rm -rf "$logs"
}
trap cleanup EXIT

# One log per process (%p); definite leaks count as errors, the others
# (threads of NNG and Criterion still running at exit) are not reported.
vg=(valgrind --trace-children=yes --child-silent-after-fork=yes
	--suppressions="$supp" --log-file="$logs/%p.vg"
	--leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite
	--num-callers=30 --error-exitcode=97)
failed=0

# run NAME COMMAND... runs a command under valgrind and checks its status.
run() {
	local name=$1
	shift
	echo "== valgrind: $name"
	if ! "${vg[@]}" "$@" >"$logs/$name.out" 2>&1; then
		echo "run-valgrind.sh: $name failed under valgrind:" >&2
		tail -n 40 "$logs/$name.out" >&2
		failed=1
	fi
}

# The tests: Criterion runs each test in a child process, one at a time
# under valgrind. Chosen to cover pools, actors, calls and their failures,
# every transport path (ipc and tcp, cancel, peers lost, hostile frames)
# and sub pools started, killed and recovered, within a minute or two.
run actor "$actor" --jobs 1 --filter 'actor/*'
run transport "$transport" --jobs 1 --filter \
	'transport/@(calls_round_trip_over_*|closed_peer_fails_pending_calls_at_once|remote_cancel_reaches_the_handler|deadlock_across_pools_is_detected|garbage_frames_do_not_hurt_the_pool|actors_are_created_and_managed_in_other_pools|protected_actors_survive_remote_destroy_and_create|tell_nowait_reaches_other_pools)'
run subpool "$subpool" --jobs 1 --filter \
	'subpool/@(sub_pools_run_in_their_own_processes|killed_sub_pool_fails_its_calls_at_once|process_recovery_restarts_it_empty|cancel_and_blocking_hooks_across_processes)'

# The oscar command: its help, and the status of a live supervisor (run
# without valgrind: it is the target here, not the subject).
run oscar-help "$oscar" --help
"$supervisor" --listen tcp://127.0.0.1:0 --address-file "$logs/sup.addr" \
	>"$logs/supervisor.out" 2>&1 &
sup_pid=$!
# Wait for its address file, or its end, whichever comes first.
for ((i = 0; i < 600; i++)); do
	[[ -s "$logs/sup.addr" ]] && break
	kill -0 "$sup_pid" 2>/dev/null || break
	sleep 0.05
done
if [[ -s "$logs/sup.addr" ]]; then
	run oscar-status "$oscar" status "$(cat "$logs/sup.addr")"
else
	echo "run-valgrind.sh: the supervisor did not start:" >&2
	cat "$logs/supervisor.out" >&2
	failed=1
fi
kill -TERM "$sup_pid" 2>/dev/null
wait "$sup_pid" 2>/dev/null
sup_pid=

# Every process's report: the test children exit with Criterion's own
# status, so valgrind's verdict is read from the logs.
for f in "$logs"/*.vg; do
	if grep -q "ERROR SUMMARY: [1-9]" "$f"; then
		echo "run-valgrind.sh: errors in $(basename "$f" .vg):" >&2
		cat "$f" >&2
		failed=1
	fi
done
n=$(ls "$logs"/*.vg 2>/dev/null | wc -l)
if ((failed)); then
	exit 1
fi
echo "== valgrind: $n processes, no invalid access and no definite leak"
exit 0
