# Sourced by scripts/dev and scripts/test: makes a Debian machine (root, package
# registries only, no Docker) ready to build, run and test the project. Every step
# is skipped when already satisfied, so warm runs take seconds.
#
# Installs: Redis, PostgreSQL, Chromium, Node, nginx (apt, only if missing); the
# wasm32 target; cargo-leptos and wasm-bindgen-cli (cargo, pinned); Playwright and
# a registry-built wasm-opt (npm, into end2end/node_modules); schemathesis (pip,
# into target/contract-venv).

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CARGO_LEPTOS_VERSION="0.3.10"
export PATH="$HOME/.cargo/bin:$ROOT/end2end/node_modules/.bin:$PATH"
export DATABASE_ADMIN_URL="${DATABASE_ADMIN_URL:-postgres://postgres:postgres@127.0.0.1:5432/postgres}"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

APT_UPDATED=""
apt_install() {
    if [ -z "$APT_UPDATED" ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_redis() {
    if redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; then return; fi
    command -v redis-server >/dev/null || { say "installing Redis"; apt_install redis-server redis-tools; }
    say "starting Redis on 127.0.0.1:6379"
    mkdir -p /var/lib/redis /var/log/redis
    # Development and tests keep nothing on disk; production runs Redis with AOF.
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/flashsale.log
    for _ in $(seq 50); do redis-cli -h 127.0.0.1 ping 2>/dev/null | grep -q PONG && return; sleep 0.1; done
    echo "Redis did not start; see /var/log/redis/flashsale.log" >&2; exit 1
}

ensure_postgres() {
    if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then return; fi
    if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
        say "installing PostgreSQL"
        apt_install postgresql
    fi
    say "starting PostgreSQL on 127.0.0.1:5432"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n 1)" main start || true
    for _ in $(seq 100); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.1; done
    pg_isready -q -h 127.0.0.1 -p 5432 || { echo "PostgreSQL did not start" >&2; exit 1; }
    # A fresh Debian cluster asks TCP clients for a password: give `postgres` the
    # one our default URLs use (harmless where trust auth already lets us in).
    su postgres -c "psql -q -c \"alter user postgres password 'postgres'\"" >/dev/null
}

# create_database NAME: creates it unless it exists.
create_database() {
    local name="$1"
    if ! psql "$DATABASE_ADMIN_URL" -tAc "select 1 from pg_database where datname = '$name'" | grep -q 1; then
        psql "$DATABASE_ADMIN_URL" -q -c "create database \"$name\""
    fi
}

# recreate_database NAME: an empty database, whatever was there.
recreate_database() {
    psql "$DATABASE_ADMIN_URL" -q -c "drop database if exists \"$1\" with (force)"
    psql "$DATABASE_ADMIN_URL" -q -c "create database \"$1\""
}

ensure_rust_tools() {
    if ! rustup target list --installed | grep -q wasm32-unknown-unknown; then
        say "adding the wasm32-unknown-unknown target"
        rustup target add wasm32-unknown-unknown
    fi
    if [ "$(cargo leptos --version 2>/dev/null || true)" != "cargo-leptos $CARGO_LEPTOS_VERSION" ]; then
        say "installing cargo-leptos $CARGO_LEPTOS_VERSION (about 15 minutes on 2 cores)"
        CARGO_PROFILE_RELEASE_LTO=off CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
            cargo install cargo-leptos --locked --version "$CARGO_LEPTOS_VERSION"
    fi
    # wasm-bindgen-cli must be exactly the wasm-bindgen of Cargo.lock. Not --locked:
    # its lock file pins a yanked crate.
    local wb
    wb="$(grep -A1 '^name = "wasm-bindgen"$' "$ROOT/Cargo.lock" | sed -n 's/^version = "\(.*\)"/\1/p')"
    if [ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $wb" ]; then
        say "installing wasm-bindgen-cli $wb"
        cargo install wasm-bindgen-cli --version "$wb"
    fi
}

ensure_node_tools() {
    if ! command -v npm >/dev/null; then say "installing Node.js"; apt_install nodejs npm; fi
    if [ ! -x /usr/bin/chromium ]; then say "installing Chromium"; apt_install chromium; fi
    command -v brotli >/dev/null || { say "installing brotli"; apt_install brotli; }
    local stamp="$ROOT/end2end/node_modules/.installed-lock"
    if [ ! -f "$stamp" ] || ! cmp -s "$ROOT/end2end/package-lock.json" "$stamp"; then
        say "installing Playwright and wasm-opt (npm)"
        (cd "$ROOT/end2end" && npm ci --no-audit --no-fund --loglevel=error)
        cp "$ROOT/end2end/package-lock.json" "$stamp"
    fi
    # Debian's binaryen (wasm-opt 108) silently breaks the optimised WASM; ours must win.
    case "$(wasm-opt --version)" in
        *132*) ;;
        *) echo "wrong wasm-opt on PATH: $(command -v wasm-opt)" >&2; exit 1 ;;
    esac
}

# nginx: the load balancer of scripts/cluster and the cluster drill (installed,
# never started as a system service).
ensure_nginx() {
    [ -x /usr/sbin/nginx ] && return
    say "installing nginx"
    apt_install nginx
    # Debian's package starts its own nginx on port 80; ours run on their own ports.
    /usr/sbin/nginx -s stop 2>/dev/null || true
}

# wrk, for the request rates `scripts/bench wrk` measures (not needed by the tests).
ensure_wrk() {
    [ -x /usr/bin/wrk ] && return
    say "installing wrk"
    apt_install wrk
}

# schemathesis, the contract fuzzer (PyPI, pinned), in a virtualenv of its own.
SCHEMATHESIS_VERSION="4.32.5"
ensure_python_tools() {
    local venv="$ROOT/target/contract-venv"
    if [ -x "$venv/bin/st" ] && "$venv/bin/st" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
        return
    fi
    python3 -m venv --help >/dev/null 2>&1 && python3 -c 'import ensurepip' 2>/dev/null \
        || { say "installing python3-venv"; apt_install python3-venv; }
    say "installing schemathesis $SCHEMATHESIS_VERSION (pip, into target/contract-venv)"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
}

# The release build (server and WASM, the hashed assets precompressed with
# brotli and gzip beside them), skipped when nothing it is made from changed
# since the last one: cargo leptos reruns wasm-bindgen and wasm-opt (about
# 100 s) even then. The stamp is taken before building, so an edit made during
# the build makes the next call build again.
release_build() {
    local stamp="$ROOT/target/release-build.stamp"
    if [ -f "$stamp" ] && [ -x "$ROOT/target/release/server" ] && [ -z "$(find \
        "$ROOT/Cargo.toml" "$ROOT/Cargo.lock" "$ROOT/app" "$ROOT/server" "$ROOT/frontend" \
        "$ROOT/style" "$ROOT/public" "$ROOT/migrations" -newer "$stamp" -print -quit)" ]; then
        say "the release build is up to date: nothing changed since $(date -r "$stamp" '+%F %T')"
        return
    fi
    mkdir -p "$ROOT/target"
    touch "$stamp.next"
    (cd "$ROOT" && cargo leptos build --release --split --precompress)
    mv "$stamp.next" "$stamp"
}

setup_all() {
    ensure_redis
    ensure_postgres
    ensure_rust_tools
    ensure_node_tools
    ensure_nginx
    ensure_python_tools
}
