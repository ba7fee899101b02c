#!/usr/bin/env bash
# check-format.sh: every C source and header under version control is laid
# out as .clang-format says, with the clang-format that scripts/setup.sh
# installs (Debian's, version 14 on bookworm). Prints each file that is
# not, with the first lines clang-format would change, and exits 1.
#
#   scripts/check-format.sh         check (make test runs this first)
#   scripts/check-format.sh --fix   reformat those files in place
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

fix=0
case "${1:-}" in
--fix) fix=1 ;;
"") ;;
*)
	echo "usage: scripts/check-format.sh [--fix]" >&2
	exit 2
	;;
esac

if ! command -v clang-format >/dev/null 2>&1; then
	echo "check-format.sh: clang-format not found (scripts/setup.sh installs it)" >&2
	exit 1
fi

mapfile -t files < <(git ls-files -- '*.c' '*.h')
if ((fix)); then
	clang-format -i -- "${files[@]}"
	exit 0
fi

bad=0
for f in "${files[@]}"; do
	if ! out=$(clang-format --dry-run --Werror -- "$f" 2>&1); then
		if ((bad == 0)); then
			echo "== format: these files are not as .clang-format lays them out" \
				"(scripts/check-format.sh --fix reformats them):" >&2
		fi
		bad=$((bad + 1))
		echo "$out" | head -n 6 >&2
	fi
done
if ((bad > 0)); then
	echo "== format: $bad file(s) to reformat" >&2
	exit 1
fi
echo "== format: ${#files[@]} files as .clang-format lays them out"
