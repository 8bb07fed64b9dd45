#!/usr/bin/env bash
# A dashboard left open: what it costs while nothing changes. A cluster with
# SERVICES services (default 2000) in moto, reached through the realism layer
# (scripts/aws-realism.py: 40 ms a call, ECS's page sizes and token buckets).
# The release dashboard is opened at the cluster in tmux (120x40), its output
# captured with `tmux pipe-pane`; once every service is described it is left
# alone, and measured:
#
#   * bytes written to the terminal in 10 s, and AWS calls a minute (the
#     layer's counts, by action), with the panes as they open and with ECS
#     zoomed (34 rows of services on screen);
#   * beside it, what a user leaves open instead: `watch -n 5` over the AWS
#     CLI describing one screenful (10) of the services, in the same tmux
#     geometry, through the same layer.
#
# The ECS service-read quota the layer models refills 20 calls a second:
# 1,200 a minute; the goal is at most 3 % of it (36 a minute).
# Needs a release build (cargo build --release) and scripts/test.sh's .venv;
# installs the AWS CLI v1 into target/bench-venv when missing, and tmux.
set -euo pipefail
cd "$(dirname "$0")/.."
services=${SERVICES:-2000}
window=${WINDOW_SECS:-60}
. scripts/bench-aws.sh
bench_start wharf-bench-idle
start_layer "$upstream" "$work/realism.log"
endpoint=$LAYER_URL
echo "realism layer: $(sed -n 2p "$work/realism.log")"
make_services "$upstream" bench "$services"

bench_home "$endpoint"
session=$BENCH_SESSION
stats() { curl -s "$endpoint/realism/stats"; }
# calls_since FILE: the layer's calls since FILE's stats, by action, and their sum.
calls_since() {
  stats | python3 -c '
import json, sys
before = json.load(open(sys.argv[1]))["calls"]
now = json.load(sys.stdin)["calls"]
diff = {k.split(".")[-1]: v - before.get(k, 0) for k, v in now.items() if v - before.get(k, 0)}
print(sum(diff.values()), " ".join(f"{k}:{v}" for k, v in sorted(diff.items())) or "none")' "$1"
}
bytes() { stat -c %s "$work/tty.bytes"; }
# measure LABEL: bytes in 10 s, then calls in the rest of the window (scaled to a minute).
measure() {
  local label=$1 b0 b1 n rest
  sleep 3
  stats >"$work/before.json"
  b0=$(bytes); sleep 10; b1=$(bytes)
  sleep $((window - 10))
  read -r n rest < <(calls_since "$work/before.json")
  python3 -c "
n, w = $n, $window
print(f'| $label | {$b1 - $b0} | {n * 60 / w:.1f} | {n * 60 / w / 1200 * 100:.2f} % | $rest |')"
}

: >"$work/tty.bytes"
tmux new-session -d -s "$session" -x 120 -y 40 -c "$home" \
  "env XDG_CONFIG_HOME=$home/config XDG_STATE_HOME=$home/state XDG_CACHE_HOME=$home/cache $wharf"
tmux pipe-pane -o -t "$session" "cat >> $work/tty.bytes"
for _ in $(seq 600); do
  screen=$(tmux capture-pane -p -t "$session")
  if grep -q svc-00000 <<<"$screen" && ! grep -Eq 'so far|described…' <<<"$screen"; then break; fi
  sleep 0.1
done
printf '\n| left open | bytes written in 10 s | AWS calls a minute | of the 1,200 a minute service-read quota | calls in %s s, by action |\n| --- | --- | --- | --- | --- |\n' "$window"
measure "wharf, panes as opened"
tmux send-keys -t "$session" 3 z
measure "wharf, ECS zoomed (34 services on screen)"
tmux kill-session -t "$session"

names=$(printf 'svc-%05d ' $(seq 0 9))
: >"$work/tty.bytes"
tmux new-session -d -s "$session" -x 120 -y 40 -c "$home" \
  "watch -n 5 $PWD/target/bench-venv/bin/aws --endpoint-url $endpoint ecs describe-services --cluster bench --services $names --query 'services[].[serviceName,status,desiredCount,runningCount]' --output table"
tmux pipe-pane -o -t "$session" "cat >> $work/tty.bytes"
sleep 6
measure "watch -n 5 aws ecs describe-services (10 services)"
