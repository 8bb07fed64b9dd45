#!/usr/bin/env bash
# Chunked snapshots against the full format and restic, side by side, on a
# real PostgreSQL 15 database made by pgbench, in one run.
#
#   data:    `pgbench -i -s SCALE` (default 50: about 750 MB), then changed by
#            `pgbench -t TXNS` (default 1000) between the first and the second backup
#   forms:   the dump (wharf: the postgres preset, `pg_dump -Fc`; restic: the
#            same `pg_dump -Fc -Z0` wharf's chunked backup reads) and the data
#            directory, the container stopped (wharf: the path preset; restic:
#            `docker cp` of the directory)
#   tools:   wharf (format 2, chunks), wharf --full (format 1), restic
#            (`--stdin`, its S3 back end on the same server)
#   restore: on an empty machine (an XDG home of its own), the second snapshot
#            once the first is there; restic: `restic dump` of each (it keeps
#            no data on the machine, so both download it all)
#
# Twice: at loopback speed, and through the realism layer as a home line
# (20 Mbit/s up, 100 Mbit/s down, 20 ms). Bytes are the layer's count of
# request (up) and answer (down) bodies; peak memory is the wharf process's
# maximum resident set (GNU time). moto (from .venv, as the tests use it) is
# the S3 server.
#
# Needs a release build (cargo build --release) and the test set-up (bash
# scripts/test.sh makes .venv and the images). Installs restic if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
scale=${SCALE:-50}
txns=${TXNS:-1000}
lines=${LINES_TO_RUN:-loopback home}
wharf=${WHARF_BIN:-$PWD/target/release/wharf}
[ -x "$wharf" ] || { echo "build wharf first: cargo build --release" >&2; exit 1; }
[ -x .venv/bin/moto_server ] || { echo "run bash scripts/test.sh once first (it makes .venv)" >&2; exit 1; }
command -v restic >/dev/null || { apt-get update -qq && apt-get install -y -qq restic >/dev/null; }
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
bash scripts/test-image-postgres.sh >/dev/null

