#!/usr/bin/env bash
# The second backup: what a backup after a small change moves and costs, in
# wharf's two formats and restic on the same bytes, in one run.
#
#   data:    SIZE MiB (default 256) of incompressible files (1 MiB each) on a
#            named volume of a running busybox container
#   change:  164 KiB overwritten in the middle of one file
#   wharf:   wharf backup (format 2: content-defined chunks, the new ones sent)
#            and wharf backup --full (format 1: the whole stream, compressed, every time)
#   restic:  docker cp C:/data - | restic backup --stdin (content-defined
#            chunks, deduplicated), its S3 back end on the same server
#
# Twice: at loopback speed, and through the realism layer as a home line
# (20 Mbit/s up, 100 Mbit/s down). Bytes up are the layer's count of request
# bodies. moto (from .venv, as the tests use it) is the S3 server.
#
# Needs a release build (cargo build --release) and the test set-up's .venv
# (bash scripts/test.sh makes it). Installs restic if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
size=${SIZE:-256}
wharf=$PWD/target/release/wharf
[ -x "$wharf" ] || { echo "build wharf first: cargo build --release" >&2; exit 1; }
[ -x .venv/bin/moto_server ] || { echo "run bash scripts/test.sh once first (it makes .venv)" >&2; exit 1; }
command -v restic >/dev/null || { apt-get update -qq && apt-get install -y -qq restic >/dev/null; }
bash scripts/test-images.sh >/dev/null

. scripts/bench-aws.sh
bench_volume second
moto=$MOTO_URL
export RESTIC_PASSWORD=bench RESTIC_CACHE_DIR=$work/restic-cache

now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.1f}')"; }
up() { curl -s "$1/realism/stats" | python3 -c 'import json, sys; print(json.load(sys.stdin)["bytes"]["up"])'; }
mb() { python3 -c "print(f'{$1 / 1e6:.1f}')"; }

docker volume create "$volume" >/dev/null
docker run -d --init --name "$db" -v "$volume:/data" wharf-test/busybox:latest sleep 360000 >/dev/null
docker exec "$db" sh -c "for i in \$(seq $size); do head -c 1048576 /dev/urandom > /data/f\$i; done"
change() { docker exec "$db" sh -c "head -c 167936 /dev/urandom | dd of=/data/f$((size / 2)) bs=4096 seek=64 conv=notrunc 2>/dev/null"; }

printf '| line | tool | first backup s | first MB up | second backup s | second MB up | second / first (time) | second / first (bytes) |\n'
printf '| --- | --- | --- | --- | --- | --- | --- | --- |\n'
for line in loopback home; do
  case $line in
    loopback) start_layer "$moto" "$work/layer-$line.log" --latency-ms 1 ;;
    home) start_layer "$moto" "$work/layer-$line.log" --latency-ms 20 --up-mbit 20 --down-mbit 100 ;;
  esac
  layer=$LAYER_URL
  bucket=second-$line
  curl -s -X PUT "$moto/$bucket" >/dev/null

  # wharf, both formats, each into its own prefix (and its own home: one line each).
  for format in chunks full; do
    export XDG_CACHE_HOME=$work/$line-$format/cache XDG_STATE_HOME=$work/$line-$format/state XDG_CONFIG_HOME=$work/$line-$format/config
    flag=(); [ $format = full ] && flag=(--full)
    w() { "$wharf" --endpoint-url "$layer" backup --container "$db" --path /data --bucket "$bucket" --prefix "wharf-$format" "${flag[@]}" --json >/dev/null 2>>"$work/wharf.err"; }
    b0=$(up "$layer"); t0=$(now); w; t1=$(now); b1=$(up "$layer")
    change
    t2=$(now); w; t3=$(now); b2=$(up "$layer")
    printf '| %s | wharf (%s) | %s | %s | %s | %s | %s | %s |\n' "$line" "$([ $format = full ] && echo 'format 1, --full' || echo 'format 2, chunks')" \
      "$(secs "$t0" "$t1")" "$(mb $((b1 - b0)))" \
      "$(secs "$t2" "$t3")" "$(mb $((b2 - b1)))" "$(python3 -c "print(f'{($t3 - $t2) / ($t1 - $t0):.2f}')")" \
      "$(python3 -c "print(f'{($b2 - $b1) / ($b1 - $b0):.3f}')")"
  done

  # restic, from the same archive stream.
  export RESTIC_REPOSITORY=s3:$layer/$bucket/restic
  restic init -q >/dev/null
  r() { docker cp "$db:/data" - | restic backup -q --stdin --stdin-filename data.tar >/dev/null; }
  b0=$(up "$layer"); t0=$(now); r; t1=$(now); b1=$(up "$layer")
  change
  t2=$(now); r; t3=$(now); b2=$(up "$layer")
  printf '| %s | restic %s | %s | %s | %s | %s | %s | %s |\n' "$line" "$(restic version | cut -d' ' -f2)" \
    "$(secs "$t0" "$t1")" "$(mb $((b1 - b0)))" "$(secs "$t2" "$t3")" "$(mb $((b2 - b1)))" \
    "$(python3 -c "print(f'{($t3 - $t2) / ($t1 - $t0):.2f}')")" "$(python3 -c "print(f'{($b2 - $b1) / ($b1 - $b0):.3f}')")"
done
