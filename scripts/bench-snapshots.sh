#!/usr/bin/env bash
# Snapshot benchmark: backup and restore of a directory in a container, by
# `wharf backup` / `wharf restore` and by the pipeline a user would write
# instead, side by side in one run against the same local S3 server:
#
#   backup:  docker cp C:/data - | zstd -3 | aws s3 cp - s3://bucket/key
#   restore: aws s3 cp s3://bucket/key - | zstd -d | docker cp - C:/
#
# Throughput is raw (uncompressed) bytes per second; peak memory is the
# largest resident set of wharf, or of the pipeline's heaviest process.
# The data is base64 text of random bytes (it compresses about 4:3, like a
# database's pages do more or less), SIZES GiB of it (default "1 4").
#
# Needs a release build (cargo build --release). Installs what it lacks:
# s3s-fs (cargo install s3s-fs@0.14.1, a fast S3 server; moto is too slow to
# measure against), the AWS CLI v1 from PyPI in target/bench-venv, zstd and
# GNU time from Debian.
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=${SIZES:-1 4}
rounds=${ROUNDS:-1}
wharf=$PWD/target/release/wharf
[ -x "$wharf" ] || { echo "build wharf first: cargo build --release" >&2; exit 1; }

missing=()
command -v zstd >/dev/null || missing+=(zstd)
[ -x /usr/bin/time ] || missing+=(time)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v s3s-fs >/dev/null || cargo install -q s3s-fs@0.14.1 --features binary --locked
if [ ! -x target/bench-venv/bin/aws ]; then
  python3 -m venv target/bench-venv
  target/bench-venv/bin/pip install -q --disable-pip-version-check awscli
fi
bash scripts/test-images.sh

work=$(mktemp -d -p "$PWD/target")
container=wharf-bench-db-$$
s3_pid=
cleanup() {
  [ -n "$s3_pid" ] && kill "$s3_pid" 2>/dev/null || true
  docker rm -f "$container" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$work/s3"
s3s-fs --host 127.0.0.1 --port "$port" --access-key bench --secret-key benchsecret "$work/s3" >"$work/s3.log" 2>&1 &
s3_pid=$!
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=benchsecret AWS_DEFAULT_REGION=us-east-1
endpoint=http://127.0.0.1:$port
aws() { target/bench-venv/bin/aws --endpoint-url "$endpoint" "$@"; }
for _ in $(seq 50); do curl -s -o /dev/null "$endpoint" && break; sleep 0.1; done
aws s3 mb s3://bench >/dev/null

export XDG_CACHE_HOME=$work/cache XDG_STATE_HOME=$work/state XDG_CONFIG_HOME=$work/config
docker run -d --name "$container" wharf-test/busybox:latest sleep 36000 >/dev/null

now() { date +%s.%N; }
rate() { python3 -c "print(f'{$1 / ($3 - $2) / 1e6:.0f}')"; }
peak() { sort -n "$@" 2>/dev/null | tail -1; }  # KiB, the largest of the files given

printf '| data | operation | wharf MB/s | pipeline MB/s | ratio | wharf peak RSS | pipeline peak RSS |\n'
printf '| --- | --- | --- | --- | --- | --- | --- |\n'
for gib in $sizes; do
  docker exec "$container" sh -c "rm -rf /data && mkdir /data && for i in \$(seq $gib); do head -c 805306368 /dev/urandom | base64 > /data/part\$i; done"
  for round in $(seq "$rounds"); do
    # Backup, wharf.
    t0=$(now)
    /usr/bin/time -f %M -o "$work/wharf-backup.rss" "$wharf" --endpoint-url "$endpoint" backup \
      --container "$container" --path /data --bucket bench --prefix "wharf-$gib" --json >"$work/backup.json"
    t1=$(now)
    id=$(python3 -c "import json; print(json.load(open('$work/backup.json'))['id'])")
    # The tar of the directory: what both sides move.
    raw=$(python3 -c "import json; print(json.load(open('$work/backup.json'))['raw_bytes'])")
    # Backup, the pipeline.
    t2=$(now)
    /usr/bin/time -f %M -o "$work/p1.rss" docker cp "$container:/data" - \
      | /usr/bin/time -f %M -o "$work/p2.rss" zstd -3 -q -c \
      | /usr/bin/time -f %M -o "$work/p3.rss" target/bench-venv/bin/aws --endpoint-url "$endpoint" s3 cp - "s3://bench/pipeline-$gib/data.tar.zst"
    t3=$(now)
    printf '| %s GiB | backup | %s | %s | %s | %s MiB | %s MiB |\n' "$gib" \
      "$(rate "$raw" "$t0" "$t1")" "$(rate "$raw" "$t2" "$t3")" \
      "$(python3 -c "print(f'{($t3 - $t2) / ($t1 - $t0):.2f}')")" \
      "$(( $(peak "$work/wharf-backup.rss") / 1024 ))" "$(( $(peak "$work"/p?.rss) / 1024 ))"

    # Restore, wharf (nothing cached: it downloads, verifies, then unpacks).
    rm -rf "$work/cache"
    t0=$(now)
    /usr/bin/time -f %M -o "$work/wharf-restore.rss" "$wharf" --endpoint-url "$endpoint" restore "$id" \
      --container "$container" --bucket bench --prefix "wharf-$gib" --yes >/dev/null
    t1=$(now)
    # Restore, the pipeline.
    t2=$(now)
    /usr/bin/time -f %M -o "$work/r1.rss" target/bench-venv/bin/aws --endpoint-url "$endpoint" s3 cp "s3://bench/pipeline-$gib/data.tar.zst" - \
      | /usr/bin/time -f %M -o "$work/r2.rss" zstd -d -q -c \
      | /usr/bin/time -f %M -o "$work/r3.rss" docker cp - "$container:/"
    t3=$(now)
    printf '| %s GiB | restore | %s | %s | %s | %s MiB | %s MiB |\n' "$gib" \
      "$(rate "$raw" "$t0" "$t1")" "$(rate "$raw" "$t2" "$t3")" \
      "$(python3 -c "print(f'{($t3 - $t2) / ($t1 - $t0):.2f}')")" \
      "$(( $(peak "$work/wharf-restore.rss") / 1024 ))" "$(( $(peak "$work"/r?.rss) / 1024 ))"
  done
done
