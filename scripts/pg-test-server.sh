#!/usr/bin/env bash
# A throw-away PostgreSQL server for the tests, on 127.0.0.1 only, with its
# data and socket in DIR (Debian's postgresql package; initdb refuses root,
# so as root it runs as the package's `postgres` user).
#
#   pg-test-server.sh start DIR   initdb once, start; prints the server's URL
#   pg-test-server.sh stop DIR    fast shutdown (the data stays for a start)
#
# The server trusts local connections and runs with fsync off: test data only.
set -euo pipefail
cmd="${1:?usage: pg-test-server.sh start|stop DIR}"
dir="${2:?usage: pg-test-server.sh start|stop DIR}"
pgbin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
if [[ -z "$pgbin" || ! -x "$pgbin/initdb" ]]; then
  echo "pg-test-server: PostgreSQL server binaries not found (apt install postgresql)" >&2
  exit 1
fi
as_pg=()
if [[ "$(id -u)" == 0 ]]; then as_pg=(runuser -u postgres --); fi

case "$cmd" in
  start)
    mkdir -p "$dir"
    if [[ "$(id -u)" == 0 ]]; then chown postgres "$dir"; fi
    if [[ ! -f "$dir/data/PG_VERSION" ]]; then
      "${as_pg[@]}" "$pgbin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 \
        --no-locale >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    if [[ ! -f "$dir/port" ]]; then
      /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' >"$dir/port"
    fi
    port="$(cat "$dir/port")"
    "${as_pg[@]}" "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" \
      start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    echo "postgresql://postgres@127.0.0.1:$port/postgres"
    ;;
  stop)
    if [[ -f "$dir/data/postmaster.pid" ]]; then
      "${as_pg[@]}" "$pgbin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    fi
    ;;
  *)
    echo "usage: pg-test-server.sh start|stop DIR" >&2
    exit 2
    ;;
esac
