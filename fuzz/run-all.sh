#!/usr/bin/env bash
# Runs every fuzz target for SECONDS seconds (default 30) on stable Rust
# (RUSTC_BOOTSTRAP=1 lets stable accept cargo-fuzz's -Z flags).
# New corpus entries go to a scratch directory ($WORK, default
# /tmp/tansiq-fuzz-work/<target>), seeded from fuzz/corpus/<target>, so the
# committed seeds stay small. Crashes land in fuzz/artifacts/<target>/.
#
#   fuzz/run-all.sh [SECONDS] [TARGET...]
set -uo pipefail
cd "$(dirname "$0")"
secs=${1:-30}
shift || true
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/work/target-fuzz}
work=${WORK:-/tmp/tansiq-fuzz-work}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo fuzz list)
fi
cargo fuzz build || exit 1
status=0
for t in "${targets[@]}"; do
    mkdir -p "$work/$t" "corpus/$t" "artifacts/$t"
    log="$work/$t.log"
    dict=()
    case $t in
        list_import | merkle_proofs) ;;
        *) dict=(-dict=dicts/json.dict) ;;
    esac
    cargo fuzz run "$t" "$work/$t" "corpus/$t" -- "${dict[@]}" \
        -max_total_time="$secs" -rss_limit_mb=4096 -print_final_stats=1 >"$log" 2>&1
    rc=$?
    execs=$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}')
    speed=$(grep -m1 'stat::average_exec_per_sec' "$log" | awk '{print $2}')
    cov=$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE)' "$log" | tail -1 | grep -o 'cov: [0-9]*' | awk '{print $2}')
    ft=$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE)' "$log" | tail -1 | grep -o 'ft: [0-9]*' | awk '{print $2}')
    corp=$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE)' "$log" | tail -1 | grep -o 'corp: [0-9]*' | awk '{print $2}')
    if [ $rc -eq 0 ]; then res=ok; else res="CRASH (rc $rc, see $log)"; status=1; fi
    printf '%-18s execs %-10s exec/s %-7s cov %-6s ft %-6s corpus %-6s %s\n' \
        "$t" "${execs:-?}" "${speed:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$res"
done
exit $status
