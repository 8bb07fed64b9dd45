#!/usr/bin/env bash
# wharf's one test command: sets up every real part the tests use on a fresh
# machine, runs the whole test suite, and stops what it started.
#
#   - Debian packages: busybox-static (test images), docker-registry (pushes),
#     postgresql-15, mariadb-server-core and mariadb-client (copied into
#     PostgreSQL and MariaDB test images for the postgres and mysql presets),
#     awscli (copied into the image that stands in for the AWS CLI's own in a
#     remote backup task), zstd (`tar --zstd` reads an exported snapshot)
#   - a Python virtual environment (.venv) with moto[server]>=5.2.5, started on
#     127.0.0.1 for the AWS-backed tests (its URL is in WHARF_TEST_MOTO_URL),
#     and in front of it the realism layer (scripts/aws-realism.py: latency,
#     AWS's page sizes, ECS's throttling) that wharf is tested through
#     (WHARF_TEST_AWS_URL)
#   - the test images, built locally with `docker import` (nothing is pulled)
#   - cargo test
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '==> %s\n' "$*" >&2; }

if ! docker info >/dev/null 2>&1; then
  say "the Docker Engine is not reachable (is /var/run/docker.sock there?); the tests need it"
  exit 1
fi

missing=()
[ -x /bin/busybox ] || missing+=(busybox-static)
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
[ -x /usr/lib/postgresql/15/bin/postgres ] || missing+=(postgresql-15)
[ -x /usr/sbin/mariadbd ] || missing+=(mariadb-server-core)
[ -x /usr/bin/mariadb-dump ] || missing+=(mariadb-client)
[ -x /usr/bin/aws ] || missing+=(awscli)
[ -x /usr/bin/zstd ] || missing+=(zstd)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/moto_server ] || ! .venv/bin/python -c 'import moto, sys; v = tuple(int(x) for x in moto.__version__.split(".")[:3]); sys.exit(v < (5, 2, 5))' 2>/dev/null; then
  say "creating .venv with moto[server]>=5.2.5"
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check 'moto[server]>=5.2.5'
fi

moto_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p target
# AWS-managed IAM policies (wharf init attaches AmazonECSTaskExecutionRolePolicy) are there, as in AWS.
MOTO_IAM_LOAD_MANAGED_POLICIES=true .venv/bin/moto_server -H 127.0.0.1 -p "$moto_port" >target/moto.log 2>&1 &
moto_pid=$!
realism_pid=
trap 'kill "$moto_pid" $realism_pid 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true' EXIT
export WHARF_TEST_MOTO_URL="http://127.0.0.1:$moto_port"
up=
for _ in $(seq 1 150); do
  if python3 -c "import urllib.request; urllib.request.urlopen('$WHARF_TEST_MOTO_URL/moto-api/')" 2>/dev/null; then
    up=1
    break
  fi
  sleep 0.2
done
if [ -z "$up" ]; then
  say "moto server did not start; its log:"
  cat target/moto.log >&2
  exit 1
fi
say "moto server on $WHARF_TEST_MOTO_URL"
python3 scripts/aws-realism.py --upstream "$WHARF_TEST_MOTO_URL" >target/realism.log 2>&1 &
realism_pid=$!
for _ in $(seq 1 100); do
  grep -q '^listening on ' target/realism.log 2>/dev/null && break
  sleep 0.1
done
WHARF_TEST_AWS_URL=$(sed -n 's/^listening on //p' target/realism.log)
[ -n "$WHARF_TEST_AWS_URL" ] || { say "the realism layer did not start:"; cat target/realism.log >&2; exit 1; }
export WHARF_TEST_AWS_URL
say "realism layer on $WHARF_TEST_AWS_URL: $(sed -n 2p target/realism.log)"

say "building test images"
bash scripts/test-images.sh
bash scripts/test-image-postgres.sh
bash scripts/test-image-mariadb.sh
bash scripts/test-image-awscli.sh

say "cargo test"
cargo test --locked "$@"
