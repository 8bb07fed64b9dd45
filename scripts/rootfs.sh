# Helpers for the scripts that build test images from this machine's own
# files (nothing is pulled). Source it; it defines functions only.

# busybox_root DIR: a minimal root file system in DIR — busybox and its
# applets in /bin, a world-writable /tmp, /etc.
busybox_root() {
  local root=$1
  mkdir -p "$root/bin" "$root/tmp" "$root/etc"
  chmod 1777 "$root/tmp"
  cp /bin/busybox "$root/bin/busybox"
  local applet
  for applet in $("$root/bin/busybox" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
  done
}

# copy_libraries DIR FILE...: every shared library the FILEs link, copied into
# DIR at its own path.
copy_libraries() {
  local root=$1
  shift
  { ldd "$@" 2>/dev/null || true; } \
    | awk '/=> \// { print $3 } /^\t\/lib/ { print $1 }' | sort -u \
    | while read -r lib; do
        mkdir -p "$root$(dirname "$lib")"
        cp -L "$lib" "$root$lib"
      done
}
