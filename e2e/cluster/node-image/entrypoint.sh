#!/bin/bash
# PID 1 of the test ground's node container: a whole single-node cluster, kind-like, in one container.
#
#   the local OCI registry (CNCF distribution) on 0.0.0.0:$GFL_REGISTRY_PORT of the node's network namespace
#   (published on the host's 127.0.0.1 at the same port, so one image name serves the pusher and the node);
#   containerd (Debian's, CRI) + runc + Debian's CNI plugins; etcd, kube-apiserver (:6443, published on the
#   host's loopback), kube-controller-manager, kube-scheduler, kubelet and kube-proxy (binaries bind-mounted
#   read-only at /opt/gfl/bin). CoreDNS runs as a Deployment, applied by the provider.
#
# SIGTERM stops the components in reverse order; everything they made (pods' network namespaces, veths, mounts,
# iptables rules, cgroups) lives in the container's own namespaces and cgroup and goes with it.
set -euo pipefail

BIN=/opt/gfl/bin
PKI=/etc/gfl/pki
CONF=/etc/gfl
LOGS=/var/log/gfl
NODE=${GFL_NODE_NAME:-gfl-node}
SERVICE_CIDR=10.231.96.0/24
SERVICE_IP=10.231.96.1
DNS_IP=10.231.96.10
CLUSTER_CIDR=10.231.64.0/20
REGISTRY="127.0.0.1:${GFL_REGISTRY_PORT:?GFL_REGISTRY_PORT is required}"
SANDBOX_IMAGE="$REGISTRY/${GFL_SANDBOX_IMAGE:?GFL_SANDBOX_IMAGE is required}"
export PATH=$BIN:/usr/sbin:/usr/bin:/sbin:/bin

mkdir -p "$PKI" "$LOGS" /var/lib/etcd /var/lib/registry /var/lib/kubelet /etc/cni/net.d
log() { echo "[node] $(date -u +%T) $*"; }

pids=()
names=()
start() { # start NAME CMD...: one component in the background, its output in $LOGS/NAME.log
  local name=$1
  shift
  "$@" >"$LOGS/$name.log" 2>&1 &
  pids+=("$!")
  names+=("$name")
  log "started $name (pid $!)"
}
stop_all() { # stop_all [EXIT_CODE]: each component in reverse order, SIGTERM then SIGKILL after 5 s
  log "stopping"
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    local pid=${pids[i]} t0=$SECONDS
    kill -TERM "$pid" 2>/dev/null || continue
    for _ in $(seq 1 20); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.25
    done
    kill -KILL "$pid" 2>/dev/null && log "${names[i]} did not stop within 5 s of SIGTERM: killed"
    wait "$pid" 2>/dev/null || true
    log "${names[i]} stopped in $((SECONDS - t0)) s"
  done
  log "stopped"
  exit "${1:-0}"
}
trap stop_all TERM INT

wait_http() { # wait_http URL NAME [CURL_ARGS...]: until the URL answers 200 (60 s)
  local url=$1 name=$2
  shift 2
  for _ in $(seq 1 240); do
    curl -fsS -o /dev/null "$@" "$url" 2>/dev/null && return 0
    sleep 0.25
  done
  log "$name did not become ready; its log ends with:"
  tail -30 "$LOGS/$name.log"
  exit 1
}

