# Helpers for the benchmarks that go through the realism layer. Source it; it
# defines functions only, and keeps what it starts in BENCH_PIDS (the caller's
# EXIT trap kills them: `kill $BENCH_PIDS`).

BENCH_PIDS=

# free_port: a free TCP port on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# aws_cli: the AWS CLI v1 from PyPI in target/bench-venv, installed when missing.
aws_cli() {
  if [ ! -x target/bench-venv/bin/aws ]; then
    python3 -m venv target/bench-venv
    target/bench-venv/bin/pip install -q --disable-pip-version-check awscli
  fi
}

# start_moto: moto (from scripts/test.sh's .venv) on a free port; its URL in MOTO_URL.
start_moto() {
  local port
  port=$(free_port)
  .venv/bin/moto_server -H 127.0.0.1 -p "$port" >/dev/null 2>&1 &
  BENCH_PIDS="$BENCH_PIDS $!"
  MOTO_URL=http://127.0.0.1:$port
  for _ in $(seq 50); do curl -s -o /dev/null "$MOTO_URL/moto-api/" && break; sleep 0.2; done
}

# bench_volume NAME: a scratch directory in `work`, and the names in `db` and
# `volume` for the benchmark's container and its named volume (all three go on
# exit, with what was started); then moto (its URL in MOTO_URL) and its test
# credentials.
bench_volume() {
  work=$(mktemp -d -p "$PWD/target")
  db=wharf-bench-$1-$$
  volume=wharf-bench-$1-$$
  trap 'kill $BENCH_PIDS 2>/dev/null || true; docker rm -f "$db" >/dev/null 2>&1 || true; docker volume rm -f "$volume" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
  start_moto
  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
}

# start_layer UPSTREAM LOG [ARGS…]: the realism layer in front of UPSTREAM, its
# output in LOG (the second line says its settings); its URL in LAYER_URL.
start_layer() {
  local upstream=$1 log=$2
  shift 2
  python3 scripts/aws-realism.py --upstream "$upstream" "$@" >"$log" &
  BENCH_PIDS="$BENCH_PIDS $!"
  for _ in $(seq 50); do grep -q '^listening on ' "$log" 2>/dev/null && break; sleep 0.1; done
  LAYER_URL=$(sed -n 's/^listening on //p' "$log")
}

# make_services UPSTREAM CLUSTER N: a cluster of N services (desired 0) in moto at UPSTREAM.
make_services() {
  .venv/bin/python - "$@" <<'PY'
import sys, boto3
upstream, cluster, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
ecs = boto3.client("ecs", endpoint_url=upstream)
ecs.create_cluster(clusterName=cluster)
ecs.register_task_definition(family="app", containerDefinitions=[{"name": "app", "image": "app:1", "memory": 128}])
for i in range(count):
    ecs.create_service(cluster=cluster, serviceName=f"svc-{i:05d}", taskDefinition="app:1", desiredCount=0)
PY
}

# bench_home ENDPOINT [LINE …]: a home in $work/home (its path in `home`) whose
# wharf.toml's profile `bench` reaches ENDPOINT on cluster `bench`, with LINEs added.
bench_home() {
  home=$work/home
  mkdir -p "$home/config/wharf"
  {
    printf 'default_profile = "bench"\n[profiles.bench]\nendpoint_url = "%s"\nregion = "eu-west-1"\ncluster = "bench"\n' "$1"
    shift
    printf '%s\n' "$@"
  } >"$home/wharf.toml"
}

# bench_start SESSION: how every AWS benchmark starts: the release build in
# `wharf`, tmux and the AWS CLI, a scratch directory in `work` (removed on exit,
# with what was started and the tmux session SESSION), moto's test credentials,
# and moto itself (its URL in `upstream`).
bench_start() {
  wharf=${WHARF_BIN:-$PWD/target/release/wharf}
  [ -x "$wharf" ] || { echo "build wharf first: cargo build --release" >&2; exit 1; }
  command -v tmux >/dev/null || { apt-get update -qq && apt-get install -y -qq tmux >/dev/null; }
  aws_cli
  work=$(mktemp -d -p "$PWD/target")
  BENCH_SESSION=$1
  trap 'kill $BENCH_PIDS 2>/dev/null || true; tmux kill-session -t "$BENCH_SESSION" 2>/dev/null || true; rm -rf "$work"' EXIT
  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=eu-west-1
  start_moto
  upstream=$MOTO_URL
}
