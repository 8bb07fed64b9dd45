#!/usr/bin/env bash
# Builds the images the tests use, without pulling anything: a busybox-static
# root file system imported into the local engine. Idempotent.
set -euo pipefail

image=${WHARF_TEST_IMAGE:-wharf-test/busybox:latest}
if docker image inspect "$image" >/dev/null 2>&1; then
  exit 0
fi
# Debian's busybox-static puts a statically linked busybox here.
busybox=/bin/busybox
if [ ! -x "$busybox" ]; then
  echo "test-images: busybox-static is missing (apt-get install busybox-static)" >&2
  exit 1
fi
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
. "$(dirname "$0")/rootfs.sh"
busybox_root "$root"
mkdir -p "$root/data"
echo 'root:x:0:0:root:/root:/bin/sh' > "$root/etc/passwd"
tar -C "$root" -c . | docker import -c 'CMD ["/bin/sh"]' - "$image" >/dev/null
echo "test-images: built $image"
