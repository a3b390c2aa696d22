#!/usr/bin/env bash
# A private PostgreSQL cluster for `make run` and the benchmarks: init, start, stop.
# Usage: pg.sh start DIR PORT | pg.sh stop DIR. Prints the connection URL on start.
# The server refuses to run as root, so as root it runs as the unprivileged `postgres` user.
set -euo pipefail
cmd=$1 dir=$2
PGBIN=$(pg_config --bindir 2>/dev/null || true)
[ -x "$PGBIN/initdb" ] || PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

if [ "$cmd" = stop ]; then
    [ -f "$dir/data/postmaster.pid" ] && as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
    exit 0
fi
port=$3
PG_EXTRA=${PG_EXTRA:-}
mkdir -p "$dir/data" "$dir/sock"
if [ "$(id -u)" -eq 0 ]; then
    chown postgres "$dir/data" "$dir/sock"
    if ! runuser -u postgres -- test -x "$dir/data"; then
        echo "pg.sh: user postgres cannot reach $dir (a parent directory is not traversable);" \
             "set DATABASE_URL or move the checkout" >&2
        exit 1
    fi
fi
chmod 700 "$dir/data"
chmod 755 "$dir/sock"
if [ ! -f "$dir/data/PG_VERSION" ]; then
    as_pg "$PGBIN/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --locale=C --no-sync >/dev/null
fi
if ! as_pg "$PGBIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/data/server.log" -w -t 30 start \
        -o "-c listen_addresses= -p $port -k $dir/sock -c max_connections=200 $PG_EXTRA" >/dev/null
fi
as_pg "$PGBIN/psql" -h "$dir/sock" -p "$port" -U postgres -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = 'barbacane'" | grep -q 1 \
  || as_pg "$PGBIN/createdb" -h "$dir/sock" -p "$port" -U postgres barbacane
echo "postgresql:///barbacane?host=$dir/sock&port=$port&user=postgres"
