#!/usr/bin/env bash
# Starts the example echo server on a loopback port chosen by the kernel, checks that
# it accepts TCP connections there, and that SIGTERM shuts it down cleanly.
set -euo pipefail

server="$TEST_SRCDIR/$TEST_WORKSPACE/examples/echo_server"
out="$TEST_TMPDIR/server.out"
"$server" --address=127.0.0.1:0 --pod_name=example-0 >"$out" 2>&1 &
pid=$!
trap 'kill -9 $pid 2>/dev/null || true' EXIT

port=""
for _ in $(seq 1 300); do
  port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$out")
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { echo "server did not report its port:"; cat "$out"; exit 1; }
grep -q "pod example-0" "$out"

# A TCP connection to the reported port succeeds.
exec 3<>"/dev/tcp/127.0.0.1/$port"
exec 3>&-

kill -TERM "$pid"
for _ in $(seq 1 300); do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$pid" 2>/dev/null; then echo "server ignored SIGTERM"; exit 1; fi
wait "$pid" && rc=0 || rc=$?
[ "$rc" -eq 0 ] || { echo "server exited $rc"; cat "$out"; exit 1; }
echo "PASS: echo_server listened on 127.0.0.1:$port and stopped on SIGTERM"