# --- Kernel settings, kept to this container's own namespaces ---------------------------------------------------
# The node container is not privileged (a privileged container asks for every capability, and some hosts' bounding
# set lacks CAP_SYS_RESOURCE: runc then refuses it); it has every other capability, and makes writable what the
# engine mounts read-only for an unprivileged container: /sys, and each cgroup v1 hierarchy, mounted again (in the
# container's private cgroup namespace a new mount shows the container's own cgroup as its root).
mount -o remount,rw /sys
for dir in /sys/fs/cgroup/*/; do
  dir=${dir%/}
  [[ -L $dir ]] && continue
  options=$(awk -v m="$dir" '$2 == m {print $4}' /proc/self/mounts | tr , '\n' |
    grep -vE '^(ro|rw|nosuid|nodev|noexec|relatime)$' | paste -sd,)
  umount "$dir"
  mount -t cgroup -o "rw,nosuid,nodev,noexec,$options" cgroup "$dir"
  # kubelet's cgroupRoot must exist; a new cpuset cgroup starts with no CPU and no memory node.
  mkdir -p "$dir/kubelet"
  if [[ -f $dir/cpuset.cpus ]]; then
    cat "$dir/cpuset.cpus" >"$dir/kubelet/cpuset.cpus"
    cat "$dir/cpuset.mems" >"$dir/kubelet/cpuset.mems"
  fi
done
# Mount propagation for kubelet's volumes; the container's mount namespace is its own.
mount --make-rshared /
# Per network namespace: forwarding between pods, and bridged traffic through iptables (kube-proxy's DNAT
# must see a pod's reply to another pod on the same bridge).
sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1 net.ipv4.conf.all.route_localnet=1
# kubelet sets these kernel-wide sysctls to its own values when they differ; in a privileged container that
# would change the host. Each is shadowed by a file holding the value kubelet wants, so it reads what it
# wants and writes nothing to the host.
mkdir -p /run/gfl/sysctl
for kv in vm/overcommit_memory=1 vm/panic_on_oom=0 kernel/panic=10 kernel/panic_on_oops=1 \
  kernel/keys/root_maxkeys=1000000 kernel/keys/root_maxbytes=25000000; do
  key=${kv%%=*}
  shadow=/run/gfl/sysctl/${key//\//.}
  echo "${kv#*=}" >"$shadow"
  mount --bind "$shadow" "/proc/sys/$key"
done

# --- PKI (openssl, ECDSA P-256: fast) ---------------------------------------------------------------------------
ip=$(ip -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1)
cd "$PKI"
openssl ecparam -name prime256v1 -genkey -noout -out ca.key
openssl req -x509 -new -key ca.key -out ca.crt -days 30 -subj /CN=gfl-node-ca 2>/dev/null
cert() { # cert NAME SUBJECT EXTENSIONS
  openssl ecparam -name prime256v1 -genkey -noout -out "$1.key"
  openssl req -new -key "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
  printf '%b' "$3" >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$1.crt" -days 30 -extfile "$1.ext" 2>/dev/null
}
client='extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature\n'
cert apiserver /CN=kube-apiserver "subjectAltName=DNS:localhost,DNS:$NODE,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1,IP:$SERVICE_IP,IP:$ip\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature\n"
cert admin /O=system:masters/CN=gfl-admin "$client"
cert apiserver-kubelet /O=system:masters/CN=kube-apiserver-kubelet-client "$client"
cert controller-manager /CN=system:kube-controller-manager "$client"
cert scheduler /CN=system:kube-scheduler "$client"
cert kubelet "/O=system:nodes/CN=system:node:$NODE" "$client"
cert kube-proxy /CN=system:kube-proxy "$client"
openssl ecparam -name prime256v1 -genkey -noout -out sa.key
openssl ec -in sa.key -pubout -out sa.pub 2>/dev/null
kubeconfig() { # kubeconfig NAME: $CONF/NAME.kubeconfig for the client certificate NAME
  cat >"$CONF/$1.kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: gfl
  cluster: {server: "https://127.0.0.1:6443", certificate-authority: $PKI/ca.crt}
users:
- name: $1
  user: {client-certificate: $PKI/$1.crt, client-key: $PKI/$1.key}
contexts:
- name: gfl
  context: {cluster: gfl, user: $1}
current-context: gfl
KC
}
for c in admin controller-manager scheduler kubelet kube-proxy; do kubeconfig "$c"; done
cd /
log "certificates made (node address $ip)"

# --- The registry first, so that the provider can push while the control plane starts ----------------------------
REGISTRY_HTTP_ADDR=0.0.0.0:$GFL_REGISTRY_PORT REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY=/var/lib/registry \
  REGISTRY_LOG_LEVEL=warn OTEL_TRACES_EXPORTER=none start registry registry serve /etc/gfl/registry.yaml

# --- containerd ----------------------------------------------------------------------------------------------------
mkdir -p "/etc/containerd/certs.d/$REGISTRY"
cat >"/etc/containerd/certs.d/$REGISTRY/hosts.toml" <<HT
server = "http://$REGISTRY"
[host."http://$REGISTRY"]
  capabilities = ["pull", "resolve"]
HT
sed "s|@SANDBOX_IMAGE@|$SANDBOX_IMAGE|" /etc/gfl/containerd.toml >/etc/containerd/config.toml
cp /etc/gfl/cni.conflist /etc/cni/net.d/10-gfl-pods.conflist
start containerd containerd --config /etc/containerd/config.toml

# --- Control plane ------------------------------------------------------------------------------------------------
start etcd etcd --data-dir=/var/lib/etcd --listen-client-urls=http://127.0.0.1:2379 \
  --advertise-client-urls=http://127.0.0.1:2379 --listen-peer-urls=http://127.0.0.1:2380 \
  --listen-metrics-urls=http://127.0.0.1:2381 --unsafe-no-fsync=true
wait_http http://127.0.0.1:2381/health etcd

start kube-apiserver kube-apiserver --etcd-servers=http://127.0.0.1:2379 --bind-address=0.0.0.0 --secure-port=6443 \
  --advertise-address="$ip" --service-cluster-ip-range=$SERVICE_CIDR --allow-privileged=true \
  --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
  --client-ca-file=$PKI/ca.crt --tls-cert-file=$PKI/apiserver.crt --tls-private-key-file=$PKI/apiserver.key \
  --kubelet-client-certificate=$PKI/apiserver-kubelet.crt --kubelet-client-key=$PKI/apiserver-kubelet.key \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local --service-account-key-file=$PKI/sa.pub \
  --service-account-signing-key-file=$PKI/sa.key --profiling=false
wait_http https://127.0.0.1:6443/readyz kube-apiserver --cacert $PKI/ca.crt --cert $PKI/admin.crt --key $PKI/admin.key

start kube-controller-manager kube-controller-manager --kubeconfig=$CONF/controller-manager.kubeconfig \
  --authentication-kubeconfig=$CONF/controller-manager.kubeconfig --authorization-kubeconfig=$CONF/controller-manager.kubeconfig \
  --bind-address=127.0.0.1 --secure-port=10257 --use-service-account-credentials=true --leader-elect=false \
  --service-account-private-key-file=$PKI/sa.key --root-ca-file=$PKI/ca.crt \
  --cluster-signing-cert-file=$PKI/ca.crt --cluster-signing-key-file=$PKI/ca.key
start kube-scheduler kube-scheduler --kubeconfig=$CONF/scheduler.kubeconfig \
  --authentication-kubeconfig=$CONF/scheduler.kubeconfig --authorization-kubeconfig=$CONF/scheduler.kubeconfig \
  --bind-address=127.0.0.1 --secure-port=10259 --leader-elect=false

# --- Node -----------------------------------------------------------------------------------------------------------
cat >$CONF/kubelet.yaml <<KUBELET
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
address: 0.0.0.0
port: 10250
healthzBindAddress: 127.0.0.1
healthzPort: 10248
readOnlyPort: 0
clusterDomain: cluster.local
clusterDNS: [$DNS_IP]
containerRuntimeEndpoint: unix:///run/containerd/containerd.sock
# The host is cgroup v1 (hybrid) and has no systemd in the container.
cgroupDriver: cgroupfs
failCgroupV1: false
# Pods' cgroups under one subtree of the node container's own cgroup (a private cgroup namespace).
cgroupRoot: /kubelet
cgroupsPerQOS: true
failSwapOn: false
# The host's disk is shared with the rest of the machine: never evict the test's Pods for it.
evictionHard: {memory.available: "100Mi", nodefs.available: "0%", imagefs.available: "0%"}
imageGCHighThresholdPercent: 100
# No resolver of the host is handed to Pods: cluster DNS only, and no query leaves the node.
resolvConf: ""
serializeImagePulls: false
KUBELET
start kubelet kubelet --config=$CONF/kubelet.yaml --kubeconfig=$CONF/kubelet.kubeconfig --hostname-override="$NODE" \
  --node-ip="$ip"

cat >$CONF/kube-proxy.yaml <<PROXY
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $CONF/kube-proxy.kubeconfig}
mode: iptables
clusterCIDR: $CLUSTER_CIDR
hostnameOverride: $NODE
bindAddress: 0.0.0.0
metricsBindAddress: 127.0.0.1:10249
healthzBindAddress: 127.0.0.1:10256
# nf_conntrack_max is kernel-wide (the host's): leave it alone, as kind does.
conntrack: {maxPerCore: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
PROXY
start kube-proxy kube-proxy --config=$CONF/kube-proxy.yaml

log "all components started"
touch /run/gfl/started
# wait -n returns when any component exits: a dead component ends the node (the provider reports its log).
set +e
wait -n "${pids[@]}"
code=$?
log "a component exited ($code); logs in $LOGS"
stop_all 1
