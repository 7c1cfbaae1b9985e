#!/usr/bin/env bash
# Screening from a cold start (issue 16 §3), side by side with the anchor:
# the whole `tansiq screen` process (reading the list, building the index,
# screening, writing JSONL) against rapidfuzz `cdist` Jaro-Winkler over
# anyascii on both cores, on the same mixed-script list and queries
# (benches/match/cold_screen.py: 75,757 entries, 10,000 queries in the
# other script, top 10 at threshold 0). Three runs each, interleaved;
# prints each run and the medians.
#
#   benches/match/cold_screen.sh [NAMES_DIR]
#   env: RUNS (3), CARGO_TARGET_DIR, VENV (default target/bench-venv),
#        WORK (temp dir), TANSIQ_BIN (a built tansiq, else built here),
#        CHRT (default "chrt -r 10" when allowed, else empty)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DATA=${1:-$ROOT/../shared/data/names}
RUNS=${RUNS:-3}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
VENV=${VENV:-$TARGET/bench-venv}
WORK=${WORK:-$(mktemp -d)}
if [ -z "${CHRT+x}" ]; then
  if chrt -r 10 true 2>/dev/null; then CHRT="chrt -r 10"; else CHRT=""; fi
fi
mkdir -p "$WORK"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet --disable-pip-version-check rapidfuzz anyascii numpy
if [ -z "${TANSIQ_BIN:-}" ]; then
  (cd "$ROOT" && cargo build --quiet --release -p tansiq-cli)
  TANSIQ_BIN=$TARGET/release/tansiq
fi
python3 "$ROOT/benches/match/cold_screen.py" make "$DATA" "$WORK"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
ours=() theirs=()
for r in $(seq "$RUNS"); do
  s=$(date +%s.%N)
  $CHRT "$TANSIQ_BIN" screen --list "$WORK/list.jsonl" --names "$WORK/queries.jsonl" \
    --threshold 0 --top 10 --out "$WORK/ours.jsonl"
  e=$(date +%s.%N)
  q=$(python3 -c "print(f'{10000 / ($e - $s):.0f}')")
  ours+=("$q")
  echo "run $r: tansiq screen $(python3 -c "print(f'{$e - $s:.2f}')") s = $q queries/s (load $(cut -d' ' -f1 /proc/loadavg))"
  out=$($CHRT "$VENV/bin/python" "$ROOT/benches/match/cold_screen.py" anchor "$WORK")
  echo "$out"
  theirs+=("$(echo "$out" | head -1 | sed -E 's/.* = ([0-9]+) queries\/s/\1/')")
done
python3 "$ROOT/benches/match/cold_screen.py" recall "$WORK" "$WORK/ours.jsonl"
python3 - "${ours[*]}" "${theirs[*]}" <<'PY'
import statistics, sys
o = [float(x) for x in sys.argv[1].split()]
t = [float(x) for x in sys.argv[2].split()]
mo, mt = statistics.median(o), statistics.median(t)
print(f"median: tansiq {mo:.0f} queries/s, rapidfuzz {mt:.0f} queries/s: {mo / mt:.1f}x")
PY
