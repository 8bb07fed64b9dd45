#!/usr/bin/env bash
# Restore benchmark: what wharf's safe restore costs, beside the plain pipeline
# a user would script for the same job, in one run, from the same local file.
#
#  1. A directory (SIZE GiB, default 1) into a running container's named volume.
#     wharf:    wharf restore ID --yes, the snapshot already verified in the
#               cache: SHA-256 check, stop, safety copy of what is there (tar
#               through the archive API → zstd → synced file), the volume
#               emptied and refilled through a helper container, start.
#     pipeline: docker stop C; zstd -dc data.tar.zst | docker cp - C:/; docker start C
#               (writes over what is there: keeps no copy, leaves files the
#               snapshot does not have, and a failure half-way is a mix)
#     pipeline + copy: the same after `docker cp C:/data - | zstd > old.tar.zst`,
#               the user's own safety copy.
#  2. A PostgreSQL database (ROWS rows, default 2M) from a pg_dump -Fc dump.
#     wharf:    wharf restore ID --yes (the dump verified in the cache): a
#               pg_dump -Fc safety copy, then pg_restore --single-transaction.
#     pipeline: zstd -dc data.dump.zst | docker exec -i C pg_restore --clean
#               --if-exists --no-owner -U postgres -d app
#
# The snapshots are format 1 (--full): the pipeline reads their one data file.
# Throughput is the snapshot's raw bytes per second of wall time; peak memory
# is wharf's largest resident set (GNU time). moto (from .venv, as the tests
# use it) holds the snapshots: the restores themselves read only the cache.
#
# Needs a release build (cargo build --release) and the test set-up's .venv
# (bash scripts/test.sh makes it). Installs zstd and GNU time if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
size=${SIZE:-1}
rows=${ROWS:-2000000}
rounds=${ROUNDS:-2}
wharf=${WHARF_BIN:-$PWD/target/release/wharf}
[ -x "$wharf" ] || { echo "build wharf first: cargo build --release" >&2; exit 1; }
[ -x .venv/bin/moto_server ] || { echo "run bash scripts/test.sh once first (it makes .venv)" >&2; exit 1; }
missing=()
command -v zstd >/dev/null || missing+=(zstd)
[ -x /usr/bin/time ] || missing+=(time)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
fi
bash scripts/test-images.sh
bash scripts/test-image-postgres.sh

