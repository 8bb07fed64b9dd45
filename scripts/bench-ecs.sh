#!/usr/bin/env bash
# ECS at real scale: a cluster with SERVICES services (default 2000) in moto,
# reached through the realism layer (scripts/aws-realism.py: LATENCY_MS a call,
# default 40; ECS's page sizes; ECS's token buckets, by default 50 burst and 20
# a second for the service reads) as a real account answers, and side by side
# in one run with what a user types instead, through the same layer:
#
#   * the whole listing: `wharf tasks --cluster C --json` (every service
#     described) beside `aws ecs list-services` (every page) and `aws ecs
#     describe-services` for every 10 of them;
#   * the dashboard opened at the cluster in tmux (120x40), polled every 20 ms:
#     the first services on screen, all their names, all of them described;
#     beside the AWS CLI's first screenful (`list-services --max-items 10` and
#     `describe-services` for those).
#
# The layer's settings and what it throttled are printed beside the figures.
# Needs a release build (cargo build --release) and scripts/test.sh's .venv;
# installs the AWS CLI v1 into target/bench-venv when missing, and tmux.
set -euo pipefail
cd "$(dirname "$0")/.."
services=${SERVICES:-2000}
rounds=${ROUNDS:-1}
latency=${LATENCY_MS:-40}
. scripts/bench-aws.sh
bench_start wharf-bench-ecs
start_layer "$upstream" "$work/realism.log" --latency-ms "$latency"
endpoint=$LAYER_URL
echo "realism layer: $(sed -n 2p "$work/realism.log")"
echo "$services services; wharf paces its service reads at ${WHARF_ECS_READS:-48/20} (burst/s)"

make_services "$upstream" bench "$services"

now() { date +%s.%N; }
reset() { curl -s -X POST "$endpoint/realism/reset" >/dev/null; sleep 3; }  # and let the buckets fill
throttled() {
  curl -s "$endpoint/realism/stats" | python3 -c 'import json, sys; print(sum(json.load(sys.stdin)["throttled"].values()))'
}
aws_listing() {
  local arns
  arns=$(target/bench-venv/bin/aws --endpoint-url "$endpoint" ecs list-services --cluster bench --query 'serviceArns[]' --output text | tr '\t' '\n')
  echo "$arns" | xargs -n 10 target/bench-venv/bin/aws --endpoint-url "$endpoint" ecs describe-services --cluster bench --query 'services[].serviceName' --output text --services | wc -w
}
printf '\n| round | wharf tasks --json (s) | services | throttled calls | aws list + describe (s) | services | throttled calls | ratio |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n'
for round in $(seq "$rounds"); do
  reset
  t0=$(now); n_wharf=$("$wharf" --endpoint-url "$endpoint" tasks --cluster bench --json | python3 -c 'import json, sys; l = json.load(sys.stdin); print(len({s["name"] for s in l if s["status"] == "ACTIVE"}))'); t1=$(now)
  w_throttled=$(throttled)
  reset
  t2=$(now); n_aws=$(aws_listing 2>"$work/aws.err" || true); t3=$(now)
  a_throttled=$(throttled)
  python3 -c "print(f'| $round | {$t1 - $t0:.2f} | $n_wharf | $w_throttled | {$t3 - $t2:.2f} | $n_aws | $a_throttled | {($t1 - $t0) / ($t3 - $t2):.3f} |')"
done

bench_home "$endpoint"
first_screen_wharf() {
  python3 - "$wharf" "$home" "$services" <<'PY'
import re, subprocess, sys, time
wharf, home, total = sys.argv[1], sys.argv[2], int(sys.argv[3])
session = "wharf-bench-ecs"
start = time.monotonic()
subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "40", "-c", home,
                f"env XDG_CONFIG_HOME={home}/config XDG_STATE_HOME={home}/state XDG_CACHE_HOME={home}/cache {wharf}"], check=True)
first = names = described = None
while time.monotonic() - start < 120:
    screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout
    now = time.monotonic() - start
    if first is None and "svc-00000" in screen:
        first = now
    heading = re.search(r"(\d+) (so far|listed)", screen)
    if names is None and heading and int(heading.group(1)) == total:
        names = now
    if first is not None and not re.search(r"so far|described…", screen):
        names = names or now
        described = now
        break
    time.sleep(0.02)
subprocess.run(["tmux", "kill-session", "-t", session])
fmt = lambda t: "nan" if t is None else f"{t:.2f}"
print(fmt(first), fmt(names), fmt(described))
PY
}
first_screen_aws() {
  local names
  names=$(target/bench-venv/bin/aws --endpoint-url "$endpoint" ecs list-services --cluster bench --max-items 10 --query 'serviceArns[]' --output text | head -1 | tr '\t' ' ')
  # shellcheck disable=SC2086
  target/bench-venv/bin/aws --endpoint-url "$endpoint" ecs describe-services --cluster bench --services $names --query 'services[].serviceName' --output text | wc -w
}
printf '\n| round | wharf: first services on screen (s) | all names (s) | all described (s) | throttled calls | aws --max-items 10 + describe (s) | services | ratio (first screens) |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n'
for round in $(seq "$rounds"); do
  reset
  read -r first names described < <(first_screen_wharf)
  w_throttled=$(throttled)
  reset
  t0=$(now); n_aws=$(first_screen_aws); t1=$(now)
  python3 -c "print(f'| $round | $first | $names | $described | $w_throttled | {$t1 - $t0:.2f} | $n_aws | {$first / ($t1 - $t0):.3f} |')"
done
python3 -c "print(f'\nthe quota own minimum for every service described: ({$services // 100 + ($services + 9) // 10} calls - 50 burst) / 20 a second = {($services // 100 + ($services + 9) // 10 - 50) / 20:.1f} s; 1.2x that is {1.2 * ($services // 100 + ($services + 9) // 10 - 50) / 20:.1f} s')"
