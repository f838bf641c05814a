#!/usr/bin/env bash
# Starts what the acceptance run talks to, all on loopback: Docker Engine, a TLS registry,
# and two static build hosts (sshd with their own host keys). Idempotent; run as root.
#   services.sh start | stop-host NAME | start-host NAME | status
set -euo pipefail
# shellcheck source=e2e/env.sh
source "$(dirname "$0")/env.sh"

apt_packages() {
    local wanted=(docker.io containerd runc docker-registry skopeo openssh-server openssh-client jq openssl busybox-static curl iproute2)
    local missing=()
    for p in "${wanted[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
    [ "${#missing[@]}" -eq 0 ] && return 0
    log "apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# This sandbox's capability bounding set lacks CAP_SYS_RESOURCE, so runc cannot start the
# privileged containers BuildKit needs ("unable to apply caps"). The wrapper drops that one
# capability from each container spec before calling the real runc.
runc_wrapper() {
    cat > /usr/local/sbin/nbf-runc <<'EOF'
#!/bin/sh
drop() { [ -f "$2" ] && jq "($1 // {}) |= with_entries(.value |= map(select(. != \"CAP_SYS_RESOURCE\")))" "$2" > "$2.tmp" && mv "$2.tmp" "$2"; }
prev=""
for arg in "$@"; do
    case "$prev" in
        --bundle|-b) drop .process.capabilities "$arg/config.json" ;;
        --process|-p) drop .capabilities "$arg" ;;
    esac
    case "$arg" in --bundle=*) drop .process.capabilities "${arg#--bundle=}/config.json" ;; esac
    prev="$arg"
done
exec /usr/sbin/runc "$@"
EOF
    chmod 0755 /usr/local/sbin/nbf-runc
}

# Starts a daemon that outlives this run, logging to $1. It keeps no file descriptor of this
# run beyond 0-2: one opened by `flock <lock file> npm run test:e2e` would otherwise hold that
# lock for as long as the daemon lives, and every later run waiting on the lock would hang.
# It runs in a session of its own: ending the job that started it (a process-group kill, as
# job control and timeouts do) once took dockerd with it in the middle of a later run.
start_daemon() {
    local log=$1 fd
    shift
    (
        for fd in /proc/self/fd/*; do
            fd=${fd##*/}
            [ "$fd" -le 2 ] || eval "exec $fd>&-" 2>/dev/null || true
        done
        exec setsid nohup "$@" >"$log" 2>&1
    ) &
}

docker_engine() {
    runc_wrapper
    if ! docker info >/dev/null 2>&1; then
        log "starting dockerd (no bridge, no iptables: all traffic stays on loopback)"
        start_daemon "$LOGS/dockerd.log" dockerd --iptables=false --bridge=none --storage-driver=overlay2 \
            --add-runtime nbf=/usr/local/sbin/nbf-runc --default-runtime nbf
        for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
        docker info >/dev/null 2>&1 || die "dockerd did not start; see $LOGS/dockerd.log"
    fi
}

registry() {
    local tls=$STATE/tls
    mkdir -p "$tls" "$STATE/registry"
    grep -q "^127.0.0.1[[:space:]]\+$REGISTRY_HOST\$" /etc/hosts || echo "127.0.0.1 $REGISTRY_HOST" >> /etc/hosts
    if [ ! -f "$tls/server.pem" ]; then
        openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj '/CN=nbf-e2e-ca' -keyout "$tls/ca.key" -out "$tls/ca.pem" 2>/dev/null
        openssl req -newkey rsa:2048 -nodes -subj "/CN=$REGISTRY_HOST" -keyout "$tls/server.key" -out "$tls/server.csr" 2>/dev/null
        printf 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\n' "$REGISTRY_HOST" > "$tls/ext.cnf"
        openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" -CAcreateserial -days 3650 \
            -extfile "$tls/ext.cnf" -out "$tls/server.pem" 2>/dev/null
    fi
    cmp -s "$tls/ca.pem" /usr/local/share/ca-certificates/nbf-e2e-ca.crt || {
        cp "$tls/ca.pem" /usr/local/share/ca-certificates/nbf-e2e-ca.crt
        update-ca-certificates >/dev/null 2>&1
    }
    mkdir -p "/etc/docker/certs.d/$REGISTRY"
    cp "$tls/ca.pem" "/etc/docker/certs.d/$REGISTRY/ca.crt"
    cat > "$STATE/registry.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $STATE/registry
  delete:
    enabled: true
http:
  addr: 127.0.0.1:5000
  tls:
    certificate: $tls/server.pem
    key: $tls/server.key
EOF
    if ! curl -fsS "https://$REGISTRY/v2/" >/dev/null 2>&1; then
        log "starting docker-registry on https://$REGISTRY (127.0.0.1)"
        start_daemon "$LOGS/registry.log" docker-registry serve "$STATE/registry.yml"
        for _ in $(seq 40); do curl -fsS "https://$REGISTRY/v2/" >/dev/null 2>&1 && break; sleep 0.25; done
        curl -fsS "https://$REGISTRY/v2/" >/dev/null || die "the registry did not start; see $LOGS/registry.log"
    fi
}

