#!/usr/bin/env bash
# Builds wharf-test/aws-cli:2 without pulling anything: Debian's AWS CLI v2
# (the `awscli` package), the Python it runs on with only the packages it
# depends on, the libraries they link, and busybox for `sh`, in a root file
# system imported into the local engine. It stands in for the AWS CLI's own
# image as the upload container of a remote backup task (whose command is
# `sh -c '… aws s3 cp …'`). Idempotent. Needs awscli and busybox-static
# installed on this machine (scripts/test.sh installs them).
set -euo pipefail

image=wharf-test/aws-cli:2
# Built again when this script's image changes.
version=1
if [ "$(docker image inspect -f '{{index .Config.Labels "wharf.test.version"}}' "$image" 2>/dev/null)" = "$version" ]; then
  exit 0
fi
if [ ! -x /usr/bin/aws ] || [ ! -x /bin/busybox ]; then
  echo "test-image-awscli: awscli and busybox-static are needed (apt-get install awscli busybox-static)" >&2
  exit 1
fi
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT

. "$(dirname "$0")/rootfs.sh"
busybox_root "$root"

python=$(readlink -f /usr/bin/python3)
stdlib=$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')
mkdir -p "$root/usr/bin" "$root$(dirname "$stdlib")"
cp "$python" "$root$python"
ln -sf "$(basename "$python")" "$root/usr/bin/python3"
cp /usr/bin/aws "$root/usr/bin/aws"
# The standard library, without its own tests.
tar -C / --exclude="${stdlib#/}/test" --exclude='__pycache__' -c "${stdlib#/}" | tar -C "$root" -x

# The Python packages the CLI depends on (its dependency closure), file by file.
packages=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
  --no-replaces --no-enhances awscli 2>/dev/null | grep -E '^(awscli|python3-)' | sort -u)
for package in $packages; do
  dpkg -L "$package" 2>/dev/null | grep '^/usr/lib/python3/dist-packages/' || true
done | while read -r path; do
  if [ -f "$path" ] && [[ "$path" != *__pycache__* ]]; then
    mkdir -p "$root$(dirname "$path")"
    cp -P "$path" "$root$path"
  fi
done

# OpenSSL's configuration (the CLI's TLS library reads it at start, even for plain HTTP).
mkdir -p "$root/etc/ssl" "$root/usr/lib/ssl"
cp /etc/ssl/openssl.cnf "$root/etc/ssl/openssl.cnf"
ln -sf /etc/ssl/openssl.cnf "$root/usr/lib/ssl/openssl.cnf"
modules=$(openssl version -m 2>/dev/null | sed -n 's/^MODULESDIR: "\(.*\)"$/\1/p')
[ -n "$modules" ] || modules=/usr/lib/$(uname -m)-linux-gnu/ossl-modules
[ -z "$modules" ] || [ ! -d "$modules" ] || { mkdir -p "$root$modules"; cp "$modules"/*.so "$root$modules/"; }
[ ! -f /etc/ssl/certs/ca-certificates.crt ] || { mkdir -p "$root/etc/ssl/certs"; cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"; }

copy_libraries "$root" "$python" $(find "$root/usr/lib" -name '*.so' -o -name '*.so.*')

echo 'root:x:0:0:root:/root:/bin/sh' > "$root/etc/passwd"
echo 'root:x:0:' > "$root/etc/group"
mkdir -p "$root/root"

tar -C "$root" --numeric-owner -c . \
  | docker import -c 'ENV PATH=/usr/bin:/bin' -c 'ENTRYPOINT ["/usr/bin/aws"]' \
      -c "LABEL wharf.test.version=$version" - "$image" >/dev/null
echo "test-image-awscli: built $image"
