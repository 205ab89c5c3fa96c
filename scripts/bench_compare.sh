#!/usr/bin/env bash
# Same-run comparison of the runtime benchmarks (pool lease, pipeline throughput, paced
# end-to-end latency: crates/neuropipe-core/benches/runtime.rs) between a base commit and the
# working tree. Each side runs its own version of the bench (the same workload, written for
# its own API), alternating base/new for ROUNDS rounds so that both see the same machine load;
# the table reports the median over rounds and the ratio new/base (< 1 is faster for times).
#
#   bash scripts/bench_compare.sh [BASE_COMMIT]      (default 67477a8: before stage API v2)
#   ROUNDS=3 bash scripts/bench_compare.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=${1:-67477a8}
ROUNDS=${ROUNDS:-2}
WT=${BENCH_BASE_DIR:-/tmp/neuropipe-bench-base}
OUT=target/bench-compare
mkdir -p "$OUT"

if [ -d "$WT" ]; then
  git -C "$WT" checkout -q --detach "$BASE"
else
  git worktree add -q --detach "$WT" "$BASE"
fi

if [ -z "${PARSE_ONLY:-}" ]; then
  echo "== building the bench: base $BASE and the working tree" >&2
  (cd "$WT" && cargo bench -q -p neuropipe-core --bench runtime --no-run >/dev/null)
  cargo bench -q -p neuropipe-core --bench runtime --no-run >/dev/null
fi

# PARSE_ONLY=1: tabulate the outputs of the last run again.
for r in $(seq "$ROUNDS"); do
  [ -n "${PARSE_ONLY:-}" ] && break
  for side in base new; do
    dir=.
    [ "$side" = base ] && dir=$WT
    echo "== round $r: $side" >&2
    (cd "$dir" && cargo bench -q -p neuropipe-core --bench runtime -- --noplot) \
      >"$OUT/$side-$r.txt" 2>&1
  done
done

python3 - "$OUT" "$ROUNDS" "$BASE" <<'EOF'
import re, statistics, sys, platform, datetime, subprocess
out, rounds, base = sys.argv[1], int(sys.argv[2]), sys.argv[3]
UNIT = {"ps": 1e-3, "ns": 1.0, "µs": 1e3, "us": 1e3, "ms": 1e6, "s": 1e9}

def parse(path):
    text = open(path, encoding="utf-8").read()
    res = {}
    # criterion: "<name>\n   time:   [lo unit mid unit hi unit]" (name may sit on the same line)
    for m in re.finditer(r"^(\S[^\n]*?)\s*\n?\s+time:\s+\[\S+ \S+ (\S+) (\S+) \S+ \S+\]", text, re.M):
        res[m.group(1).strip() + " (time, ns)"] = float(m.group(2)) * UNIT[m.group(3)]
    for line in text.splitlines():
        m = re.match(r"^((?:one hop|5 stages).{0,40}?)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*$", line)
        if m:
            name = m.group(1).strip()
            res[name + " p50 µs"] = float(m.group(2))
            res[name + " p99 µs"] = float(m.group(3))
    return res

sides = {s: [parse(f"{out}/{s}-{r}.txt") for r in range(1, rounds + 1)] for s in ("base", "new")}
keys = [k for k in sides["new"][0] if all(k in d for s in sides.values() for d in s)]
try:
    cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
except Exception:
    cpu = platform.processor() or "unknown CPU"
head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
print(f"runtime benches, base {base} vs working tree on {head}; {rounds} alternating rounds, median; "
      f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; {cpu}")
print()
print("| measure | base | new | new / base |")
print("|---|---:|---:|---:|")
for k in keys:
    b = statistics.median(d[k] for d in sides["base"])
    n = statistics.median(d[k] for d in sides["new"])
    print(f"| {k} | {b:.4g} | {n:.4g} | {n / b:.2f} |")
EOF
