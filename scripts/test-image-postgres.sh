#!/usr/bin/env bash
# Builds wharf-test/postgres:15 without pulling anything: Debian's PostgreSQL 15
# server and client binaries, the libraries they link, their share files and
# busybox, in a root file system imported into the local engine. The container
# initialises its cluster on first start as the official image does: user
# `postgres` unless POSTGRES_USER says another, POSTGRES_DB made, and with
# POSTGRES_PASSWORD that password for connections over the network
# (scram-sha-256; trust on the socket), else trust everywhere. It listens on
# /var/run/postgresql and every address. Idempotent. Needs postgresql-15 and
# busybox-static installed on this machine (scripts/test.sh installs them).
set -euo pipefail

image=wharf-test/postgres:15
# Built again when this script's image changes (an older build lacks what tests rely on).
version=4
if [ "$(docker image inspect -f '{{index .Config.Labels "wharf.test.version"}}' "$image" 2>/dev/null)" = "$version" ]; then
  exit 0
fi
pg=/usr/lib/postgresql/15
if [ ! -x "$pg/bin/postgres" ] || [ ! -x /bin/busybox ]; then
  echo "test-image-postgres: postgresql-15 and busybox-static are needed (apt-get install postgresql-15 busybox-static)" >&2
  exit 1
fi
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT

. "$(dirname "$0")/rootfs.sh"
busybox_root "$root"
# The data directory is in the image, the server's own: a named volume mounted there takes its owner.
mkdir -p "$root/var/run/postgresql" "$root/var/lib/postgresql/data" "$root/usr/share"
chmod 700 "$root/var/lib/postgresql/data"

mkdir -p "$root$pg/bin"
for tool in postgres initdb pg_ctl pg_isready pg_dump pg_dumpall pg_restore psql pgbench; do
  cp "$pg/bin/$tool" "$root$pg/bin/"
done
cp -r "$pg/lib" "$root$pg/lib"
cp -r /usr/share/postgresql "$root/usr/share/postgresql"
cp -r /usr/share/zoneinfo "$root/usr/share/zoneinfo"
# Every shared library the binaries and the server's modules link.
copy_libraries "$root" "$root$pg"/bin/* "$root$pg"/lib/*.so

cat > "$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
postgres:x:999:999:PostgreSQL:/var/lib/postgresql:/bin/sh
PASSWD
echo 'postgres:x:999:' > "$root/etc/group"
chown -R 999:999 "$root/var/run/postgresql" "$root/var/lib/postgresql"

cat > "$root/start" <<START
#!/bin/sh
set -e
export PATH=$pg/bin:/bin
data=/var/lib/postgresql/data
# As the official image: POSTGRES_USER names the superuser, POSTGRES_DB the database made at first start.
user="\${POSTGRES_USER:-postgres}"
if [ ! -s "\$data/PG_VERSION" ]; then
  if [ -n "\${POSTGRES_PASSWORD:-}" ]; then
    printf '%s\\n' "\$POSTGRES_PASSWORD" > /tmp/pwfile
    initdb -D "\$data" -U "\$user" --auth-local=trust --auth-host=scram-sha-256 --pwfile=/tmp/pwfile \\
      --no-locale -E UTF8 --no-sync >/tmp/initdb.log
    rm -f /tmp/pwfile
    echo 'host all all all scram-sha-256' >> "\$data/pg_hba.conf"
  else
    initdb -D "\$data" -U "\$user" -A trust --no-locale -E UTF8 --no-sync >/tmp/initdb.log
    echo 'host all all all trust' >> "\$data/pg_hba.conf"
  fi
  db="\${POSTGRES_DB:-\$user}"
  if [ "\$db" != postgres ]; then
    echo "CREATE DATABASE \\"\$db\\";" | postgres --single -D "\$data" postgres >/tmp/createdb.log
  fi
fi
exec postgres -D "\$data" -c listen_addresses='*' -k /var/run/postgresql
START
chmod 755 "$root/start"

tar -C "$root" --numeric-owner -c . \
  | docker import -c 'USER postgres' -c "ENV PATH=$pg/bin:/bin" -c 'CMD ["/start"]' \
      -c "LABEL wharf.test.version=$version" - "$image" >/dev/null
echo "test-image-postgres: built $image"