work=$(mktemp -d -p "$PWD/target")
db=wharf-bench-vol-$$
pg=wharf-bench-pg-$$
volume=wharf-bench-vol-$$
moto_pid=
cleanup() {
  [ -n "$moto_pid" ] && kill "$moto_pid" 2>/dev/null || true
  docker rm -f "$db" "$pg" >/dev/null 2>&1 || true
  docker volume rm -f "$volume" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
.venv/bin/moto_server -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
moto_pid=$!
endpoint=http://127.0.0.1:$port
for _ in $(seq 100); do curl -s -o /dev/null "$endpoint/moto-api/" && break; sleep 0.1; done
curl -s -X PUT "$endpoint/bench" >/dev/null
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
export XDG_CACHE_HOME=$work/cache XDG_STATE_HOME=$work/state XDG_CONFIG_HOME=$work/config
w() { "$wharf" --endpoint-url "$endpoint" "$@"; }

now() { date +%s.%N; }
rate() { python3 -c "print(f'{$1 / ($3 - $2) / 1e6:.0f}')"; }
secs() { python3 -c "print(f'{$2 - $1:.2f}')"; }
ratio() { python3 -c "print(f'{($2 - $1) / ($4 - $3):.2f}')"; }
mib() { echo $(( $(cat "$1") / 1024 )); }

echo "data: $size GiB directory (base64 of random bytes) on a named volume; PostgreSQL: $rows rows" >&2
printf '| job | wharf s | wharf MB/s | wharf peak RSS | pipeline s | pipeline MB/s | pipeline / wharf |\n'
printf '| --- | --- | --- | --- | --- | --- | --- |\n'

# 1. The directory on a named volume.
docker volume create "$volume" >/dev/null
docker run -d --init --name "$db" -v "$volume:/data" wharf-test/busybox:latest sleep 360000 >/dev/null
docker exec "$db" sh -c "for i in \$(seq $size); do head -c 805306368 /dev/urandom | base64 > /data/part\$i; done"
w backup --full --container "$db" --path /data --bucket bench --json >"$work/backup.json"
id=$(python3 -c "import json; print(json.load(open('$work/backup.json'))['id'])")
raw=$(python3 -c "import json; print(json.load(open('$work/backup.json'))['raw_bytes'])")
# Fetched and verified into the cache once; what follows is the local machinery.
w restore "$id" --container "$db" --bucket bench --yes >/dev/null 2>&1
snapshot=$XDG_CACHE_HOME/wharf/snapshots/$id/data.tar.zst
for round in $(seq "$rounds"); do
  t0=$(now)
  /usr/bin/time -f %M -o "$work/rss" "$wharf" restore "$id" --container "$db" --bucket bench --yes >/dev/null 2>"$work/restore.err"
  t1=$(now)
  wharf_rss=$(mib "$work/rss")
  t2=$(now)
  docker stop "$db" >/dev/null
  zstd -dc "$snapshot" | docker cp - "$db:/"
  docker start "$db" >/dev/null
  t3=$(now)
  printf '| %s GiB volume restore | %s | %s | %s MiB | %s | %s | %s |\n' "$size" "$(secs "$t0" "$t1")" \
    "$(rate "$raw" "$t0" "$t1")" "$wharf_rss" "$(secs "$t2" "$t3")" "$(rate "$raw" "$t2" "$t3")" \
    "$(ratio "$t2" "$t3" "$t0" "$t1")"
  t2=$(now)
  docker stop "$db" >/dev/null
  docker cp "$db:/data" - | zstd -3 -q -c >"$work/old.tar.zst"
  sync -f "$work/old.tar.zst"
  zstd -dc "$snapshot" | docker cp - "$db:/"
  docker start "$db" >/dev/null
  t3=$(now)
  printf '| %s GiB volume restore, pipeline with its own safety copy | – | – | – | %s | %s | %s |\n' "$size" \
    "$(secs "$t2" "$t3")" "$(rate "$raw" "$t2" "$t3")" "$(ratio "$t2" "$t3" "$t0" "$t1")"
done

# 2. PostgreSQL.
docker run -d --name "$pg" wharf-test/postgres:15 >/dev/null
for _ in $(seq 120); do docker exec "$pg" pg_isready -q -h /var/run/postgresql && break; sleep 0.5; done
psql() { docker exec "$pg" psql -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
psql -c "CREATE DATABASE app" >/dev/null
psql -d app -c "CREATE TABLE notes (id int PRIMARY KEY, body text);
  INSERT INTO notes SELECT i, md5(i::text) || repeat(md5((i * 7)::text), 4) FROM generate_series(1, $rows) AS i;" >/dev/null
mkdir -p "$work/config/wharf"
printf '[profiles.pg]\nbucket = "bench"\nprefix = "pg"\n[profiles.pg.database]\ncontainer = "%s"\npreset = "postgres"\nuser = "postgres"\nname = "app"\n' "$pg" \
  >"$work/config/wharf/wharf.toml"
w backup --full --json >"$work/pg.json"
pid=$(python3 -c "import json; print(json.load(open('$work/pg.json'))['id'])")
praw=$(python3 -c "import json; print(json.load(open('$work/pg.json'))['raw_bytes'])")
size_db=$(psql -d app -c "SELECT pg_size_pretty(pg_database_size('app'))")
w restore "$pid" --yes >/dev/null 2>&1
dump=$XDG_CACHE_HOME/wharf/snapshots/$pid/data.dump.zst
for round in $(seq "$rounds"); do
  t0=$(now)
  /usr/bin/time -f %M -o "$work/rss" "$wharf" restore "$pid" --yes >/dev/null 2>"$work/restore.err"
  t1=$(now)
  wharf_rss=$(mib "$work/rss")
  t2=$(now)
  zstd -dc "$dump" | docker exec -i "$pg" pg_restore --clean --if-exists --no-owner -U postgres -d app
  t3=$(now)
  printf '| PostgreSQL dump restore (%s database, %s MB dump) | %s | %s | %s MiB | %s | %s | %s |\n' "$size_db" \
    "$(( praw / 1000000 ))" "$(secs "$t0" "$t1")" "$(rate "$praw" "$t0" "$t1")" "$wharf_rss" \
    "$(secs "$t2" "$t3")" "$(rate "$praw" "$t2" "$t3")" "$(ratio "$t2" "$t3" "$t0" "$t1")"
done
