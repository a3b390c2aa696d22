#!/bin/sh
# Container entrypoint: the first argument names the process (gateway, registry, compiler,
# hub); the rest are its flags. exec keeps the binary as PID 1 so it receives SIGTERM.
set -eu
role="${1:-gateway}"
[ "$#" -gt 0 ] && shift
case "$role" in
  gateway|registry|compiler|hub) ;;
  -*) set -- "$role" "$@"; role=gateway ;;   # "docker run IMAGE --help"
  *) echo "usage: <gateway|registry|compiler|hub> [flags...]" >&2; exit 64 ;;
esac
bin="/usr/local/bin/barbacane-$role"
if [ ! -x "$bin" ]; then
  echo "barbacane: $bin is not in this image" >&2
  exit 127
fi
exec "$bin" "$@"
