#!/usr/bin/env bash
# A local Redis Cluster on loopback for tests and benchmarks: three masters with one replica each.
#
#   scripts/redis-cluster.sh start [BASE_PORT]   # ports BASE_PORT..BASE_PORT+5 (default 7100); prints the URL
#   scripts/redis-cluster.sh stop [BASE_PORT]
#   scripts/redis-cluster.sh url [BASE_PORT]     # the REDIS_URL of the cluster
#
# Nodes keep nothing on disk (no RDB, no AOF); their folder is under ${TMPDIR:-/tmp}. A short node timeout (2 s)
# lets a replica take over quickly when a master dies (the load bench kills one).
set -euo pipefail

cmd=${1:-}
base=${2:-7100}
dir="${TMPDIR:-/tmp}/wa-onboard-redis-cluster-$base"
ports=$(seq "$base" $((base + 5)))

url() {
  local seeds=""
  for p in $ports; do seeds+="${seeds:+,}127.0.0.1:$p"; done
  echo "redis+cluster://$seeds"
}

ping() { redis-cli -p "$1" ping 2>/dev/null | grep -q PONG; }

start() {
  mkdir -p "$dir"
  for p in $ports; do
    if ping "$p"; then continue; fi
    mkdir -p "$dir/$p"
    redis-server --port "$p" --bind 127.0.0.1 --daemonize yes --dir "$dir/$p" \
      --cluster-enabled yes --cluster-config-file "nodes-$p.conf" --cluster-node-timeout 2000 \
      --save "" --appendonly no --logfile "$dir/$p/redis.log" --pidfile "$dir/$p/redis.pid"
  done
  for p in $ports; do
    for _ in $(seq 1 100); do ping "$p" && break; sleep 0.05; done
    ping "$p" || { echo "redis node $p did not start (see $dir/$p/redis.log)" >&2; exit 1; }
  done
  if ! redis-cli -p "$base" cluster info | grep -q 'cluster_state:ok'; then
    local nodes=""
    for p in $ports; do nodes+=" 127.0.0.1:$p"; done
    # shellcheck disable=SC2086
    redis-cli --cluster create $nodes --cluster-replicas 1 --cluster-yes >"$dir/create.log" 2>&1 \
      || { cat "$dir/create.log" >&2; exit 1; }
  fi
  # Every node must see the whole cluster before a client asks it for the slot map.
  for p in $ports; do
    for _ in $(seq 1 200); do
      redis-cli -p "$p" cluster info | grep -q 'cluster_state:ok' && break
      sleep 0.05
    done
    redis-cli -p "$p" cluster info | grep -q 'cluster_state:ok' || { echo "cluster node $p is not ok" >&2; exit 1; }
  done
  # ... and every replica must be attached, so that a master's death is survived from the first test on.
  for _ in $(seq 1 200); do
    [ "$(redis-cli -p "$base" cluster nodes | grep -c slave)" -ge 3 ] && break
    sleep 0.05
  done
  # ... and in sync with its master: a replica that never synced cannot take over.
  for p in $ports; do
    for _ in $(seq 1 200); do
      redis-cli -p "$p" info replication | grep -q 'role:master\|master_link_status:up' && break
      sleep 0.05
    done
  done
  url
}

stop() {
  for p in $ports; do
    redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true
  done
  rm -rf "$dir"
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  url) url ;;
  *) echo "usage: $0 start|stop|url [BASE_PORT]" >&2; exit 2 ;;
esac
