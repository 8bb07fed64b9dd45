#!/usr/bin/env bash
# Snapshots and ECR images at scale, through the realism layer
# (scripts/aws-realism.py: LATENCY_MS a call, default 40; ECR's page sizes),
# side by side in one run with the AWS CLI doing what it can of the same. S3
# is s3s-fs (a fast S3 server; moto answers only about 300 GETs a second,
# which would be what is measured) behind one layer; ECR is moto behind another:
#
#   * SNAPSHOTS snapshots (default 1000; a data object and a manifest each):
#     `wharf snapshots --json` with an empty cache (every manifest read once)
#     and again (manifests from the cache), beside `aws s3 ls --recursive` of
#     the same prefix (the keys only: the CLI reads no manifests);
#   * a repository of IMAGES images (default 5000): `wharf tags REPO --json`,
#     and the dashboard's Registry pane opened at it in tmux until its first
#     screen of tags is drawn, beside `aws ecr describe-images` (every page).
#
# Needs a release build (cargo build --release) and scripts/test.sh's .venv;
# installs the AWS CLI v1 into target/bench-venv when missing, tmux, and
# s3s-fs (cargo install s3s-fs@0.14.1 --features binary).
set -euo pipefail
cd "$(dirname "$0")/.."
snapshots=${SNAPSHOTS:-1000}
images=${IMAGES:-5000}
rounds=${ROUNDS:-2}
latency=${LATENCY_MS:-40}
command -v s3s-fs >/dev/null || cargo install -q s3s-fs@0.14.1 --features binary --locked
. scripts/bench-aws.sh
bench_start wharf-bench-lists
s3port=$(free_port)
mkdir -p "$work/s3"
s3s-fs --host 127.0.0.1 --port "$s3port" --access-key testing --secret-key testing "$work/s3" >"$work/s3s.log" 2>&1 &
BENCH_PIDS="$BENCH_PIDS $!"
start_layer "$upstream" "$work/realism.log" --latency-ms "$latency"
endpoint=$LAYER_URL
start_layer "http://127.0.0.1:$s3port" "$work/realism-s3.log" --latency-ms "$latency"
s3endpoint=$LAYER_URL
echo "realism layers: $(sed -n 2p "$work/realism.log")"
echo "$snapshots snapshots; $images images in one repository"

.venv/bin/python - "$upstream" "$snapshots" "$images" "http://127.0.0.1:$s3port" <<'PY'
import hashlib, json, sys, boto3
url, snapshots, images, s3url = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
s3 = boto3.client("s3", endpoint_url=s3url)
s3.create_bucket(Bucket="bench")
for i in range(snapshots):
    sid = f"2026{i // 100000:04d}T{i % 100000:06d}Z-db"
    key = f"p/{sid}/data.tar.zst"
    s3.put_object(Bucket="bench", Key=key, Body=b"x" * 10)
    manifest = {"format": 1, "id": sid, "created": "2026-11-30T00:00:00Z",
                "source": {"kind": "container", "name": "db", "image": "db:1", "image_id": "sha256:00"},
                "preset": "path", "content": "tar", "compression": "zstd", "key": key, "raw_bytes": 10,
                "stored_bytes": 10, "sha256": "00", "storage_class": "STANDARD", "wharf_version": "0"}
    s3.put_object(Bucket="bench", Key=f"p/{sid}/manifest.json", Body=json.dumps(manifest).encode())
ecr = boto3.client("ecr", endpoint_url=url)
ecr.create_repository(repositoryName="many")
for i in range(images):
    digest = lambda s: "sha256:" + hashlib.sha256(s.encode()).hexdigest()
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1, "digest": digest(f"c{i}")},
                "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 1, "digest": digest(f"l{i}")}]}
    ecr.put_image(repositoryName="many", imageTag=f"v{i:05d}", imageManifest=json.dumps(manifest),
                  imageManifestMediaType="application/vnd.docker.distribution.manifest.v2+json")
PY

now() { date +%s.%N; }
export XDG_CONFIG_HOME=$work/config XDG_STATE_HOME=$work/state
count() { python3 -c 'import json, sys; print(len(json.load(sys.stdin)))'; }
printf '\n| round | wharf snapshots, empty cache (s) | wharf snapshots, cached (s) | snapshots | aws s3 ls --recursive (s) | keys | ratio (cached / aws) |\n| --- | --- | --- | --- | --- | --- | --- |\n'
for round in $(seq "$rounds"); do
  export XDG_CACHE_HOME=$work/cache-$round
  t0=$(now); n=$("$wharf" --endpoint-url "$s3endpoint" snapshots --bucket bench --prefix p --json | count); t1=$(now)
  t2=$(now); "$wharf" --endpoint-url "$s3endpoint" snapshots --bucket bench --prefix p --json >/dev/null; t3=$(now)
  t4=$(now); keys=$(target/bench-venv/bin/aws --endpoint-url "$s3endpoint" s3 ls s3://bench/p/ --recursive | wc -l); t5=$(now)
  python3 -c "print(f'| $round | {$t1 - $t0:.2f} | {$t3 - $t2:.2f} | $n | {$t5 - $t4:.2f} | $keys | {($t3 - $t2) / ($t5 - $t4):.3f} |')"
done

home=$work/home
mkdir -p "$home"
cat >"$home/wharf.toml" <<TOML
default_profile = "bench"
[profiles.bench]
endpoint_url = "$endpoint"
region = "eu-west-1"
repository = "many"
TOML
first_screen_wharf() {
  python3 - "$wharf" "$home" "$images" <<'PY'
import subprocess, sys, time
wharf, home, images = sys.argv[1], sys.argv[2], sys.argv[3]
session = "wharf-bench-lists"
start = time.monotonic()
subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "40", "-c", home,
                f"env XDG_CONFIG_HOME={home}/config XDG_STATE_HOME={home}/state XDG_CACHE_HOME={home}/cache {wharf}"], check=True)
shown = None
while time.monotonic() - start < 60:
    screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout
    if f"({images} images)" in screen:
        shown = time.monotonic() - start
        break
    time.sleep(0.02)
subprocess.run(["tmux", "kill-session", "-t", session])
print("nan" if shown is None else f"{shown:.2f}")
PY
}
printf '\n| round | wharf tags --json (s) | images | dashboard: first screen of tags (s) | aws ecr describe-images (s) | images | ratio (whole lists) |\n| --- | --- | --- | --- | --- | --- | --- |\n'
for round in $(seq "$rounds"); do
  t0=$(now); n=$("$wharf" --endpoint-url "$endpoint" tags many --json | count); t1=$(now)
  first=$(first_screen_wharf)
  t2=$(now); m=$(target/bench-venv/bin/aws --endpoint-url "$endpoint" ecr describe-images --repository-name many --query 'imageDetails[].imageDigest' --output text | wc -w); t3=$(now)
  python3 -c "print(f'| $round | {$t1 - $t0:.2f} | $n | $first | {$t3 - $t2:.2f} | $m | {($t1 - $t0) / ($t3 - $t2):.3f} |')"
done