# The BuildKit image for the builder's nodes: the locally built buildkitd with Debian's
# runc, pushed to the loopback registry so the driver never reaches for Docker Hub.
buildkit_image() {
    skopeo inspect "docker://$BUILDKIT_IMAGE" >/dev/null 2>&1 && return 0
    log "building $BUILDKIT_IMAGE"
    local root; root=$(mktemp -d)
    mkdir -p "$root/usr/bin" "$root/bin" "$root/etc" "$root/tmp" "$root/var/lib/buildkit" "$root/run" "$root/proc" "$root/sys" "$root/dev"
    chmod 1777 "$root/tmp"
    cp "$BIN/buildkitd" "$BIN/buildctl" /usr/sbin/runc "$root/usr/bin/"
    for lib in $(ldd /usr/sbin/runc | grep -o '/[^ ]*'); do mkdir -p "$root$(dirname "$lib")"; cp -L "$lib" "$root$lib"; done
    cp /bin/busybox "$root/bin/busybox"
    for tool in sh ls cat; do ln -sf busybox "$root/bin/$tool"; done
    echo 'root:x:0:0:root:/root:/bin/sh' > "$root/etc/passwd"
    echo 'root:x:0:' > "$root/etc/group"
    tar -C "$root" -c . | docker import -c 'ENTRYPOINT ["buildkitd"]' -c 'ENV PATH=/usr/bin:/bin' -c 'VOLUME /var/lib/buildkit' - "$BUILDKIT_IMAGE" >/dev/null
    rm -rf "$root"
    push "$BUILDKIT_IMAGE"
}

# dockerd's resolver rereads /etc/hosts only every few seconds, so the registry's name may
# not resolve just after it was added: retry for a while.
push() {
    local _
    for _ in $(seq 10); do docker push -q "$1" >/dev/null 2>&1 && return 0; sleep 2; done
    docker push -q "$1" >/dev/null
}

# A base image for the test Dockerfile (busybox from Debian), in the loopback registry.
base_image() {
    skopeo inspect "docker://$REGISTRY/busybox:e2e" >/dev/null 2>&1 && return 0
    local root; root=$(mktemp -d)
    mkdir -p "$root/bin" "$root/tmp"
    cp /bin/busybox "$root/bin/busybox"
    for tool in sh cat echo mkdir printf uname cp; do ln -sf busybox "$root/bin/$tool"; done
    tar -C "$root" -c . | docker import -c 'CMD ["/bin/sh"]' - "$REGISTRY/busybox:e2e" >/dev/null
    rm -rf "$root"
    push "$REGISTRY/busybox:e2e"
}

operator_key() {
    [ -f "$STATE/operator/id_ed25519" ] && return 0
    mkdir -p "$STATE/operator"
    chmod 0700 "$STATE/operator"
    ssh-keygen -q -t ed25519 -N '' -C nbf-e2e-operator -f "$STATE/operator/id_ed25519"
}

