#!/usr/bin/env bash
# A throwaway PostgreSQL server for the test suite (PostgresStore's cases).
#
#   bash .ci/postgres.sh start DIR   # prints `export KEFU_TEST_POSTGRES_DSN=...`
#   bash .ci/postgres.sh stop DIR    # stops the server and deletes DIR
#
# start installs the server from Debian's packages if it is missing, makes a
# new cluster in DIR (created if needed), starts it listening on 127.0.0.1
# only, on a free port, with its Unix socket inside DIR, and creates the role
# and database the tests use. The cluster is disposable: fsync is off. As
# root (CI), the server runs as the `postgres` user: its binaries refuse root.
set -euo pipefail

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
action=$1
dir=$2

as_pg() {
    if [ "$(id -u)" -eq 0 ]; then
        # from /: the postgres user may not enter the caller's directory
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

find_bin() {
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -n "$d" ] && [ -x "$d/initdb" ]; then
        echo "$d"
    fi
}

case "$action" in
start)
    bin=$(find_bin)
    export DEBIAN_FRONTEND=noninteractive
    if [ -z "$bin" ]; then
        echo "== installing PostgreSQL from Debian's packages" >&2
        apt-get update -qq >&2
        apt-get install -y -qq postgresql >&2
        bin=$(find_bin)
        [ -n "$bin" ] || { echo "PostgreSQL is still missing after apt-get" >&2; exit 1; }
    else
        # Installed already: make sure the package (and its dependencies) is whole.
        apt-get install -y -qq postgresql >&2 \
            || echo "(apt-get could not check the installed PostgreSQL; using $bin)" >&2
    fi
    mkdir -p "$dir"
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres: "$dir"
    fi
    as_pg "$bin/initdb" -D "$dir/data" -U postgres --auth-local=trust \
        --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    port=""
    for _ in 1 2 3; do
        port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        if as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
                -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c full_page_writes=off -c synchronous_commit=off" \
                start >&2; then
            break
        fi
        port=""
    done
    [ -n "$port" ] || { echo "PostgreSQL did not start:" >&2; cat "$dir/server.log" >&2; exit 1; }
    as_pg "$bin/psql" -h "$dir" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -q \
        -c "CREATE ROLE kefu LOGIN PASSWORD 'kefu'" \
        -c "CREATE DATABASE kefu_test OWNER kefu" >&2
    echo "export KEFU_TEST_POSTGRES_DSN=postgresql://kefu:kefu@127.0.0.1:$port/kefu_test"
    echo "== PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port ($dir)" >&2
    ;;
stop)
    bin=$(find_bin)
    if [ -n "$bin" ] && [ -f "$dir/data/postmaster.pid" ]; then
        as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >&2 || true
    fi
    rm -rf "$dir"
    ;;
*)
    usage
    ;;
esac
