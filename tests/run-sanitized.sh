#!/bin/sh
# run-sanitized.sh: runs one test binary of the sanitizer build and fails
# if any sanitizer wrote a report. Criterion forks every test and does not
# fail a test whose process reports leaks only when it exits, so the
# reports are sent to files and checked here. tests/lsan.supp lists the
# leaks of libraries that are not Oscar-C's, each with its reason.
dir=$(mktemp -d) || exit 1
trap 'rm -rf "$dir"' EXIT INT TERM
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$dir/asan" \
UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$dir/ubsan" \
LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$(dirname "$0")/lsan.supp:print_suppressions=0" \
    "$@"
rc=$?
if [ -n "$(ls -A "$dir")" ]; then
    cat "$dir"/*
    echo "run-sanitized: the sanitizers reported problems (above)" >&2
    exit 1
fi
exit $rc
