#!/usr/bin/env bash
# ECS listing benchmark: a cluster with SERVICES services (default 2000) in moto,
# listed whole by `wharf tasks --cluster C --json` and, side by side in one run,
# by what a user scripts with the AWS CLI: `aws ecs list-services` (all pages)
# and `aws ecs describe-services` for every 10 of them. Then the first screen:
# the dashboard opened at the cluster in tmux (120x40), timed until the first
# services are on screen and until the whole list is, next to the AWS CLI's
# first screenful (`list-services --max-items 10` + `describe-services`).
# Needs a release build (cargo build --release) and scripts/test.sh's .venv;
# installs the AWS CLI v1 into target/bench-venv when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
services=${SERVICES:-2000}
rounds=${ROUNDS:-3}
wharf=$PWD/target/release/wharf
[ -x "$wharf" ] || { echo "build wharf first: cargo build --release" >&2; exit 1; }
if [ ! -x target/bench-venv/bin/aws ]; then
  python3 -m venv target/bench-venv
  target/bench-venv/bin/pip install -q --disable-pip-version-check awscli
fi

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
.venv/bin/moto_server -H 127.0.0.1 -p "$port" >/dev/null 2>&1 &
moto=$!
trap 'kill $moto 2>/dev/null || true' EXIT
endpoint=http://127.0.0.1:$port
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=eu-west-1
for _ in $(seq 50); do curl -s -o /dev/null "$endpoint/moto-api/" && break; sleep 0.2; done

.venv/bin/python - "$endpoint" "$services" <<'PY'
import sys, boto3
ecs = boto3.client("ecs", endpoint_url=sys.argv[1])
ecs.create_cluster(clusterName="bench")
ecs.register_task_definition(family="app", containerDefinitions=[{"name": "app", "image": "app:1", "memory": 128}])
for i in range(int(sys.argv[2])):
    ecs.create_service(cluster="bench", serviceName=f"svc-{i:05d}", taskDefinition="app:1", desiredCount=0)
PY

aws_listing() {
  local arns
  arns=$(target/bench-venv/bin/aws --endpoint-url "$endpoint" ecs list-services --cluster bench --query 'serviceArns[]' --output text | tr '\t' '\n')
  echo "$arns" | xargs -n 10 target/bench-venv/bin/aws --endpoint-url "$endpoint" ecs describe-services --cluster bench --query 'services[].serviceName' --output text --services | wc -w
}
now() { date +%s.%N; }
printf '| round | wharf tasks (s) | services | aws ecs list + describe (s) | services | ratio |\n| --- | --- | --- | --- | --- | --- |\n'
for round in $(seq "$rounds"); do
  t0=$(now); n_wharf=$("$wharf" --endpoint-url "$endpoint" tasks --cluster bench --json | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))'); t1=$(now)
  t2=$(now); n_aws=$(aws_listing); t3=$(now)
  python3 -c "print(f'| $round | {$t1 - $t0:.2f} | $n_wharf | {$t3 - $t2:.2f} | $n_aws | {($t1 - $t0) / ($t3 - $t2):.3f} |')"
done

# First screen: the dashboard in tmux, polled every 20 ms.
command -v tmux >/dev/null || { echo "first screen needs tmux (apt-get install tmux)" >&2; exit 1; }
home=$(mktemp -d)
cat >"$home/wharf.toml" <<TOML
default_profile = "bench"
[profiles.bench]
endpoint_url = "$endpoint"
region = "eu-west-1"
cluster = "bench"
TOML
first_screen_wharf() {
  python3 - "$wharf" "$home" <<'PY'
import subprocess, sys, time
wharf, home = sys.argv[1], sys.argv[2]
session = "wharf-bench-ecs"
start = time.monotonic()
subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "40", "-c", home,
                f"env XDG_CONFIG_HOME={home}/config {wharf}"], check=True)
first = whole = None
while time.monotonic() - start < 60:
    screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout
    now = time.monotonic() - start
    if first is None and "svc-00000" in screen:
        first = now
    if first is not None and "so far" not in screen and "svc-00000" in screen:
        whole = now
        break
    time.sleep(0.02)
subprocess.run(["tmux", "kill-session", "-t", session])
print(f"{first or float('nan'):.2f} {whole or float('nan'):.2f}")
PY
}
first_screen_aws() {
  local names
  names=$(target/bench-venv/bin/aws --endpoint-url "$endpoint" ecs list-services --cluster bench --max-items 10 --query 'serviceArns[]' --output text | head -1 | tr '\t' ' ')
  # shellcheck disable=SC2086
  target/bench-venv/bin/aws --endpoint-url "$endpoint" ecs describe-services --cluster bench --services $names --query 'services[].serviceName' --output text | wc -w
}
printf '\n| round | wharf: first services on screen (s) | wharf: whole list on screen (s) | aws list-services --max-items 10 + describe-services (s) | services | ratio (first screens) |\n| --- | --- | --- | --- | --- | --- |\n'
for round in $(seq "$rounds"); do
  read -r first whole < <(first_screen_wharf)
  t0=$(now); n_aws=$(first_screen_aws); t1=$(now)
  python3 -c "print(f'| $round | $first | $whole | {$t1 - $t0:.2f} | $n_aws | {$first / ($t1 - $t0):.3f} |')"
done
rm -rf "$home"
