#!/bin/sh
# Installs the Debian packages the build, `make run` and the tests need; quick and silent when
# everything is already there. Idempotent.
set -eu
PKGS="build-essential pkg-config libzmq3-dev libczmq-dev libpq-dev libmsgpack-dev
libmicrohttpd-dev libwebsockets-dev libyaml-dev libssl-dev libjansson-dev libarchive-dev
libpcre2-dev libcmocka-dev uuid-dev zlib1g-dev postgresql wrk curl openssl python3
python3-pytest python3-requests python3-websockets python3-yaml python3-cryptography clang jq"

missing=""
for p in $PKGS; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$st" in *"install ok installed"*) ;; *) missing="$missing $p" ;; esac
done
[ -z "$missing" ] && exit 0

echo "install-deps: installing:$missing"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
        echo "install-deps: not root and no sudo; install these packages:$missing" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
# An update is needed once on a fresh machine (empty package lists).
if [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v -e lock -e partial)" ] \
   || ! apt-cache show libczmq-dev >/dev/null 2>&1; then
    $SUDO apt-get -o DPkg::Lock::Timeout=300 update -qq
fi
# shellcheck disable=SC2086
$SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends $missing >/dev/null
echo "install-deps: done"
