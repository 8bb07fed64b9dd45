#!/usr/bin/env bash
# The restore's safety copy: what a restore onto data that changed a little
# since the snapshot writes to this machine's disk, and how long it takes,
# with the safety copy in the chunk store (this build) beside a whole
# compressed file (format 1: what wharf wrote before; OLD_WHARF names such a
# build) in one run.
#
#   data:    SIZE MiB (default 256) of incompressible 1 MiB files on a named
#            volume of a running busybox container
#   before:  backed up once (format 2); both homes start from that home's
#            cache, so the snapshot's chunks are in their store
#   rounds:  ROUNDS times (default 3): 164 KiB of new bytes written into one
#            file (the same bytes for both builds), then `wharf restore
#            SNAPSHOT --yes` (stop, safety copy, replace, start)
#   written: what the cache grew by (the safety copy: the restore fetches
#            nothing), and the kernel's count of the bytes wharf's process
#            wrote (/proc/PID/io write_bytes, polled every 50 ms while it
#            runs: the last 50 ms may be missed; the engine's writes into the
#            volume are not wharf's and not counted)
#
# moto (from .venv, as the tests use it) is the S3 server, at loopback.
# Needs a release build of both (cargo build --release) and the test set-up's .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
size=${SIZE:-256}
rounds=${ROUNDS:-3}
new=${WHARF_BIN:-$PWD/target/release/wharf}
old=${OLD_WHARF:?set OLD_WHARF to a wharf built before safety copies went into the chunk store (861ca1b)}
for bin in "$new" "$old"; do [ -x "$bin" ] || { echo "no build at $bin" >&2; exit 1; }; done
[ -x .venv/bin/moto_server ] || { echo "run bash scripts/test.sh once first (it makes .venv)" >&2; exit 1; }
bash scripts/test-images.sh >/dev/null

. scripts/bench-aws.sh
bench_volume safety
bucket=safety
curl -s -X PUT "$MOTO_URL/$bucket" >/dev/null

now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.2f}')"; }
mb() { python3 -c "print(f'{$1 / 1e6:.1f}')"; }
home_env() { export XDG_CACHE_HOME=$work/$1/cache XDG_STATE_HOME=$work/$1/state XDG_CONFIG_HOME=$work/$1/config; }
w() { "$1" --endpoint-url "$MOTO_URL" "${@:2}" --container "$db" --path /data --bucket "$bucket" --prefix p; }

docker volume create "$volume" >/dev/null
docker run -d --init --stop-timeout 1 --name "$db" -v "$volume:/data" wharf-test/busybox:latest sleep 360000 >/dev/null
docker exec "$db" sh -c "for i in \$(seq $size); do head -c 1048576 /dev/urandom > /data/f\$i; done"
for r in $(seq "$rounds"); do head -c 167936 /dev/urandom >"$work/patch$r"; done
change() {
  docker cp "$work/patch$1" "$db:/patch" >/dev/null
  docker exec "$db" sh -c "dd if=/patch of=/data/f$((size / 2)) bs=4096 seek=$((64 * $1)) conv=notrunc 2>/dev/null; rm /patch"
}

home_env base
id=$(w "$new" backup --json 2>>"$work/wharf.err" | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
for build in new old; do cp -a "$work/base" "$work/$build"; done

printf '| round | build | restore s | cache grew MB | written by the restore MB |\n| --- | --- | --- | --- | --- |\n'
declare -A total_s total_w
for r in $(seq "$rounds"); do
  for build in old new; do
    bin=$new; label="safety copy in the chunk store"
    [ $build = old ] && { bin=$old; label="safety copy as one file (format 1)"; }
    home_env "$build"
    change "$r"
    before=$(du -sb "$work/$build/cache" | cut -f1)
    t0=$(now)
    # write_bytes of the wharf process, read once more just before it ends.
    # (exec: $! is wharf's own process.)
    (exec "$bin" --endpoint-url "$MOTO_URL" restore "$id" --yes --container "$db" --path /data \
      --bucket "$bucket" --prefix p >/dev/null 2>>"$work/wharf.err") &
    pid=$!
    written=0
    while kill -0 $pid 2>/dev/null; do
      got=$(awk '/^write_bytes/ {print $2}' "/proc/$pid/io" 2>/dev/null || true)
      [ -n "$got" ] && written=$got
      sleep 0.05
    done
    wait $pid
    t1=$(now)
    after=$(du -sb "$work/$build/cache" | cut -f1)
    printf '| %s | %s | %s | %s | %s |\n' "$r" "$label" "$(secs "$t0" "$t1")" "$(mb $((after - before)))" "$(mb "$written")"
    total_s[$build]=$(python3 -c "print(${total_s[$build]:-0} + $t1 - $t0)")
    total_w[$build]=$(( ${total_w[$build]:-0} + written ))
  done
done
printf '\nnew / old over %s rounds: time %s, bytes written %s\n' "$rounds" \
  "$(python3 -c "print(f'{${total_s[new]} / ${total_s[old]}:.2f}')")" \
  "$(python3 -c "print(f'{${total_w[new]} / max(${total_w[old]}, 1):.3f}')")"
