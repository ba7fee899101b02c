#!/usr/bin/env bash
# bench-setup.sh installs what the benchmark peers need, and only what is
# missing: Erlang/OTP (erlang-nox) for bench/peers/oscar_peer.erl, and CAF
# with a C++ compiler (libcaf-dev, g++) for bench/peers/caf_peer.cpp. It
# says nothing when everything is already there. `make bench` runs it;
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
)

if [[ "${OSCAR_SKIP_SETUP:-0}" == 1 ]]; then
	exit 0
fi

if ! command -v dpkg-query >/dev/null 2>&1; then
	echo "bench-setup.sh: not a Debian system; for the peers, install these by hand:" >&2
	echo "  ${packages[*]}" >&2
	exit 0
fi

missing=()
for pkg in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
	if [[ "$status" != "install ok installed"* ]]; then
		missing+=("$pkg")
	fi
done
if ((${#missing[@]} == 0)); then
	exit 0
fi

sudo=()
if ((EUID != 0)); then
	if command -v sudo >/dev/null 2>&1; then
		sudo=(sudo)
	else
		echo "bench-setup.sh: missing packages: ${missing[*]} (not root, no sudo);" >&2
		echo "bench-setup.sh: the peers that need them will show as n/a" >&2
		exit 0
	fi
fi

echo "bench-setup.sh: installing ${missing[*]}" >&2
apt_options=(-q -y -o DPkg::Lock::Timeout=300 --no-install-recommends)
if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q \
	-o DPkg::Lock::Timeout=300 update >/dev/null ||
	! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${apt_options[@]}" \
		install "${missing[@]}"; then
	echo "bench-setup.sh: could not install ${missing[*]};" >&2
	echo "bench-setup.sh: the peers that need them will show as n/a" >&2
fi
exit 0
