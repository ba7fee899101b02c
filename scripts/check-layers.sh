#!/usr/bin/env bash
# check-layers.sh: no file of actors/ calls a function of a layer above
# its own. It reads, with nm, the symbols each object file of actors/
# defines and those it uses (undefined), and prints every use of a
# symbol defined by a file of a higher layer, then exits 1 if there is
# one. Files of one layer may call each other.
#
#   scripts/check-layers.sh [BUILD_DIR]     (default: build)
#
# The layers, from the bottom up (docs/architecture.md walks them):
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

layers=(
	"error"                   # errors
	"map"                     # containers (list.h is static inline)
	"value canon codec wire auth stream" # values, their encoding, frames, the secret, the stream link
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
for o in "$objdir"/*.c.o; do
	f=$(basename "$o" .c.o)
	if [[ -z ${layer_of[$f]+x} ]]; then
		echo "check-layers.sh: actors/$f.c is in no layer; add it to the list" >&2
		exit 2
	fi
	while read -r sym; do
		defined_by[$sym]=$f
	done < <(nm --defined-only -g "$o" | awk '$2 ~ /[TDBR]/ { print $3 }')
done

bad=0
for o in "$objdir"/*.c.o; do
	f=$(basename "$o" .c.o)
	while read -r sym; do
		g=${defined_by[$sym]:-}
		if [[ -n $g && ${layer_of[$g]} -gt ${layer_of[$f]} ]]; then
			echo "actors/$f.c calls up: $sym (actors/$g.c)"
			bad=1
		fi
	done < <(nm --undefined-only "$o" | awk '{ print $2 }')
done
if ((bad)); then
	exit 1
fi
echo "== layers: no file of actors/ calls a layer above its own"