work=$(mktemp -d -p "$PWD/target")
tag=wharf-bench-chunked-$$
cleanup() {
  # shellcheck disable=SC2086
  kill $BENCH_PIDS 2>/dev/null || true
  docker ps -aq --filter "name=$tag" | xargs -r docker rm -f >/dev/null 2>&1 || true
  docker volume ls -q --filter "name=$tag" | xargs -r docker volume rm -f >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

. scripts/bench-aws.sh
start_moto
moto=$MOTO_URL
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export RESTIC_PASSWORD=bench RESTIC_CACHE_DIR=$work/restic-cache

now() { date +%s.%N; }
calc() { python3 -c "print($1)"; }
stat_of() { curl -s "$1/realism/stats" | python3 -c "import json, sys; print(json.load(sys.stdin)['bytes']['$2'])"; }

# A PostgreSQL 15 container with its data on a named volume.
pg() {
  local name=$tag-$1
  docker volume create "$name" >/dev/null
  docker run -d --name "$name" -v "$name:/var/lib/postgresql/data" -e POSTGRES_DB=app wharf-test/postgres:15 >/dev/null
  for _ in $(seq 300); do docker exec "$name" pg_isready -q -U postgres -d app 2>/dev/null && break; sleep 0.2; done
  echo "$name"
}

# wharf's peak resident set (KiB), each run's appended to $work/rss by GNU time.
cat >"$work/wharf" <<WRAP
#!/bin/sh
exec /usr/bin/time -a -o "$work/rss" -f %M "$wharf" "\$@"
WRAP
chmod +x "$work/wharf"
timed_wharf=$work/wharf

# One measured run of a shell function: prints seconds, bytes up, bytes down and wharf's peak RSS (KiB).
measure() {
  local layer=$1
  shift
  local u0 d0 t0 t1
  : >"$work/rss"
  u0=$(stat_of "$layer" up); d0=$(stat_of "$layer" down); t0=$(now)
  "$@" >/dev/null 2>>"$work/err" || { echo "failed: $*" >&2; tail -40 "$work/err" >&2; exit 1; }
  t1=$(now)
  local rss
  rss=$(sort -n "$work/rss" | tail -1)
  echo "$(calc "round($t1 - $t0, 1)") $(( $(stat_of "$layer" up) - u0 )) $(( $(stat_of "$layer" down) - d0 )) ${rss:-0}"
}
mb() { calc "round($1 / 1e6, 1)"; }

printf '| line | data | tool | 1st backup s | 1st MB up | 2nd backup s | 2nd MB up | 2nd/1st time | 2nd/1st bytes | restore 1st s (MB down) | restore 2nd, 1st here, s (MB down) | peak RSS MiB |\n'
printf '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n'
for line in $lines; do
  case $line in
    loopback) start_layer "$moto" "$work/layer-$line.log" --latency-ms 1 ;;
    home) start_layer "$moto" "$work/layer-$line.log" --latency-ms 20 --up-mbit 20 --down-mbit 100 ;;
  esac
  layer=$LAYER_URL
  bucket=chunked-$line
  curl -s -X PUT "$moto/$bucket" >/dev/null

  for form in dump dir; do
    db=$(pg "$line-$form")
    docker exec "$db" pgbench -q -i -s "$scale" -U postgres app >/dev/null 2>&1
    case $form in
      dump) path_args=(); read_data() { docker exec "$db" pg_dump -Fc -Z0 -U postgres -d app; } ;;
      dir) path_args=(--path /var/lib/postgresql/data); read_data() { docker cp "$db:/var/lib/postgresql/data" -; } ;;
    esac
    # One home per tool: a container backed up into two lines would diverge.
    wharf_in() { # home, then wharf's arguments
      local home=$work/$line-$form-$1
      shift
      XDG_CACHE_HOME=$home/cache XDG_STATE_HOME=$home/state XDG_CONFIG_HOME=$home/config \
        "$timed_wharf" --endpoint-url "$layer" "$@" --bucket "$bucket" --prefix "$form-$tool"
    }
    backup() {
      case $tool in
        chunked) wharf_in "laptop-$tool" backup --container "$db" --preset "$( [ $form = dump ] && echo postgres || echo path )" "${path_args[@]}" --json ;;
        full) wharf_in "laptop-$tool" backup --container "$db" --preset "$( [ $form = dump ] && echo postgres || echo path )" "${path_args[@]}" --full --json ;;
        restic) read_data | restic -r "s3:$layer/$bucket/$form-restic" backup -q --stdin --stdin-filename data ;;
      esac
    }
    declare -A first=() second=()
    for round in 1 2; do
      [ $form = dir ] && docker stop "$db" >/dev/null
      for tool in chunked full restic; do
        [ $tool = restic ] && [ $round = 1 ] && restic -r "s3:$layer/$bucket/$form-restic" init -q >/dev/null
        if [ $round = 1 ]; then first[$tool]=$(measure "$layer" backup); else second[$tool]=$(measure "$layer" backup); fi
      done
      [ $form = dir ] && docker start "$db" >/dev/null && for _ in $(seq 300); do docker exec "$db" pg_isready -q -U postgres -d app 2>/dev/null && break; sleep 0.2; done
      [ $round = 1 ] && docker exec "$db" pgbench -t "$txns" -U postgres app >/dev/null 2>&1
    done
    # Restores on an empty machine: the first snapshot, then the second where the first is.
    target=$(pg "$line-$form-target")
    [ $form = dir ] && docker stop "$target" >/dev/null
    for tool in chunked full restic; do
      case $tool in
        restic)
          snaps=($(restic -r "s3:$layer/$bucket/$form-restic" snapshots --json | python3 -c 'import json, sys; print(" ".join(s["short_id"] for s in json.load(sys.stdin)))'))
          r1=$(measure "$layer" restic -r "s3:$layer/$bucket/$form-restic" dump "${snaps[0]}" data)
          r2=$(measure "$layer" restic -r "s3:$layer/$bucket/$form-restic" dump "${snaps[1]}" data) ;;
        *)
          listed=($(XDG_CACHE_HOME=$work/x XDG_STATE_HOME=$work/x XDG_CONFIG_HOME=$work/x "$wharf" --endpoint-url "$layer" snapshots --json --bucket "$bucket" --prefix "$form-$tool" | python3 -c 'import json, sys; print(" ".join(s["id"] for s in reversed(json.load(sys.stdin))))'))
          home=$work/$line-$form-$tool-empty
          r() { XDG_CACHE_HOME=$home/cache XDG_STATE_HOME=$home/state XDG_CONFIG_HOME=$home/config "$timed_wharf" --endpoint-url "$layer" restore "$1" --container "$target" --bucket "$bucket" --prefix "$form-$tool" --yes; }
          r1=$(measure "$layer" r "${listed[0]}")
          r2=$(measure "$layer" r "${listed[1]}") ;;
      esac
      read -r s1 u1 _ m1 <<<"${first[$tool]}"
      read -r s2 u2 _ m2 <<<"${second[$tool]}"
      read -r rs1 _ rd1 rm1 <<<"$r1"
      read -r rs2 _ rd2 rm2 <<<"$r2"
      name=$tool
      [ $tool = chunked ] && name="wharf (chunks)"
      [ $tool = full ] && name="wharf --full"
      [ $tool = restic ] && name="restic $(restic version | cut -d' ' -f2)"
      peak=$(calc "round(max($m1, $m2, $rm1, $rm2) / 1024)")
      [ $tool = restic ] && peak="–"
      printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s (%s) | %s (%s) | %s |\n' "$line" "$form" "$name" \
        "$s1" "$(mb "$u1")" "$s2" "$(mb "$u2")" "$(calc "round($s2 / max($s1, 0.1), 2)")" "$(calc "round($u2 / max($u1, 1), 3)")" \
        "$rs1" "$(mb "$rd1")" "$rs2" "$(mb "$rd2")" "$peak"
    done
  done
done
