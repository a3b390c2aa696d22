#!/usr/bin/env bash
# A private PostgreSQL cluster for `make run` and the benchmarks: init, start, stop.
# Usage: pg.sh start DIR PORT | pg.sh stop DIR. Prints the connection URL on start; the
# password is in DIR/pgpass (0600), for PGPASSFILE.
# The server refuses to run as root, so as root it runs as the unprivileged `postgres` user.
# Only the owner can enter the socket directory, and every login needs the generated
# password (scram-sha-256): other local users get neither a socket nor a superuser.
set -euo pipefail
cmd=$1 dir=$2
PGBIN=$(pg_config --bindir 2>/dev/null || true)
[ -x "$PGBIN/initdb" ] || PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -w PGPASSWORD -- "$@"; else "$@"; fi; }
owner_only() { if [ "$(id -u)" -eq 0 ]; then chown postgres "$@"; fi; chmod 700 "$@"; }

if [ "$cmd" = stop ]; then
    [ -f "$dir/data/postmaster.pid" ] && as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
    exit 0
fi
port=$3
PG_EXTRA=${PG_EXTRA:-}
mkdir -p "$dir/data" "$dir/sock"
owner_only "$dir/data" "$dir/sock"
if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$dir/data"; then
    echo "pg.sh: user postgres cannot reach $dir (a parent directory is not traversable);" \
         "set DATABASE_URL or move the checkout" >&2
    exit 1
fi

# The password: made once, kept for the caller (0600) and written to pgpass for libpq.
if [ ! -s "$dir/password" ]; then
    (umask 077; head -c 24 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' > "$dir/password")
fi
PGPASSWORD=$(cat "$dir/password")
export PGPASSWORD
(umask 077; printf '*:*:*:postgres:%s\n' "$PGPASSWORD" > "$dir/pgpass")

if [ ! -f "$dir/data/PG_VERSION" ]; then
    pwfile=$dir/initdb-pw
    (umask 077; printf '%s\n' "$PGPASSWORD" > "$pwfile")
    [ "$(id -u)" -eq 0 ] && chown postgres "$pwfile"
    as_pg "$PGBIN/initdb" -D "$dir/data" -A scram-sha-256 --pwfile="$pwfile" -U postgres \
        -E UTF8 --locale=C --no-sync >/dev/null
    rm -f "$pwfile"
fi
if ! as_pg "$PGBIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/data/server.log" -w -t 30 start \
        -o "-c listen_addresses= -p $port -k $dir/sock -c max_connections=200 $PG_EXTRA" >/dev/null
fi
# A cluster made by an older pg.sh trusted every local user: give it the password and
# switch it to scram-sha-256.
if grep -Eq '^[^#].*[[:space:]]trust([[:space:]]|$)' "$dir/data/pg_hba.conf"; then
    as_pg "$PGBIN/psql" -h "$dir/sock" -p "$port" -U postgres -d postgres -qtAc \
        "ALTER USER postgres PASSWORD '$PGPASSWORD'" >/dev/null
    as_pg sed -i -E 's/^([^#].*[[:space:]])trust([[:space:]]*)$/\1scram-sha-256\2/' "$dir/data/pg_hba.conf"
    as_pg "$PGBIN/pg_ctl" -D "$dir/data" reload >/dev/null
fi
as_pg "$PGBIN/psql" -h "$dir/sock" -p "$port" -U postgres -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = 'barbacane'" | grep -q 1 \
  || as_pg "$PGBIN/createdb" -h "$dir/sock" -p "$port" -U postgres barbacane
echo "postgresql:///barbacane?host=$dir/sock&port=$port&user=postgres"
