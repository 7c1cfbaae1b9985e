#!/usr/bin/env bash
# Side-by-side: tansiq-match versus the Python anchor a user would reach for
# (rapidfuzz process.cdist with Jaro-Winkler over anyascii transliterated
# names), on the same synthetic 100,000-entry list and the same queries.
#
#   benches/match/compare_rapidfuzz.sh [NAMES_DIR] 
#   env: PY_QUERIES (default 2000) queries for the Python side (it scores
#        every query against every name; the full 100,000 would take hours),
#        CARGO_TARGET_DIR, VENV (default target/bench-venv), WORK (temp dir).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DATA=${1:-$ROOT/../shared/data/names}
PY_QUERIES=${PY_QUERIES:-2000}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
VENV=${VENV:-$TARGET/bench-venv}
WORK=${WORK:-$(mktemp -d)}
mkdir -p "$WORK"

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet --disable-pip-version-check rapidfuzz anyascii numpy

(cd "$ROOT" && cargo build --quiet --release -p tansiq-match --example bench)
echo "== tansiq-match (Rust, 2 threads) =="
"$TARGET/release/examples/bench" "$DATA" --dump "$WORK" | tee "$WORK/ours.txt"
echo
echo "== rapidfuzz (Python, workers=2) on the first $PY_QUERIES queries =="
"$VENV/bin/python" "$ROOT/benches/match/compare_rapidfuzz.py" "$WORK" "$PY_QUERIES"
