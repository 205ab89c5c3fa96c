#!/usr/bin/env bash
# Every performance figure of the README's *Measured performance* table, in one run on this
# machine, each next to its reference measured in the same run (SciPy, pylsl, pyxdf, the
# previous generator): runs each benchmark's own script or example in turn (never two at
# once), keeps their full outputs in target/bench-all/, and prints a report (the date, the
# CPU, and per row the command and the figures it printed) to stdout and
# target/bench-all/report.md, from which the README's rows are copied.
#
#   bash scripts/bench_all.sh            (about 15 minutes on 2 cores; needs scripts/venv.sh)
#   SKIP=lsl,dashboard bash scripts/bench_all.sh     (leave rows out)
#
# LSL rows run inside a private network namespace (`unshare -n`, loopback only) with
# crates/neuropipe-lsl/lsl_api.cfg; nothing leaves the machine.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=target/bench-all
mkdir -p "$OUT"
PY=${PY:-.venv/bin/python}
SKIP=${SKIP:-}
REPORT="$OUT/report.md"
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)
{
  echo "# neuropipe benchmarks, $(date -u +'%Y-%m-%d %H:%M UTC')"
  echo
  echo "$cpu, $(nproc) CPUs; commit $(git rev-parse --short HEAD)$(git diff --quiet || echo ' + changes')"
} >"$REPORT"

echo "== building (release, benches, examples)" >&2
cargo build --release -q -p neuropipe-cli -p neuropipe-server --examples >&2 || exit 1
cargo bench -q -p neuropipe-core --bench runtime --no-run >&2 || exit 1
cargo bench -q -p neuropipe-io --bench bdf_write --no-run >&2 || exit 1

# row NAME "COMMAND" FILTER: runs COMMAND (bash), keeps its output, reports the lines FILTER
# (an extended regex) selects, or the last lines when FILTER is empty.
row() {
  local name=$1 cmd=$2 filter=$3
  if [[ ",$SKIP," == *",$name,"* ]]; then return; fi
  echo "== $name: $cmd" >&2
  local log="$OUT/$name.txt"
  local t0=$SECONDS
  bash -c "$cmd" >"$log" 2>&1
  local rc=$?
  {
    echo
    echo "## $name"
    echo
    echo "\`$cmd\` ($((SECONDS - t0)) s$([ $rc = 0 ] || echo ", FAILED: exit $rc"))"
    echo
    echo '```'
    if [ -n "$filter" ]; then grep -E "$filter" "$log"; else tail -n 12 "$log"; fi
    echo '```'
  } >>"$REPORT"
}

row runtime "cargo bench -q -p neuropipe-core --bench runtime -- --noplot --warm-up-time 1 --measurement-time 3" \
  'time:|^(one hop|5 stages)|thrpt:|^[a-z].*/'
row dsp "$PY scripts/dsp/bench_compare.py" '^\||numpy'
row simulator "cargo run -q --release -p neuropipe-stages --example sim_bench -- 64 120" ''
row bdf_write "cargo bench -q -p neuropipe-io --bench bdf_write -- --noplot --warm-up-time 1 --measurement-time 3" \
  'time:|thrpt:|^[a-z].*/'
row xdf "bash scripts/xdf/throughput.sh" 'MB/s|UTC'
row replay "bash scripts/io/replay_throughput.sh 20" ''
row paced_cpu "bash scripts/paced_cpu.sh 15 3" ''
row paced_cpu_1thread "bash scripts/paced_cpu.sh 15 3 --threads 1" ''
row control "cargo run -q --release -p neuropipe-server --example control_latency" ''
row dashboard "bash scripts/dashboard_cpu.sh 10" 'CPU'
row lsl "LSLAPICFG=$PWD/crates/neuropipe-lsl/lsl_api.cfg unshare -n sh -c 'ip link set lo up && exec \"\$@\"' sh $PY scripts/lsl/latency.py --neuropipe target/release/neuropipe" '^\||^[0-9]+ ch'
row binary "ls -l target/release/neuropipe | awk '{printf \"%.1f MB\\n\", \$5 / 1e6}'" ''
cat "$REPORT"
