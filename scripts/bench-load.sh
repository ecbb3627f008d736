#!/usr/bin/env bash
# Throughput and latency of the sandbox binary beside Prism mocking the same spec, and
# beside the machine's ceiling (nginx serving the sandbox's answer as a static file).
#
#   scripts/bench-load.sh            # 1 s warm-up + 3 s per point, 1/8/32 connections
#   scripts/bench-load.sh --quick    # 0.25 s + 1 s per point (CI)
#   scripts/bench-load.sh -- --ops get-instrument --connections 32   # flags for loadgen
#
# Starts `target/release/sophic-sandbox --clock held` and `prism mock openapi/orders.yaml`
# (at --verboseLevel error, its fastest) on free loopback ports, runs `loadgen` against
# both, prints the table and the targets, and stops both servers whatever happens. When
# `taskset` is there, both servers share CPU 0 and the generator has CPU 1 to itself
# (BENCH_PIN=0 turns that off). Exits non-zero only when a benchmark cannot run.
#
# The ceiling: when nginx is installed (`.ci/install-tools` installs nginx-light), the
# script saves the sandbox's answer to GET /instruments/ins_xyz789 (with the demo token of
# its banner) and starts nginx (one process, on the servers' CPU, its own config in the
# temp dir) serving those bytes as application/json for the instrument path (200) and the
# place-order path (201). loadgen then adds nginx's columns and each sandbox figure as a
# fraction of nginx's at the same point (`sandbox/nginx`), after the existing columns.
# Without nginx the script says so and leaves those columns out.
#
# Environment:
#   SANDBOX_BIN=path   the sandbox binary to load (default: this checkout's release build)
#   LOADGEN_BIN=path   the load generator (default: this checkout's release build)
#   BENCH_BUILD=0      do not build first (the binaries must exist)
#   BENCH_PRISM=0      leave Prism out (its columns, the ratio and the ratio targets)
#   BENCH_NGINX=0      leave the nginx ceiling out; NGINX_BIN=path picks the nginx binary
#   BENCH_PIN=0        do not pin with taskset
set -euo pipefail
cd "$(dirname "$0")/.."

loadgen_args=()
while (($#)); do
    case "$1" in
        --quick) loadgen_args+=(--quick) ;;
        --) shift; loadgen_args+=("$@"); break ;;
        *) echo "usage: $0 [--quick] [-- loadgen flags]" >&2; exit 2 ;;
    esac
    shift
done

release=${CARGO_TARGET_DIR:-target}/release
sandbox_bin=${SANDBOX_BIN:-$release/sophic-sandbox}
loadgen_bin=${LOADGEN_BIN:-$release/loadgen}

prism=
if [[ ${BENCH_PRISM:-1} != 0 ]]; then
    prism=node_modules/.bin/prism
    if [[ ! -x $prism ]]; then
        echo "bench-load: $prism is missing: run 'npm install --no-audit --no-fund'" >&2
        exit 1
    fi
fi

nginx=
if [[ ${BENCH_NGINX:-1} != 0 ]]; then
    nginx=${NGINX_BIN:-$(command -v nginx || echo /usr/sbin/nginx)}
    if [[ ! -x $nginx ]]; then
        echo "bench-load: nginx is missing (.ci/install-tools installs nginx-light as root):" \
            "no ceiling columns" >&2
        nginx=
    fi
fi

if [[ ${BENCH_BUILD:-1} != 0 ]]; then
    echo "bench-load: building the sandbox and loadgen (release)" >&2
    cargo build --release --quiet -p sophic-bench -p sophic-sandbox --bins
fi
for bin in "$sandbox_bin" "$loadgen_bin"; do
    if [[ ! -x $bin ]]; then
        echo "bench-load: $bin is missing or not executable" >&2
        exit 1
    fi
done

server_cpu=() generator_cpu=()
if [[ ${BENCH_PIN:-1} == 1 ]] && command -v taskset >/dev/null && (($(nproc) >= 2)); then
    server_cpu=(taskset -c 0) generator_cpu=(taskset -c 1)
fi

work=$(mktemp -d)
pids=()
stop() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap stop EXIT
trap 'exit 130' INT TERM

source .ci/lib/ports.sh

# wait_for FILE PATTERN SECONDS PID: until FILE has a line matching PATTERN.
wait_for() {
    local deadline=$((SECONDS + $3))
    until grep -qE "$2" "$1"; do
        if ((SECONDS >= deadline)) || ! kill -0 "$4" 2>/dev/null; then
            echo "bench-load: $1 never said /$2/:" >&2
            tail -20 "$1" >&2
            return 1
        fi
        sleep 0.2
    done
}

