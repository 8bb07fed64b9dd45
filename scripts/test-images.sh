#!/usr/bin/env bash
# Builds the images the tests use, without pulling anything, from Debian's
# busybox-static imported into the local engine. Idempotent.
#
#   wharf-test/busybox:latest  every busybox applet (a full set of tools)
#   wharf-test/minimal:latest  sh, sleep, cat, ls, rm and tar only: no mv, no
#                              cp, no find (what minimal images carry; busybox's
#                              sh still knows its applets, a command run
#                              directly finds nothing else)
set -euo pipefail

full=${WHARF_TEST_IMAGE:-wharf-test/busybox:latest}
minimal=${WHARF_TEST_MINIMAL_IMAGE:-wharf-test/minimal:latest}
# Debian's busybox-static puts a statically linked busybox here.
busybox=/bin/busybox
if [ ! -x "$busybox" ]; then
  echo "test-images: busybox-static is missing (apt-get install busybox-static)" >&2
  exit 1
fi
. "$(dirname "$0")/rootfs.sh"

if ! docker image inspect "$full" >/dev/null 2>&1; then
  root=$(mktemp -d)
  busybox_root "$root"
  mkdir -p "$root/data"
  echo 'root:x:0:0:root:/root:/bin/sh' > "$root/etc/passwd"
  tar -C "$root" -c . | docker import -c 'CMD ["/bin/sh"]' - "$full" >/dev/null
  rm -rf "$root"
  echo "test-images: built $full"
fi

if ! docker image inspect "$minimal" >/dev/null 2>&1; then
  root=$(mktemp -d)
  mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/data"
  chmod 1777 "$root/tmp"
  cp "$busybox" "$root/bin/busybox"
  for applet in sh sleep cat ls rm tar; do ln -s busybox "$root/bin/$applet"; done
  echo 'root:x:0:0:root:/root:/bin/sh' > "$root/etc/passwd"
  tar -C "$root" -c . | docker import -c 'CMD ["/bin/sh"]' - "$minimal" >/dev/null
  rm -rf "$root"
  echo "test-images: built $minimal"
fi
