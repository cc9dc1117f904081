#!/usr/bin/env bash
# Start PostgreSQL and NATS (JetStream) when they are installed but not running.
# Tests that need a service fail, never skip, on CI (CI=true) when it is absent.
set -uo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if ! port_open 5432 && command -v pg_ctlcluster >/dev/null 2>&1; then
  for version in $(ls /etc/postgresql 2>/dev/null); do
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  done
fi
if ! port_open 4222 && [ -x /usr/sbin/nats-server ]; then
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
    -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log || true
fi
for _ in $(seq 1 30); do
  if port_open 5432 && port_open 4222; then break; fi
  sleep 1
done
port_open 5432 && echo "services: PostgreSQL up on 5432" || echo "services: PostgreSQL NOT running"
port_open 4222 && echo "services: NATS up on 4222" || echo "services: NATS NOT running"
exit 0
