#!/usr/bin/env bash
# Push benchmark: the same ≥100 MiB, several-layer image pushed by `wharf push`
# and by `docker push`, each to a fresh registry (Debian's docker-registry with
# htpasswd auth, as ECR's token would be used), side by side, several rounds.
# Needs: a release build (cargo build --release), scripts/test.sh's set-up
# (.venv with moto, docker-registry, the test image).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-3}
image=wharf-bench/push:v1
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  pkill -f "docker-registry serve $work/" 2>/dev/null || true   # started in subshells
  rm -rf "$work"
}
trap cleanup EXIT

bash scripts/test-images.sh
if ! docker image inspect "$image" >/dev/null 2>&1; then
  mkdir -p "$work/build"
  cat > "$work/build/Dockerfile" <<'DOCKERFILE'
FROM wharf-test/busybox:latest
RUN dd if=/dev/urandom of=/data/a bs=1M count=40 2>/dev/null
RUN dd if=/dev/urandom of=/data/b bs=1M count=40 2>/dev/null
RUN dd if=/dev/urandom of=/data/c bs=1M count=40 2>/dev/null
DOCKERFILE
  DOCKER_BUILDKIT=0 docker build -q -t "$image" "$work/build" >/dev/null 2>&1
fi
size=$(docker image inspect --format '{{.Size}}' "$image")

.venv/bin/python -c 'import bcrypt' 2>/dev/null || .venv/bin/pip install -q bcrypt
password=123456789012-auth-token   # what moto's ECR token decodes to
hash=$(.venv/bin/python -c "import bcrypt; print(bcrypt.hashpw(b'$password', bcrypt.gensalt(5)).decode())")
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

moto_port=$(free_port)
.venv/bin/moto_server -H 127.0.0.1 -p "$moto_port" >"$work/moto.log" 2>&1 &
pids+=($!)
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=eu-west-1
for _ in $(seq 50); do curl -s "http://127.0.0.1:$moto_port/moto-api/" >/dev/null && break; sleep 0.2; done

registry() { # starts a fresh registry, prints host:port
  local port dir
  port=$(free_port); dir="$work/registry-$port"; mkdir -p "$dir"
  echo "AWS:$hash" > "$dir/htpasswd"
  printf 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s/data\nhttp:\n  addr: 127.0.0.1:%s\nauth:\n  htpasswd:\n    realm: bench\n    path: %s/htpasswd\n' "$dir" "$port" "$dir" > "$dir/config.yml"
  docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/v2/" && break; sleep 0.1; done
  echo "127.0.0.1:$port"
}
now() { date +%s.%N; }

export DOCKER_CONFIG="$work/docker-config"
wharf_times=(); docker_times=()
for round in $(seq "$rounds"); do
  repo="bench-$round"
  .venv/bin/python -c "import boto3; boto3.client('ecr', endpoint_url='http://127.0.0.1:$moto_port').create_repository(repositoryName='$repo')" >/dev/null

  host=$(registry)
  start=$(now)
  target/release/wharf --endpoint-url "http://127.0.0.1:$moto_port" --registry "$host" \
    push "$image" --repo "$repo" --tag v1 >/dev/null
  wharf_times+=("$(python3 -c "print(round($(now) - $start, 3))")")

  host=$(registry)
  echo "$password" | docker login -u AWS --password-stdin "$host" >/dev/null 2>&1
  docker tag "$image" "$host/$repo:v1"
  start=$(now)
  docker push -q "$host/$repo:v1" >/dev/null
  docker_times+=("$(python3 -c "print(round($(now) - $start, 3))")")
  docker rmi "$host/$repo:v1" >/dev/null
done
docker images --format '{{.Repository}}:{{.Tag}}' | grep -E '^127\.0\.0\.1:[0-9]+/bench-' | xargs -r docker rmi >/dev/null 2>&1 || true

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
w=$(median "${wharf_times[@]}"); d=$(median "${docker_times[@]}")
echo "push of $image ($((size / 1048576)) MiB, 4 layers) to a fresh local registry, $rounds rounds, medians"
echo "| tool | wall time (s) | runs |"
echo "| --- | --- | --- |"
echo "| wharf push (token from ECR, push, digest check) | $w | ${wharf_times[*]} |"
echo "| docker push | $d | ${docker_times[*]} |"
echo "ratio wharf / docker: $(python3 -c "print(round($w / $d, 3))")"
