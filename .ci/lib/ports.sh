# Sourced: loopback port helpers shared by the CI steps and the benchmark scripts.

# A free loopback port, as the kernel assigns it (the caller binds it a moment later).
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_port PORT [SECONDS]: until something accepts connections on PORT (default 30 s).
wait_port() {
    local tries=$((${2:-30} * 10))
    for _ in $(seq 1 "$tries"); do
        (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "nothing listens on port $1" >&2
    return 1
}
