#!/usr/bin/env bash
# Gloss's benchmark suite: builds the release binaries and runs every workload on
# loopback, printing a Markdown table (stdout) and progress (stderr).
#
#   bench/run.sh             full run (about 6-9 minutes on 2 cores)
#   bench/run.sh --smoke     small fixtures and short windows (under a minute), for CI
#   bench/run.sh --no-postgres
#   bench/run.sh --only-inbox   the baselines and workload 1 only
#   bench/run.sh --debug --smoke   the smoke run on debug builds (CI: keeps the suite
#                                  working without a release build; figures meaningless)
#
# PostgreSQL: GLOSS_BENCH_POSTGRES_URL, else GLOSS_TEST_POSTGRES_URL, else
# postgres://postgres@127.0.0.1:5432/postgres (the suite creates and drops its own
# databases); unreachable means SQLite only, with a note.
# Results are printed, never asserted: the exit status only says whether the suite ran.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
profile=release
if [[ "${1:-}" == "--debug" ]]; then
    profile=debug
    shift
fi
if [[ "$profile" == release ]]; then
    cargo build --release --quiet -p gloss-bench -p gloss
else
    cargo build --quiet -p gloss-bench -p gloss
fi
# Thousands of fake inboxes and connections: lift the soft descriptor limit if we may.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec "$CARGO_TARGET_DIR/$profile/gloss-bench" run "$@"
