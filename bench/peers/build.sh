#!/usr/bin/env bash
# build.sh builds oscar-bench's peers into OUT (make bench passes
# build-release/bench/peers, where oscar-bench looks by default):
#
#   OUT/oscar_peer.beam   the Erlang/OTP peer (erlc)
#   OUT/caf-peer          the CAF peer (CMake, in OUT/caf-build)
#   OUT/dask_peer.py      the Dask distributed driver, copied once Debian's
#                         Python (/usr/bin/python3) imports distributed
#
# A peer that cannot be built is not an error: the script leaves
# OUT/erlang.na, OUT/caf.na or OUT/dask.na with the reason, which
# oscar-bench shows in that peer's column, and goes on. It prints nothing when all is built and
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
rm -f "$out/erlang.na" "$out/caf.na" "$out/dask.na"

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

# Dask runs on Debian's own Python, where python3-distributed installs it,
# whatever other python3 comes first in PATH.
build_dask() {
	local py=/usr/bin/python3 log="$out/dask-check.log"
	if [[ ! -x "$py" ]]; then
		rm -f "$out/dask_peer.py"
		na dask "$py not found (Debian: python3-distributed)"
		return
	fi
	if ! "$py" "$src/dask_peer.py" --check >"$log" 2>&1; then
		rm -f "$out/dask_peer.py"
		if grep -q "No module named" "$log"; then
			na dask "$py cannot import distributed (Debian: python3-distributed)"
		else
			na dask "$py cannot load the driver (see $log)" "$log"
		fi
		return
	fi
	if ! cmp -s "$src/dask_peer.py" "$out/dask_peer.py"; then
		cp "$src/dask_peer.py" "$out/dask_peer.py"
	fi
}

build_erlang
build_caf
build_dask
exit 0