build_user() {
    id -u "$HOST_USER" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$HOST_USER"
    # No password, but not locked: sshd without PAM refuses even key logins to locked accounts.
    usermod -p '*' "$HOST_USER"
    usermod -aG docker "$HOST_USER"
    local home; home=$(getent passwd "$HOST_USER" | cut -d: -f6)
    install -d -m 0700 -o "$HOST_USER" "$home/.ssh"
    install -m 0600 -o "$HOST_USER" "$STATE/operator/id_ed25519.pub" "$home/.ssh/authorized_keys"
}

host_dir() { echo "$STATE/hosts/$1"; }

# A third host, not in HOST_NAMES (the builder's two nodes): an sshd with only an RSA host key,
# on its own address, which e2e/steps/sshfaults.sh points a static host at. OpenSSH 9.2 refuses
# SHA-1 ssh-rsa, so only a client that negotiates rsa-sha2-* for the pinned key reaches it.
EXTRA_HOSTS=(rsa)
HOST_ADDRESS[rsa]=127.0.0.4
declare -A HOST_KEY_TYPE=([rsa]=rsa)

start_host() {
    local name=$1 dir type=${HOST_KEY_TYPE[$1]:-ed25519}; dir=$(host_dir "$name")
    mkdir -p "$dir" /run/sshd
    [ -f "$dir/ssh_host_${type}_key" ] || ssh-keygen -q -t "$type" -N '' -C "nbf-e2e-$name" -f "$dir/ssh_host_${type}_key"
    cat > "$dir/sshd_config" <<EOF
ListenAddress ${HOST_ADDRESS[$name]}:22
HostKey $dir/ssh_host_${type}_key
PidFile $dir/sshd.pid
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
AllowUsers $HOST_USER
UsePAM no
EOF
    # A pid file left by a killed run may name a pid that is now another process; an sshd
    # started by an older checkout may listen elsewhere: keep only one that listens here.
    if [ -f "$dir/sshd.pid" ] && [ "$(cat "/proc/$(cat "$dir/sshd.pid")/comm" 2>/dev/null)" = sshd ]; then
        if ss -Hltnp "src ${HOST_ADDRESS[$name]}:22" 2>/dev/null | grep -q "pid=$(cat "$dir/sshd.pid"),"; then
            return 0
        fi
        stop_host "$name"
    fi
    /usr/sbin/sshd -f "$dir/sshd_config" -E "$LOGS/sshd-$name.log"
    for _ in $(seq 20); do [ -f "$dir/sshd.pid" ] && break; sleep 0.1; done
}

stop_host() {
    local dir; dir=$(host_dir "$1")
    if [ -f "$dir/sshd.pid" ]; then
        kill "$(cat "$dir/sshd.pid")" 2>/dev/null || true
        rm -f "$dir/sshd.pid"
    fi
}

# The test hosts declare linux/amd64 and linux/arm64 only; a QEMU handler on this machine
# would let the provider route arm64 work by detection, which the readiness check refuses.
no_foreign_emulation() {
    local handler
    for handler in /proc/sys/fs/binfmt_misc/qemu-*; do
        [ -f "$handler" ] && grep -qx enabled "$handler" && echo 0 > "$handler"
    done
    return 0
}

start() {
    apt_packages
    docker_engine
    registry
    buildkit_image
    base_image
    operator_key
    build_user
    no_foreign_emulation
    for name in "${HOST_NAMES[@]}" "${EXTRA_HOSTS[@]}" "${SPREAD_HOSTS[@]}"; do start_host "$name"; done
}

status() {
    docker info --format 'docker {{.ServerVersion}}'
    curl -fsS "https://$REGISTRY/v2/" >/dev/null && echo "registry https://$REGISTRY"
    for name in "${HOST_NAMES[@]}" "${EXTRA_HOSTS[@]}" "${SPREAD_HOSTS[@]}"; do
        printf 'host %s %s:22 %s\n' "$name" "${HOST_ADDRESS[$name]}" "$(cat "$(host_dir "$name")/ssh_host_${HOST_KEY_TYPE[$name]:-ed25519}_key.pub")"
    done
}

case "${1:-start}" in
    start) start ;;
    stop-host) stop_host "$2" ;;
    start-host) start_host "$2" ;;
    status) status ;;
    *) die "usage: services.sh start|stop-host NAME|start-host NAME|status" ;;
esac
