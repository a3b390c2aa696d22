#!/usr/bin/env bash
# `make run`: a private PostgreSQL under var/ (unless DATABASE_URL is set), the mesh keys and
# the service secret (made when missing), migrations, the gateway, registry and compiler
# workers and the data-plane hubs, supervised (restart with backoff) until Ctrl-C or
# `make stop`.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VAR=${VAR:-$ROOT/var}
BIN=${BIN:-$ROOT/bin}
PORT=${PORT:-9090}
REGISTRY_WORKERS=${REGISTRY_WORKERS:-2}
COMPILER_WORKERS=${COMPILER_WORKERS:-2}
HUBS=${HUBS:-1}
HUB_PORT=${HUB_PORT:-9091}
BROKER_PORT=${BROKER_PORT:-5555}
EVENTS_IN_PORT=${EVENTS_IN_PORT:-5556}
EVENTS_OUT_PORT=${EVENTS_OUT_PORT:-5557}
PG_PORT=${PG_PORT:-54329}
mkdir -p "$VAR/run" "$VAR/log"

log() { printf '%s run: %s\n' "$(date -u +%FT%TZ)" "$*" | tee -a "$VAR/log/run.log" >&2; }

if [ -f "$VAR/run/run.pid" ] && kill -0 "$(cat "$VAR/run/run.pid")" 2>/dev/null; then
    log "already running (pid $(cat "$VAR/run/run.pid")); use 'make stop' first"
    exit 1
fi
echo $$ > "$VAR/run/run.pid"

OWN_PG=0
if [ -z "${DATABASE_URL:-}" ]; then
    DATABASE_URL=$(bash "$ROOT/deploy/pg.sh" start "$VAR/pg" "$PG_PORT") || { log "PostgreSQL did not start"; exit 1; }
    OWN_PG=1
    export PGPASSFILE=$VAR/pg/pgpass
    log "private PostgreSQL at $VAR/pg (port $PG_PORT, unix socket only, password in var/pg/pgpass)"
fi
export DATABASE_URL

# The mesh: a CURVE key pair per role (only the missing ones are made), and the secret the
# services share (idempotency seals, download tokens). Both stay under var/, mode 0600.
KEYS=$VAR/keys
SECRET=$VAR/service-secret
"$BIN/barbacane-keygen" "$KEYS" --all | sed 's/^/  /' >&2 || { log "cannot create mesh keys in $KEYS"; exit 1; }
if [ ! -s "$SECRET" ]; then
    (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$SECRET")
    log "generated the service secret in var/service-secret"
fi
MESH="--mesh-keys $KEYS"

if [ ! -s "$VAR/admin-token" ]; then
    (umask 077; printf 'bbadm_%s\n' "$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')" > "$VAR/admin-token")
    log "generated a new admin token in var/admin-token"
fi

export BARBACANE_BROKER="tcp://127.0.0.1:$BROKER_PORT"
export BARBACANE_EVENTS="tcp://127.0.0.1:$EVENTS_IN_PORT"
"$BIN/barbacane-registry" --migrate-only 2>>"$VAR/log/migrate.log" || { log "migrations failed (see var/log/migrate.log)"; exit 1; }

declare -A CMD PID STARTED BACKOFF
HUB_LIST=""
for i in $(seq 1 "$HUBS"); do
    HUB_LIST="$HUB_LIST${HUB_LIST:+,}127.0.0.1:$((HUB_PORT + i - 1))"
done
SVC="$MESH --service-secret-file $SECRET --broker tcp://127.0.0.1:$BROKER_PORT \
--events tcp://127.0.0.1:$EVENTS_IN_PORT --events-out tcp://127.0.0.1:$EVENTS_OUT_PORT"
CMD[gateway]="$BIN/barbacane-gateway --http-port $PORT --admin-token-file $VAR/admin-token \
--broker-bind tcp://127.0.0.1:$BROKER_PORT --events-in-bind tcp://127.0.0.1:$EVENTS_IN_PORT \
--events-out-bind tcp://127.0.0.1:$EVENTS_OUT_PORT $MESH ${HUB_LIST:+--hubs $HUB_LIST} --instance gateway"
for i in $(seq 1 "$REGISTRY_WORKERS"); do
    CMD[registry-$i]="$BIN/barbacane-registry $SVC --instance registry-$i"
done
for i in $(seq 1 "$COMPILER_WORKERS"); do
    CMD[compiler-$i]="$BIN/barbacane-compiler $SVC --instance compiler-$i"
done
for i in $(seq 1 "$HUBS"); do
    CMD[hub-$i]="$BIN/barbacane-hub $MESH --service-secret-file $SECRET \
--events-out tcp://127.0.0.1:$EVENTS_OUT_PORT --ws-port $((HUB_PORT + i - 1)) --instance hub-$i"
done

start() {
    local name=$1
    # shellcheck disable=SC2086
    ${CMD[$name]} 2>>"$VAR/log/$name.log" &
    PID[$name]=$!
    STARTED[$name]=$SECONDS
    echo "${PID[$name]}" > "$VAR/run/$name.pid"
}

STOPPING=0
shutdown() {
    STOPPING=1
    log "stopping"
    for name in "${!PID[@]}"; do kill -TERM "${PID[$name]}" 2>/dev/null; done
    for name in "${!PID[@]}"; do
        for _ in $(seq 50); do kill -0 "${PID[$name]}" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "${PID[$name]}" 2>/dev/null
        rm -f "$VAR/run/$name.pid"
    done
    [ "$OWN_PG" = 1 ] && bash "$ROOT/deploy/pg.sh" stop "$VAR/pg"
    rm -f "$VAR/run/run.pid"
    log "stopped"
    exit 0
}
trap shutdown INT TERM

for name in "${!CMD[@]}"; do start "$name"; done
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done

cat <<MSG

  Barbacane control plane is running at http://127.0.0.1:$PORT
  Admin token: $(head -n 1 "$VAR/admin-token") (in var/admin-token). Try:
    curl -H "Authorization: Bearer \$(cat var/admin-token)" http://127.0.0.1:$PORT/projects
  Data planes connect to ws://127.0.0.1:$PORT/ws/data-plane (hubs: $HUB_LIST)
  Processes: gateway, $REGISTRY_WORKERS x registry, $COMPILER_WORKERS x compiler, $HUBS x hub
  (pids in var/run/, logs in var/log/)
  Mesh keys (CURVE, one pair per role): var/keys/; service secret: var/service-secret
  Stop with Ctrl-C, or 'make stop' when started with 'make run &'.

MSG

# Supervise: a process that exits unexpectedly is restarted with exponential backoff.
while :; do
    wait -n -p done_pid
    rc=$?
    [ "$STOPPING" = 1 ] && break
    [ -z "${done_pid:-}" ] && continue
    for name in "${!PID[@]}"; do
        [ "${PID[$name]}" = "$done_pid" ] || continue
        ran=$((SECONDS - STARTED[$name]))
        b=${BACKOFF[$name]:-1}
        [ "$ran" -gt 30 ] && b=1
        log "$name (pid $done_pid) exited with status $rc after ${ran}s; restarting in ${b}s"
        sleep "$b" & wait $! 2>/dev/null
        [ "$STOPPING" = 1 ] && break 2
        BACKOFF[$name]=$((b * 2 > 30 ? 30 : b * 2))
        start "$name"
        log "$name restarted as pid ${PID[$name]}"
    done
done
