# shellcheck shell=bash disable=SC2034
# Shared settings of the e2e cluster scripts (build, up, down, image, ci.sh).
# Sourced, never run. Every path and version lives here so the scripts agree.

set -euo pipefail

# --- versions -------------------------------------------------------------------------------
K8S_VERSION=1.37.2            # k8s.io/kubernetes module; staging modules are v0.<minor>.<patch>
CONTAINERD_VERSION=2.3.7      # github.com/containerd/containerd/v2
COREDNS_VERSION=1.15.0        # github.com/coredns/coredns
HELM_VERSION=3.22.0           # helm.sh/helm/v3
CRICTL_VERSION=1.37.0         # sigs.k8s.io/cri-tools (crictl: `down` removes pod sandboxes via CRI)
PAUSE_TAG=3.10                # registry.k8s.io/pause:<tag>, built locally from pause.c

# --- places ---------------------------------------------------------------------------------
E2E_CLUSTER_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
E2E_REPO_DIR="$(cd "$E2E_CLUSTER_DIR/../.." && pwd)"
# Build cache: binaries, Go module and build caches, wrapper modules. Never inside the clone.
E2E_CACHE="${SHINYDB_E2E_CACHE:-/var/cache/shinydb-e2e}"
E2E_BIN="$E2E_CACHE/bin"
E2E_SRC="$E2E_CACHE/src"
E2E_IMAGES="$E2E_CACHE/images"
# Run-time state: PKI, etcd data, kubeconfigs, logs, PIDs, volumes. Wiped by `down`.
E2E_STATE="${SHINYDB_E2E_STATE:-/var/lib/shinydb-e2e}"
E2E_RUN="/run/shinydb-e2e"
E2E_KUBECONFIG="$E2E_STATE/admin.kubeconfig"

export GOMODCACHE="$E2E_CACHE/go/mod"
export GOCACHE="$E2E_CACHE/go/build"
export GOPATH="$E2E_CACHE/go/path"
export GOFLAGS="-mod=mod"
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"
export GOMAXPROCS="${GOMAXPROCS:-2}"

# --- network (nothing here may route off the machine) ---------------------------------------
POD_CIDR=10.88.0.0/16
POD_GW=10.88.0.1              # bridge address; CoreDNS listens here
SERVICE_CIDR=10.96.0.0/16
KUBERNETES_SVC_IP=10.96.0.1
BRIDGE=shinydb0
CNI_NETWORK=shinydb-e2e
NODE_NAME=node1
APISERVER_PORT=6443
ETCD_CLIENT_PORT=23790         # not 2379, so a stray system etcd does not collide
ETCD_PEER_PORT=23800
STORAGE_CLASS=shinydb-local
PROVISIONER_NAME=shinydb.io/local-path

# The host's own address on its default-route interface: node IP and apiserver advertise address.
host_iface() { ip -4 route show default | awk '{for (i=1;i<NF;i++) if ($i=="dev") {print $(i+1); exit}}'; }
host_ip() { ip -4 -o addr show dev "$(host_iface)" | awk '{split($4,a,"/"); print a[1]; exit}'; }

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Install Debian packages that are missing (apt-get update first, once).
ensure_apt() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "apt-get install ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

# Debian packages the cluster needs at run time.
APT_RUNTIME=(runc containernetworking-plugins iptables conntrack jq busybox-static openssl iproute2 ca-certificates curl)
