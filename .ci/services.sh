# Shell functions that start, or install, the services the tests and benchmarks use.
# Sourced by .ci/run and by `make bench`.

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

wait_for() {  # wait_for NAME COMMAND...: up to 30 s for COMMAND to succeed
  local name=$1; shift
  for _ in $(seq 60); do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done
  echo "$name did not come up" >&2; return 1
}

ensure_postgres() {
  command -v pg_isready >/dev/null || apt_install postgresql
  if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
    as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start
    wait_for PostgreSQL pg_isready -h 127.0.0.1 -p 5432 -q
  fi
}

ensure_redis() {
  command -v redis-server >/dev/null || apt_install redis-server
  if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
    wait_for Redis redis-cli -h 127.0.0.1 -p 6379 ping
  fi
}

ensure_chromium() {
  [ -x /usr/bin/chromium ] || apt_install chromium
}

ensure_nginx() {  # the reverse proxy of docs/deploy.md, which tests/deploy brings up
  [ -x /usr/sbin/nginx ] || apt_install nginx-light
  command -v openssl >/dev/null || apt_install openssl
}

ensure_dovecot() {  # IMAP and POP3 for the bounce mailbox tests, which start their own instances
  [ -x /usr/sbin/dovecot ] || apt_install dovecot-imapd dovecot-pop3d
}

ensure_wrk() {  # the HTTP load generator of bench/signup.py
  command -v wrk >/dev/null || apt_install wrk
}
