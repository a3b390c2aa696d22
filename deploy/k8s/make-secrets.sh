#!/usr/bin/env bash
# Creates the mesh keys (one CURVE pair per role, czmq zcert files made by barbacane-keygen)
# and the services' shared secret as Kubernetes Secrets, so that each pod gets only what
# its role needs:
#   barbacane-mesh-public   every public key (the gateway's allowed keys; clients take
#                           "gateway", the server's public key, from it)
#   barbacane-mesh-<role>   <role>_secret, for gateway, front, registry, compiler, hub
#   barbacane-service-secret  service-secret (registry, compiler, hub)
# Usage: make-secrets.sh [KEYDIR]   (keys are made in KEYDIR, default ./mesh-keys, when missing;
# keep that directory offline, it holds every secret key)
set -euo pipefail
NS=${NS:-barbacane}
DIR=${1:-./mesh-keys}
KEYGEN=${KEYGEN:-barbacane-keygen}
"$KEYGEN" "$DIR" --all
[ -s "$DIR/service-secret" ] || (umask 077; openssl rand -hex 32 > "$DIR/service-secret")
public=()
for f in "$DIR"/*; do
    case "$f" in *_secret|*/service-secret) ;; *) public+=(--from-file="$f") ;; esac
done
kubectl -n "$NS" create secret generic barbacane-mesh-public "${public[@]}" \
    --dry-run=client -o yaml | kubectl apply -f -
for role in gateway front registry compiler hub; do
    kubectl -n "$NS" create secret generic "barbacane-mesh-$role" \
        --from-file="${role}_secret=$DIR/${role}_secret" --dry-run=client -o yaml | kubectl apply -f -
done
kubectl -n "$NS" create secret generic barbacane-service-secret \
    --from-file="service-secret=$DIR/service-secret" --dry-run=client -o yaml | kubectl apply -f -
echo "make-secrets: done; rotate a role's key as docs/runbook.md says"
