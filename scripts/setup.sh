#!/usr/bin/env bash
# setup.sh installs the Debian packages that Oscar-C needs to build and to
# run its tests, and only those that are missing. It says nothing when
# everything is already there, so `make` can run it before every build.
#
#   scripts/setup.sh            the build and test dependencies
#   OSCAR_SETUP_FUZZ=1 ...      also clang, for the libFuzzer targets
#   OSCAR_SKIP_SETUP=1 ...      do nothing (dependencies managed by hand)
#
# Runs apt-get as root, or through sudo when not root.
set -euo pipefail

packages=(
	cmake
	make
	gcc
	libc6-dev
	pkg-config
	libuv1-dev
	libnng-dev
	libmpack-dev
	libcriterion-dev
	# The configuration files of oscar-supervisor and oscar-worker (INI).
	libinih-dev
	# libsodium: BLAKE2b for the keys of pure tasks (canonical value
	# hashes) and XChaCha20-Poly1305 tags for the cluster secret.
	libsodium-dev
	# lz4 compression of large objects read from or moved between workers.
	liblz4-dev
	# The multi-host tests make hosts with network namespaces (ip netns).
	iproute2
	# The TLS tests make a throwaway certificate with the openssl tool.
	openssl
	# The memcheck pass of the tests (tests/run-valgrind.sh).
	valgrind
	# make test checks the layout of the C files (scripts/check-format.sh).
	clang-format
)
if [[ "${OSCAR_SETUP_FUZZ:-0}" == 1 ]]; then
	packages+=(clang)
fi

if [[ "${OSCAR_SKIP_SETUP:-0}" == 1 ]]; then
	exit 0
fi

if ! command -v dpkg-query >/dev/null 2>&1; then
	echo "setup.sh: not a Debian system; install these (or their equivalents) by hand:" >&2
	echo "  ${packages[*]}" >&2
	echo "  and set OSCAR_SKIP_SETUP=1 to silence this message." >&2
	exit 0
fi

source "$(dirname "${BASH_SOURCE[0]}")/apt.sh"
osc_missing_packages "${packages[@]}"
if ((${#missing[@]} == 0)); then
	exit 0
fi
if ! osc_apt_install setup.sh "${missing[@]}"; then
	echo "setup.sh: run as root, or install them yourself:" >&2
	echo "  apt-get install ${missing[*]}" >&2
	exit 1
fi
