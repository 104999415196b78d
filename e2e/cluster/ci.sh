#!/usr/bin/env bash
# CI entry for the e2e suite, called by .ci/run: build what is missing (cold or warm) and the
# release binaries, bring the cluster up, import the images, run the e2e test binary
# (`cargo test --workspace --test e2e`, or the binary `SHINYDB_E2E_TEST_BINARY` names) against it,
# and always bring it down again.
# Fails if anything fails, including a cluster that does not come up.
# Extra arguments go to `cargo build` and `cargo test` (for example `--locked`).
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
# Release binaries for the images: the server and the CLI (shinydb/server), the operator
# (shinydb/operator), and the CLI in the client toolbox the tests' client pods run.
# Plain rustc, as users build them (.ci/run lints through clippy-driver, but not these).
(cd "$E2E_REPO_DIR" && env -u RUSTC_WORKSPACE_WRAPPER -u CLIPPY_ARGS \
    cargo build --release "$@" --bin shinydb-server --bin shinydb --bin shinydb-operator)
T1=$(date +%s)
"$E2E_CLUSTER_DIR/up"
T2=$(date +%s)
TARGET=${CARGO_TARGET_DIR:-$E2E_REPO_DIR/target}
VERSION=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' "$E2E_REPO_DIR/Cargo.toml")
export SHINYDB_E2E_IMAGE_TAG="$VERSION"
export SHINYDB_E2E_CLIENT_IMAGE="shinydb/e2e-testbox:client-$VERSION"
"$E2E_CLUSTER_DIR/image" release server "$VERSION"
"$E2E_CLUSTER_DIR/image" release operator "$VERSION"
"$E2E_CLUSTER_DIR/image" release testbox "client-$VERSION" /bin/busybox "$TARGET/release/shinydb"
T3=$(date +%s)
export SHINYDB_E2E_KUBECONFIG="$E2E_KUBECONFIG"
export SHINYDB_E2E_BIN="$E2E_BIN"
if [ -n "${SHINYDB_E2E_TEST_BINARY:-}" ]; then
    # Built already (.ci/run builds it first, then runs this while building everything else).
    (cd "$E2E_REPO_DIR/e2e" && "$SHINYDB_E2E_TEST_BINARY")
else
    # `--workspace --test e2e`, not `-p shinydb-e2e`: the same package selection as the
    # workspace's test build, so the dependencies' features, and so their artifacts, are the
    # ones already built.
    (cd "$E2E_REPO_DIR" && cargo test --workspace --test e2e "$@")
fi
T4=$(date +%s)
log "e2e timings: build (cluster + release binaries) $((T1 - T0)) s, up $((T2 - T1)) s, images $((T3 - T2)) s, tests $((T4 - T3)) s"
