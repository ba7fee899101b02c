#!/usr/bin/env bash
# bench-setup.sh installs what the benchmark peers need, and only what is
# missing: Erlang/OTP (erlang-nox) for bench/peers/oscar_peer.erl, CAF
# with a C++ compiler (libcaf-dev, g++) for bench/peers/caf_peer.cpp, and
# Dask distributed for Debian's own Python (python3-distributed, run as
# /usr/bin/python3) for bench/peers/dask_peer.py. It says nothing when
# everything is already there. `make bench` runs it;
# `make test` never does, so the tests never need the peers.
#
#   scripts/bench-setup.sh
#   OSCAR_SKIP_SETUP=1 ...      do nothing (dependencies managed by hand)
#
# A peer that cannot be installed is not an error: the bench then shows
# its column as "n/a" with the reason. Runs apt-get as root, or through
# sudo when not root.
set -euo pipefail

packages=(
	# erlang-nox is erlang-base plus the libraries a node without X uses.
	erlang-nox
	libcaf-dev
	g++
	# Dask distributed (and Dask, tornado, msgpack, psutil...) for
	# /usr/bin/python3, whatever other python3 comes first in PATH.
	python3-distributed
)

if [[ "${OSCAR_SKIP_SETUP:-0}" == 1 ]]; then
	exit 0
fi

if ! command -v dpkg-query >/dev/null 2>&1; then
	echo "bench-setup.sh: not a Debian system; for the peers, install these by hand:" >&2
	echo "  ${packages[*]}" >&2
	exit 0
fi

source "$(dirname "${BASH_SOURCE[0]}")/apt.sh"
osc_missing_packages "${packages[@]}"
if ((${#missing[@]} == 0)); then
	exit 0
fi
if ! osc_apt_install bench-setup.sh "${missing[@]}"; then
	echo "bench-setup.sh: could not install ${missing[*]};" >&2
	echo "bench-setup.sh: the peers that need them will show as n/a" >&2
fi
exit 0
