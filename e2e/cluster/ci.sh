#!/usr/bin/env bash
# CI entry for the e2e suite, called by .ci/run: build what is missing (cold or warm), bring the
# cluster up, run `cargo test -p shinydb-e2e` against it, and always bring it down again.
# Fails if anything fails, including a cluster that does not come up.
# Extra arguments go to `cargo test` (for example `--locked`).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

T0=$(date +%s)
# Leave the host clean whatever happens; a failed run keeps its logs for reading.
cleanup() {
    local rc=$?
    if [ $rc -ne 0 ] && [ -d "$E2E_STATE/logs" ]; then
        local keep="$E2E_CACHE/last-failed-logs"
        rm -rf "$keep" && cp -r "$E2E_STATE/logs" "$keep"
        log "e2e failed (exit $rc); cluster logs copied to $keep"
        tail -n 20 "$keep"/*.log >&2 || true
    fi
    "$E2E_CLUSTER_DIR/down" || log "down failed"
    log "e2e total $(($(date +%s) - T0)) s"
    exit $rc
}
trap cleanup EXIT

"$E2E_CLUSTER_DIR/build"
T1=$(date +%s)
"$E2E_CLUSTER_DIR/up"
T2=$(date +%s)
export SHINYDB_E2E_KUBECONFIG="$E2E_KUBECONFIG"
export SHINYDB_E2E_BIN="$E2E_BIN"
(cd "$E2E_REPO_DIR" && cargo test -p shinydb-e2e "$@")
T3=$(date +%s)
log "e2e timings: build $((T1 - T0)) s, up $((T2 - T1)) s, tests $((T3 - T2)) s"
