#!/usr/bin/env bash
# Sync benchmark: a machine with nothing (no image, no container, no volume,
# an empty cache) brought to the head of the loop, beside what a user types
# instead, in one run, through the same realism layer (40 ms a call) and the
# same registry (Debian's docker-registry, with moto's ECR token as password).
#
#   wharf:  wharf sync --tag v1 --yes
#           (token, tag → digest, pull by digest with the digest checked,
#           named volume, container, snapshot fetched and verified, restored
#           before the first start, started)
#   by hand: aws ecr get-login-password | docker login …
#           docker pull HOST/REPO:v1
#           docker volume create V
#           docker create --name C -v V:/data HOST/REPO:v1   (not started: the data goes in first)
#           aws s3 cp s3://BUCKET/KEY - | zstd -d | docker cp - C:/
#           docker start C
#           (no digest check, no checksum of the snapshot, the key typed in)
#
# The image: 4 layers, IMAGE_MIB (default 120) MiB; the data: DATA_MIB
# (default 1024) MiB of random bytes in /data. ROUNDS rounds (default 2),
# everything removed between them. Needs a release build and the test set-up
# (bash scripts/test.sh once).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-aws.sh
image_mib=${IMAGE_MIB:-120}
data_mib=${DATA_MIB:-1024}
rounds=${ROUNDS:-2}
bench_start wharf-bench-sync
start_layer "$upstream" "$work/layer.log"
export DOCKER_CONFIG=$work/docker
aws=target/bench-venv/bin/aws

# The registry ECR's token opens (moto's token: user AWS).
port=$(free_port)
registry=127.0.0.1:$port
password=$(AWS_ENDPOINT_URL=$upstream $aws ecr get-login-password)
target/bench-venv/bin/python -c 'import bcrypt' 2>/dev/null \
  || target/bench-venv/bin/pip install -q --disable-pip-version-check bcrypt
target/bench-venv/bin/python - "$work/htpasswd" "$password" <<'PY'
import sys, bcrypt
hashed = bcrypt.hashpw(sys.argv[2].encode(), bcrypt.gensalt(5)).decode()
print(f"AWS:{hashed}", file=open(sys.argv[1], "w"))
PY
cat >"$work/registry.yml" <<YML
version: 0.1
storage:
  filesystem:
    rootdirectory: $work/registry
http:
  addr: $registry
auth:
  htpasswd:
    realm: bench
    path: $work/htpasswd
YML
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
BENCH_PIDS="$BENCH_PIDS $!"
for _ in $(seq 50); do curl -s -o /dev/null "http://$registry/v2/" && break; sleep 0.1; done

repo=bench-sync-$$
bucket=bench-sync-$$
laptop=bench-sync-laptop-$$
home=bench-sync-home-$$
manual=bench-sync-manual-$$
image=wharf-bench/sync-$$:v1
cleanup_docker() {
  docker rm -f "$laptop" "$home" "$manual" >/dev/null 2>&1 || true
  docker volume rm -f "$laptop-data" "$home-data" "$manual-data" >/dev/null 2>&1 || true
  docker rmi -f "$image" "$registry/$repo:v1" >/dev/null 2>&1 || true
}
trap 'cleanup_docker; kill $BENCH_PIDS 2>/dev/null || true; tmux kill-session -t "$BENCH_SESSION" 2>/dev/null || true; rm -rf "$work"' EXIT
AWS_ENDPOINT_URL=$upstream $aws ecr create-repository --repository-name "$repo" >/dev/null
AWS_ENDPOINT_URL=$upstream $aws s3 mb "s3://$bucket" >/dev/null

# The image: the busybox test image and three layers of random bytes.
layer=$((image_mib / 3))
mkdir -p "$work/build"
cat >"$work/build/Dockerfile" <<DOCKER
FROM wharf-test/busybox:latest
RUN mkdir -p /opt && dd if=/dev/urandom of=/opt/a bs=1M count=$layer 2>/dev/null
RUN dd if=/dev/urandom of=/opt/b bs=1M count=$layer 2>/dev/null
RUN dd if=/dev/urandom of=/opt/c bs=1M count=$layer 2>/dev/null
CMD ["sleep", "100000"]
DOCKER
DOCKER_BUILDKIT=0 docker build -q -t "$image" "$work/build" >/dev/null 2>"$work/setup.log" || { cat "$work/setup.log"; exit 1; }

profile() { # HOME-DIR CONTAINER
  mkdir -p "$1"
  cat >"$1/wharf.toml" <<TOML
[profiles.bench]
repository = "$repo"
bucket = "$bucket"
prefix = "line"
registry = "$registry"
[profiles.bench.database]
container = "$2"
path = "/data"
TOML
}
w() { # HOME-DIR ARGS…
  local dir=$1
  shift
  (cd "$dir" && WHARF_HOST=$(basename "$dir") XDG_CONFIG_HOME=$dir/config XDG_STATE_HOME=$dir/state XDG_CACHE_HOME=$dir/cache \
    "$wharf" --endpoint-url "$LAYER_URL" "$@")
}

# The first machine: runs the image, fills its volume, pushes, backs up; then
# nothing of it is left on this engine but the base image.
profile "$work/laptop" "$laptop"
w "$work/laptop" run "$image" >/dev/null 2>>"$work/setup.log"
docker exec "$laptop" sh -c "dd if=/dev/urandom of=/data/db bs=1M count=$data_mib 2>/dev/null"
w "$work/laptop" push "$image" --tag v1 >/dev/null 2>>"$work/setup.log"
snapshot=$(w "$work/laptop" backup --json 2>>"$work/setup.log" | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
key=$(AWS_ENDPOINT_URL=$upstream $aws s3 cp "s3://$bucket/line/$snapshot/manifest.json" - \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["key"])')
cleanup_docker

profile "$work/home" "$home"
echo "what wharf sync --tag v1 --dry-run says on the empty machine:"
w "$work/home" sync --tag v1 --dry-run 2>/dev/null | sed 's/^/  /'
echo "sync from nothing: a ${image_mib} MiB 4-layer image, ${data_mib} MiB of data; $(sed -n 2p "$work/layer.log")"
for round in $(seq "$rounds"); do
  cleanup_docker
  rm -rf "$work/home"
  profile "$work/home" "$home"
  start=$(date +%s.%N)
  w "$work/home" sync --tag v1 --yes >/dev/null 2>"$work/sync.err" || { cat "$work/sync.err"; exit 1; }
  wharf_s=$(echo "$(date +%s.%N) - $start" | bc)
  docker exec "$home" test -s /data/db

  cleanup_docker
  rm -rf "$DOCKER_CONFIG"
  start=$(date +%s.%N)
  AWS_ENDPOINT_URL=$LAYER_URL $aws ecr get-login-password | docker login -u AWS --password-stdin "$registry" >/dev/null 2>&1
  docker pull -q "$registry/$repo:v1" >/dev/null
  docker volume create "$manual-data" >/dev/null
  docker create --name "$manual" -v "$manual-data:/data" "$registry/$repo:v1" >/dev/null
  AWS_ENDPOINT_URL=$LAYER_URL $aws s3 cp "s3://$bucket/$key" - | zstd -dc | docker cp - "$manual:/"
  docker start "$manual" >/dev/null
  manual_s=$(echo "$(date +%s.%N) - $start" | bc)
  docker exec "$manual" test -s /data/db
  printf 'round %s: wharf sync %.2f s (1 command) | by hand %.2f s (6 commands) | ratio %.2f\n' \
    "$round" "$wharf_s" "$manual_s" "$(echo "$wharf_s / $manual_s" | bc -l)"
done
