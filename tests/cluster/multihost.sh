#!/bin/sh
# multihost.sh: a cluster over three hosts. Each host is a network
# namespace with an address of its own on a private subnet, joined to the
# others by veth pairs to a bridge in a fourth namespace: a supervisor on
# one, a worker on each of the other two, both workers running the greeter
# service. It checks that the workers register with their own addresses,
# that calls cross hosts (every node greets a client on a worker's host),
# that a host whose processes are all killed is marked dead, and that
# `oscar stop` from another host stops what is left.
#
#   multihost.sh OSCAR_SUPERVISOR OSCAR_WORKER OSCAR GREETER_MODULE GREET_CLIENT
#
# GREET_CLIENT is oscar-test-greet (tests/cluster/greet_nodes.c), not
# oscar-greeter-client: that one listens for its replies on
# tcp://127.0.0.1:0, the loopback of its own namespace, which the nodes on
# the other hosts cannot reach.
#
# It needs root and iproute2 (ip netns); without them it prints
# "multihost: skipped: <why>" and exits with 77, which CTest counts as
# skipped. Whatever happens, the namespaces, their links and every
# process in them are removed on exit.
set -u

if [ $# -ne 5 ]; then
	echo "usage: $0 OSCAR_SUPERVISOR OSCAR_WORKER OSCAR GREETER_MODULE GREET_CLIENT" >&2
	exit 2
fi
sup_bin=$1
worker_bin=$2
cli_bin=$3
greeter=$4
greet_bin=$5

# Every wait is bounded by this many seconds; things take well under one.
LIMIT=60

# Names and subnet unique to this run, so that runs side by side do not
# meet: the subnet only exists inside the namespaces, but its third byte
# comes from the PID too.
id=$$
ns_br=osc-$id-br
ns_sup=osc-$id-sup
ns_w1=osc-$id-w1
ns_w2=osc-$id-w2
net=10.213.$((id % 250 + 1))
ip_sup=$net.1
ip_w1=$net.2
ip_w2=$net.3

made_ns=""
dir=""

say() {
	echo "multihost: $*"
}

skip() {
	say "skipped: $*"
	exit 77
}

# fail says what went wrong, shows the end of every log, and exits (the
# EXIT trap cleans up).
fail() {
	echo "multihost: FAILED: $*" >&2
	for log in "$dir"/*.log; do
		[ -f "$log" ] || continue
		echo "---- $(basename "$log") (last lines)" >&2
		tail -n 20 "$log" >&2
	done
	exit 1
}

cleanup() {
	for ns in $made_ns; do
		pids=$(ip netns pids "$ns" 2>/dev/null)
		[ -z "$pids" ] || kill -9 $pids 2>/dev/null
	done
	# Reap what this shell started, so that no zombie is left either.
	wait 2>/dev/null
	# Deleting a namespace deletes the veth ends in it, and with them
	# their peers, and the bridge.
	for ns in $made_ns; do
		ip netns del "$ns" 2>/dev/null
	done
	[ -z "$dir" ] || rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# ---------------------------------------------------------------------------
# Helpers

# exited PID: true when process PID has exited (a zombie counts).
exited() {
	state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
	[ -z "$state" ] || [ "$state" = Z ]
}

# watched lists, as PID=NAME, the processes that must not exit while the
# script waits for something else.
watched=""

# wait_until WHAT COMMAND...: runs COMMAND every 0.1 s until it succeeds,
# failing after LIMIT seconds or as soon as a watched process exits.
wait_until() {
	what=$1
	shift
	end=$(($(date +%s) + LIMIT))
	until "$@"; do
		for entry in $watched; do
			exited "${entry%%=*}" &&
				fail "the ${entry#*=} exited while waiting for $what"
		done
		[ "$(date +%s)" -lt "$end" ] || fail "waited ${LIMIT}s for $what"
		sleep 0.1
	done
}

# wait_exit PID NAME: waits for process PID to exit and fails unless its
# exit status is 0.
wait_exit() {
	wait_until "$2 to exit" exited "$1"
	wait "$1"
	rc=$?
	[ "$rc" -eq 0 ] || fail "$2 exited with status $rc"
}

# in_ns NS COMMAND...: runs COMMAND on host NS.
in_ns() {
	ns=$1
	shift
	ip netns exec "$ns" "$@"
}

# status NS: `oscar status --json` run on host NS, into $dir/status.json.
status() {
	in_ns "$1" "$cli_bin" status "$sup_addr" --json --timeout 5s \
		>"$dir/status.json" 2>>"$dir/status.log"
}

# node_status IP_PREFIX: the status of the node whose address starts with
# tcp://IP_PREFIX, from $dir/status.json. Each node is one JSON object
# with no object inside, so splitting at "{" puts each on a line of its
# own, however the document is laid out.
node_status() {
	tr '{' '\n' <"$dir/status.json" |
		grep "\"address\": *\"tcp://$1" |
		sed -n 's/.*"status": *"\([a-z]*\)".*/\1/p' | head -n 1
}

# workers_are STATUS1 STATUS2: asks the supervisor from host w1, and
# checks the statuses of the workers on w1 and w2.
workers_are() {
	status "$ns_w1" &&
		[ "$(node_status "$ip_w1:")" = "$1" ] &&
		[ "$(node_status "$ip_w2:")" = "$2" ]
}

# ---------------------------------------------------------------------------
# The hosts

command -v ip >/dev/null 2>&1 || skip "no ip command (iproute2)"
dir=$(mktemp -d) || exit 1
# Namespaces of a run killed outright (no trap ran then) go now: they are
# the ones whose PID no longer runs.
for ns in $(ip netns list 2>/dev/null | sed -n 's/^\(osc-[0-9][0-9]*-[a-z0-9]*\).*/\1/p'); do
	pid=${ns#osc-}
	[ -d "/proc/${pid%%-*}" ] && continue
	pids=$(ip netns pids "$ns" 2>/dev/null)
	[ -z "$pids" ] || kill -9 $pids 2>/dev/null
	ip netns del "$ns" 2>/dev/null
done
for ns in $ns_br $ns_sup $ns_w1 $ns_w2; do
	why=$(ip netns add "$ns" 2>&1) || skip "ip netns add: ${why:-failed} (needs root)"
	made_ns="$made_ns $ns"
done
why=$( (ip -n "$ns_br" link add br0 type bridge &&
	ip -n "$ns_br" link set br0 up) 2>&1) || skip "cannot make a bridge: $why"
n=1
for host in sup w1 w2; do
	ns=osc-$id-$host
	why=$( (ip link add eth0 netns "$ns" type veth peer name "$host" netns "$ns_br" &&
		ip -n "$ns_br" link set "$host" master br0 up &&
		ip -n "$ns" addr add "$net.$n/24" dev eth0 &&
		ip -n "$ns" link set eth0 up &&
		ip -n "$ns" link set lo up) 2>&1) || skip "cannot link host $host: $why"
	n=$((n + 1))
done
say "hosts $ip_sup (supervisor), $ip_w1 and $ip_w2 (workers)"

# ---------------------------------------------------------------------------
# The cluster. The nodes die with this script even if it is killed
# outright, when no trap runs (OSCAR_DIE_WITH_PARENT).

beat="--heartbeat-interval 200ms --dead-timeout 2s"
export OSCAR_DIE_WITH_PARENT=1
# shellcheck disable=SC2086 # $beat is several flags
in_ns "$ns_sup" "$sup_bin" --listen "tcp://$ip_sup:0" --address-file "$dir/sup.addr" \
	--load-modules "$greeter" $beat >"$dir/sup.out" 2>"$dir/sup.log" &
sup_pid=$!
watched="$sup_pid=supervisor"
wait_until "the supervisor's address" test -s "$dir/sup.addr"
sup_addr=$(cat "$dir/sup.addr")
case $sup_addr in
tcp://$ip_sup:*) ;;
*) fail "the supervisor is at '$sup_addr', not on its host's address $ip_sup" ;;
esac

# shellcheck disable=SC2086
in_ns "$ns_w1" "$worker_bin" --supervisor "$sup_addr" --listen "tcp://$ip_w1:0" \
	--load-modules "$greeter" $beat >"$dir/w1.out" 2>"$dir/w1.log" &
w1_pid=$!
# shellcheck disable=SC2086
in_ns "$ns_w2" "$worker_bin" --supervisor "$sup_addr" --listen "tcp://$ip_w2:0" \
	--load-modules "$greeter" $beat >"$dir/w2.out" 2>"$dir/w2.log" &
w2_pid=$!
watched="$sup_pid=supervisor $w1_pid=w1-worker $w2_pid=w2-worker"
unset OSCAR_DIE_WITH_PARENT

wait_until "both workers ready, each at its host's address" workers_are ready ready
say "both workers registered, at $ip_w1 and $ip_w2"

# Calls across hosts: from host w1, every node (the supervisor, the worker
# next door and the one on w2) greets, and answers to w1's address.
in_ns "$ns_w1" "$greet_bin" "tcp://$ip_w1:0" "$sup_addr" 3 \
	>"$dir/greet.out" 2>"$dir/greet.log" ||
	fail "greeting every node from host w1: $(cat "$dir/greet.out" "$dir/greet.log")"
for ip in $ip_sup $ip_w1 $ip_w2; do
	grep -q "Hello, multihost, from tcp://$ip:" "$dir/greet.out" ||
		fail "no greeting from the node at $ip: $(cat "$dir/greet.out")"
done
say "calls crossed hosts: $(wc -l <"$dir/greet.out") nodes greeted"

# Host w2 goes down: every process on it killed at once.
pids=$(ip netns pids "$ns_w2")
[ -n "$pids" ] || fail "no process on host w2"
kill -9 $pids
watched="$sup_pid=supervisor $w1_pid=w1-worker"
wait_until "host w2's worker marked dead" workers_are ready dead
wait "$w2_pid" 2>/dev/null
say "the worker of host w2 is marked dead"

# A stop from host w1 stops the rest, each with status 0.
watched=""
in_ns "$ns_w1" "$cli_bin" stop "$sup_addr" --timeout 30s >"$dir/stop.log" 2>&1 ||
	fail "oscar stop: $(cat "$dir/stop.log")"
wait_exit "$w1_pid" "the worker of host w1"
wait_exit "$sup_pid" "the supervisor"
say "passed"
