#!/usr/bin/env bash
# Builds wharf-test/mariadb:10 without pulling anything: Debian's MariaDB server
# and client binaries, the libraries they link, their share files and busybox,
# in a root file system imported into the local engine. The container
# initialises its data directory on first start (root with no password unless
# MARIADB_ROOT_PASSWORD says one; with one, root may also connect over the
# network with it, as the official image's root@'%'). It listens on its socket
# and on port 3306 of every address. Idempotent. Needs mariadb-server-core,
# mariadb-client and busybox-static on this machine (scripts/test.sh installs them).
set -euo pipefail

image=wharf-test/mariadb:10
# Built again when this script's image changes (an older build lacks what tests rely on).
version=3
if [ "$(docker image inspect -f '{{index .Config.Labels "wharf.test.version"}}' "$image" 2>/dev/null)" = "$version" ]; then
  exit 0
fi
if [ ! -x /usr/sbin/mariadbd ] || [ ! -x /usr/bin/mariadb-dump ] || [ ! -x /bin/busybox ]; then
  echo "test-image-mariadb: mariadb-server-core, mariadb-client and busybox-static are needed" >&2
  exit 1
fi
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT

. "$(dirname "$0")/rootfs.sh"
busybox_root "$root"
mkdir -p "$root/etc/mysql" "$root/run/mysqld" "$root/var/lib/mysql" "$root/usr/share" "$root/usr/bin" "$root/usr/sbin"
cp /usr/sbin/mariadbd "$root/usr/sbin/"
for tool in mariadb-install-db my_print_defaults resolveip mariadb mysql mariadb-dump mysqldump; do
  cp -P /usr/bin/$tool "$root/usr/bin/" 2>/dev/null || true
done
cp -r /usr/share/mysql "$root/usr/share/mysql"
if [ -d /usr/share/mariadb ]; then cp -r /usr/share/mariadb "$root/usr/share/mariadb"; fi
copy_libraries "$root" "$root"/usr/sbin/mariadbd "$root"/usr/bin/*

cat > "$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
mysql:x:999:999:MariaDB:/var/lib/mysql:/bin/sh
PASSWD
echo 'mysql:x:999:' > "$root/etc/group"
printf '[client-server]\nsocket = /run/mysqld/mysqld.sock\n' > "$root/etc/mysql/my.cnf"
chown -R 999:999 "$root/run/mysqld" "$root/var/lib/mysql"

# As the official image: MARIADB_ROOT_PASSWORD (or MYSQL_ROOT_PASSWORD) and
# MARIADB_DATABASE (or MYSQL_DATABASE) take effect on the first start.
cat > "$root/start" <<'START'
#!/bin/sh
set -e
if [ ! -d /var/lib/mysql/mysql ]; then
  mariadb-install-db --user=mysql --datadir=/var/lib/mysql \
    --auth-root-authentication-method=normal --skip-test-db >/tmp/install-db.log 2>&1
  password="${MARIADB_ROOT_PASSWORD:-$MYSQL_ROOT_PASSWORD}"
  database="${MARIADB_DATABASE:-$MYSQL_DATABASE}"
  if [ -n "$password" ] || [ -n "$database" ]; then
    mariadbd --user=mysql --datadir=/var/lib/mysql --skip-networking --socket=/tmp/init.sock &
    pid=$!
    for i in $(seq 1 150); do
      mariadb -uroot --socket=/tmp/init.sock -e 'SELECT 1' >/dev/null 2>&1 && break
      sleep 0.2
    done
    if [ -n "$database" ]; then
      mariadb -uroot --socket=/tmp/init.sock -e "CREATE DATABASE IF NOT EXISTS \`$database\`"
    fi
    if [ -n "$password" ]; then
      mariadb -uroot --socket=/tmp/init.sock -e "ALTER USER 'root'@'localhost' IDENTIFIED BY '$password';
        CREATE USER 'root'@'%' IDENTIFIED BY '$password'; GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION"
    fi
    kill "$pid"
    wait "$pid" || true
  fi
fi
exec mariadbd --user=mysql --datadir=/var/lib/mysql --bind-address=0.0.0.0 --port=3306 \
  --socket=/run/mysqld/mysqld.sock
START
chmod 755 "$root/start"

tar -C "$root" --numeric-owner -c . \
  | docker import -c 'USER mysql' -c 'ENV PATH=/usr/bin:/usr/sbin:/bin' -c 'CMD ["/start"]' \
      -c "LABEL wharf.test.version=$version" - "$image" >/dev/null
echo "test-image-mariadb: built $image"