: >"$work/sandbox.log"
"${server_cpu[@]}" "$sandbox_bin" --host 127.0.0.1 --port 0 --clock held \
    >"$work/sandbox.log" 2>&1 &
pids+=($!)
sandbox_pid=$!
wait_for "$work/sandbox.log" 'listening on http://127\.0\.0\.1:[0-9]+' 30 "$sandbox_pid"
sandbox_url=$(grep -oE 'http://127\.0\.0\.1:[0-9]+' "$work/sandbox.log" | head -1)
targets=(--sandbox "$sandbox_url")
servers="sandbox $sandbox_url ($sandbox_bin)"

if [[ -n $prism ]]; then
    prism_port=$(free_port)
    "${server_cpu[@]}" "$prism" mock openapi/orders.yaml --host 127.0.0.1 --port "$prism_port" \
        --verboseLevel error >"$work/prism.log" 2>&1 &
    pids+=($!)
    prism_url="http://127.0.0.1:$prism_port"
    deadline=$((SECONDS + 90))
    until curl -fsS -o /dev/null -H 'Authorization: Bearer x' "$prism_url/instruments/ins_xyz789" 2>/dev/null; do
        if ((SECONDS >= deadline)) || ! kill -0 "${pids[-1]}" 2>/dev/null; then
            echo "bench-load: Prism did not start:" >&2
            tail -20 "$work/prism.log" >&2
            exit 1
        fi
        sleep 0.5
    done
    targets+=(--prism "$prism_url")
    servers+=", Prism $prism_url"
fi

if [[ -n $nginx ]]; then
    # The very bytes the sandbox answers, fetched with its demo account's token.
    wait_for "$work/sandbox.log" '^demo token: +[^ ]+' 10 "$sandbox_pid"
    token=$(sed -nE 's/^demo token: +([^ ]+).*/\1/p' "$work/sandbox.log" | head -1)
    ceiling=$work/nginx
    mkdir -p "$ceiling/tmp"
    body=$ceiling/instrument.json
    curl -fsS --max-time 10 -H "Authorization: Bearer $token" -o "$body" \
        "$sandbox_url/instruments/ins_xyz789"
    nginx_port=$(free_port)
    # One process (no master: nothing switches to a user who cannot read the temp dir), no
    # access log, every path inside the temp dir. `sendfile off`: the answer is small, and
    # nginx then sends headers and body in one writev (with sendfile, two segments). A POST
    # to a static file is a 405 in nginx; on the order path that becomes a 201, same file.
    cat >"$ceiling/nginx.conf" <<NGINX
daemon off;
master_process off;
worker_processes 1;
error_log $ceiling/error.log warn;
pid $ceiling/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $ceiling/tmp/body;
    proxy_temp_path $ceiling/tmp/proxy;
    fastcgi_temp_path $ceiling/tmp/fastcgi;
    uwsgi_temp_path $ceiling/tmp/uwsgi;
    scgi_temp_path $ceiling/tmp/scgi;
    types { }
    default_type application/json;
    sendfile off;
    tcp_nodelay on;
    keepalive_requests 1000000000;
    keepalive_timeout 60s;
    open_file_cache max=16 inactive=60s;
    server {
        listen 127.0.0.1:$nginx_port;
        location = /instruments/ins_xyz789 {
            alias $body;
        }
        location ~ ^/accounts/[^/]+/orders\$ {
            alias $body;
            error_page 405 =201 /instruments/ins_xyz789;
        }
    }
}
NGINX
    "${server_cpu[@]}" "$nginx" -p "$ceiling/" -e "$ceiling/error.log" -c "$ceiling/nginx.conf" \
        >"$ceiling/stdout.log" 2>&1 &
    pids+=($!)
    nginx_url="http://127.0.0.1:$nginx_port"
    deadline=$((SECONDS + 10))
    until curl -fsS -o "$ceiling/check.json" "$nginx_url/instruments/ins_xyz789" 2>/dev/null &&
        cmp -s "$body" "$ceiling/check.json"; do
        if ((SECONDS >= deadline)) || ! kill -0 "${pids[-1]}" 2>/dev/null; then
            echo "bench-load: nginx did not start:" >&2
            tail -20 "$ceiling/error.log" "$ceiling/stdout.log" >&2 || true
            exit 1
        fi
        sleep 0.2
    done
    targets+=(--nginx "$nginx_url")
    servers+=", nginx $nginx_url ($(wc -c <"$body") bytes of the sandbox's answer)"
fi

echo "bench-load: $servers, pinned: ${server_cpu[*]:-no}" >&2
"${generator_cpu[@]}" "$loadgen_bin" "${targets[@]}" "${loadgen_args[@]}"
