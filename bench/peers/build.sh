#!/usr/bin/env bash
# build.sh builds oscar-bench's peers into OUT (make bench passes
# build-release/bench/peers, where oscar-bench looks by default):
#
#   OUT/oscar_peer.beam   the Erlang/OTP peer (erlc)
#   OUT/caf-peer          the CAF peer (CMake, in OUT/caf-build)
#
# A peer that cannot be built is not an error: the script leaves
# OUT/erlang.na or OUT/caf.na with the reason, which oscar-bench shows in
# that peer's column, and goes on. It prints nothing when all is built and
# up to date.
#
#   bench/peers/build.sh OUT
set -uo pipefail

if (($# != 1)); then
	echo "usage: bench/peers/build.sh OUT" >&2
	exit 2
fi
src=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)
rm -f "$out/erlang.na" "$out/caf.na"

# na PEER REASON LOG: record why PEER is not available, with the last
# lines of LOG (if any) on stderr.
na() {
	echo "$2" >"$out/$1.na"
	echo "build.sh: $1 peer: $2" >&2
	if [[ -n "${3:-}" && -s "$3" ]]; then
		tail -n 20 "$3" >&2
	fi
}

build_erlang() {
	local beam="$out/oscar_peer.beam" log="$out/erlang-build.log"
	if ! command -v erlc >/dev/null 2>&1; then
		rm -f "$beam"
		na erlang "erlc not found (Debian: erlang-nox)"
		return
	fi
	if [[ -f "$beam" && "$beam" -nt "$src/oscar_peer.erl" ]]; then
		return
	fi
	if ! erlc -o "$out" "$src/oscar_peer.erl" >"$log" 2>&1; then
		rm -f "$beam"
		na erlang "erlc failed (see $log)" "$log"
	fi
}

build_caf() {
	local dir="$out/caf-build" log="$out/caf-build.log"
	if ! command -v c++ >/dev/null 2>&1 && ! command -v g++ >/dev/null 2>&1; then
		rm -f "$out/caf-peer"
		na caf "no C++ compiler (Debian: g++)"
		return
	fi
	if ! cmake -S "$src" -B "$dir" -DCMAKE_BUILD_TYPE=Release >"$log" 2>&1; then
		rm -f "$out/caf-peer"
		if grep -q "CAF not found" "$log"; then
			na caf "CAF not found (Debian: libcaf-dev)"
		else
			na caf "cmake failed (see $log)" "$log"
		fi
		return
	fi
	if ! cmake --build "$dir" >>"$log" 2>&1; then
		rm -f "$out/caf-peer"
		na caf "build failed (see $log)" "$log"
		return
	fi
	if ! cmp -s "$dir/caf-peer" "$out/caf-peer"; then
		cp "$dir/caf-peer" "$out/caf-peer"
	fi
}

build_erlang
build_caf
exit 0
