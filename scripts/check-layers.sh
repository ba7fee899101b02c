#!/usr/bin/env bash
# check-layers.sh: no file of actors/ calls a function of a layer above
# its own, nor one outside actors/. It reads, with nm, the symbols that
# the object file of each source of actors/ (git ls-files) defines and
# those it uses (undefined), and prints every use of a symbol defined by
# a file of a higher layer, and every use of an osc_ or oscar_ symbol that
# no file of actors/ defines (a call into services/ or session/); then
# exits 1 if there is one. Files of one layer may call each other. A
# source without an object file, or with one older than itself, is an
# error (exit 2): build first.
#
#   scripts/check-layers.sh [BUILD_DIR]     (default: build)
#
# The layers, from the bottom up (docs/architecture.md walks them):
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

layers=(
	"error"                   # errors
	"map"                     # containers (list.h is static inline)
	"value"                   # values
	"codec"                   # their encoding (MessagePack)
	"wire canon"              # frames; the canonical encoding of a value
	"auth"                    # the cluster secret
	"stream"                  # the stream link: messages over libuv streams (tcp, ipc)
	"inbox"                   # posts from other threads, the loop's wake-up
	"call"                    # call records: the deadline heap, the done queue
	"actor"                   # actors, mailboxes, requests
	"transport"               # frames between pools
	"start"                   # starting calls: local or remote
	"pool"                    # the pool loop
	"host"                    # the host-thread API
	"subpool"                 # sub pools
)

build=${1:-build}
objdir="$build/CMakeFiles/oscar_obj.dir/actors"
if [[ ! -d $objdir ]]; then
	echo "check-layers.sh: no object files in $objdir (build first)" >&2
	exit 2
fi

declare -A layer_of    # file -> layer index
declare -A defined_by  # symbol -> file
for i in "${!layers[@]}"; do
	for f in ${layers[$i]}; do
		layer_of[$f]=$i
	done
done
mapfile -t sources < <(git ls-files 'actors/*.c')
if ((${#sources[@]} == 0)); then
	echo "check-layers.sh: git lists no source in actors/" >&2
	exit 2
fi
for src in "${sources[@]}"; do
	f=$(basename "$src" .c)
	o="$objdir/$f.c.o"
	if [[ -z ${layer_of[$f]+x} ]]; then
		echo "check-layers.sh: $src is in no layer; add it to the list" >&2
		exit 2
	fi
	if [[ ! -f $o ]]; then
		echo "check-layers.sh: $src has no object file in $objdir (build first)" >&2
		exit 2
	fi
	if [[ $src -nt $o ]]; then
		echo "check-layers.sh: $o is older than $src (build first)" >&2
		exit 2
	fi
	# Weak (V, W) and common (C) definitions count as definitions.
	while read -r sym; do
		defined_by[$sym]=$f
	done < <(nm --defined-only -g "$o" | awk '$2 ~ /^[TDBRGSCVWu]$/ { print $3 }')
done

bad=0
for src in "${sources[@]}"; do
	f=$(basename "$src" .c)
	o="$objdir/$f.c.o"
	while read -r sym; do
		g=${defined_by[$sym]:-}
		if [[ -n $g && ${layer_of[$g]} -gt ${layer_of[$f]} ]]; then
			echo "$src calls up: $sym (actors/$g.c)"
			bad=1
		elif [[ -z $g && $sym =~ ^(osc_|oscar_) ]]; then
			echo "$src calls out of actors/: $sym"
			bad=1
		fi
	done < <(nm --undefined-only "$o" | awk '{ print $2 }')
done
if ((bad)); then
	exit 1
fi
echo "== layers: no file of actors/ calls a layer above its own, nor out of actors/"
