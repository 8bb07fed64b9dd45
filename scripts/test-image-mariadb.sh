#!/usr/bin/env bash
# Builds wharf-test/mariadb:10 without pulling anything: Debian's MariaDB server
# and client binaries, the libraries they link, their share files and busybox,
# in a root file system imported into the local engine. The container
# initialises its data directory on first start (root with no password, no
# network: the socket only). Idempotent. Needs mariadb-server-core,
# mariadb-client and busybox-static on this machine (scripts/test.sh installs them).
set -euo pipefail

image=wharf-test/mariadb:10
if docker image inspect "$image" >/dev/null 2>&1; then
  exit 0
fi
if [ ! -x /usr/sbin/mariadbd ] || [ ! -x /usr/bin/mariadb-dump ] || [ ! -x /bin/busybox ]; then
  echo "test-image-mariadb: mariadb-server-core, mariadb-client and busybox-static are needed" >&2
  exit 1
fi
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT

mkdir -p "$root/bin" "$root/tmp" "$root/etc/mysql" "$root/run/mysqld" "$root/var/lib/mysql" "$root/usr/share" "$root/usr/bin" "$root/usr/sbin"
chmod 1777 "$root/tmp"
cp /bin/busybox "$root/bin/busybox"
for applet in $("$root/bin/busybox" --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
done
cp /usr/sbin/mariadbd "$root/usr/sbin/"
for tool in mariadb-install-db my_print_defaults resolveip mariadb mysql mariadb-dump mysqldump; do
  cp -P /usr/bin/$tool "$root/usr/bin/" 2>/dev/null || true
done
cp -r /usr/share/mysql "$root/usr/share/mysql"
[ -d /usr/share/mariadb ] && cp -r /usr/share/mariadb "$root/usr/share/mariadb"
{ ldd "$root"/usr/sbin/mariadbd "$root"/usr/bin/* 2>/dev/null || true; } \
  | awk '/=> \// { print $3 } /^\t\/lib/ { print $1 }' | sort -u \
  | while read -r lib; do
      mkdir -p "$root$(dirname "$lib")"
      cp -L "$lib" "$root$lib"
    done

cat > "$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
mysql:x:999:999:MariaDB:/var/lib/mysql:/bin/sh
PASSWD
echo 'mysql:x:999:' > "$root/etc/group"
printf '[client-server]\nsocket = /run/mysqld/mysqld.sock\n' > "$root/etc/mysql/my.cnf"
chown -R 999:999 "$root/run/mysqld" "$root/var/lib/mysql"

cat > "$root/start" <<'START'
#!/bin/sh
set -e
[ -d /var/lib/mysql/mysql ] || mariadb-install-db --user=mysql --datadir=/var/lib/mysql \
  --auth-root-authentication-method=normal --skip-test-db >/tmp/install-db.log 2>&1
exec mariadbd --user=mysql --datadir=/var/lib/mysql --skip-networking --socket=/run/mysqld/mysqld.sock
START
chmod 755 "$root/start"

tar -C "$root" --numeric-owner -c . \
  | docker import -c 'USER mysql' -c 'ENV PATH=/usr/bin:/usr/sbin:/bin' -c 'CMD ["/start"]' - "$image" >/dev/null
echo "test-image-mariadb: built $image"
