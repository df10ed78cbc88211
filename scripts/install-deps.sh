#!/usr/bin/env bash
# Installs the Debian packages the real-server test fixture needs (Dovecot with
# every protocol daemon, its Lua passdb and lua-cjson for the Dovecot proxy,
# HAProxy, nginx with the mail module, Redis, OpenSSL, aiosmtpd, MariaDB), Chromium for
# the status page's headless browser test, and what scripts/test-deploy checks
# the Debian package and deploy/ with: systemd-analyze (systemd), promtool
# (prometheus), groff (the man page).
# Idempotent: when every binary is already present, apt is not
# touched at all, so re-runs take milliseconds.
#
# The stock daemons must not start on their public ports (25, 143, 80, ...):
# the fixture runs its own instances on loopback high ports. We therefore put a
# policy-rc.d that exits 101 in place while apt runs, and stop anything that
# started anyway.
set -euo pipefail

PACKAGES=(
  dovecot-core dovecot-imapd dovecot-pop3d dovecot-lmtpd
  dovecot-managesieved dovecot-submissiond
  dovecot-auth-lua lua-cjson
  haproxy
  nginx libnginx-mod-mail
  redis-server redis-tools
  openssl
  python3-aiosmtpd
  mariadb-server
  chromium fonts-liberation
  systemd prometheus groff-base
)

# One file per package (or group) whose presence proves it is installed.
REQUIRED_FILES=(
  /usr/sbin/dovecot
  /usr/bin/doveadm
  /usr/lib/dovecot/imap
  /usr/lib/dovecot/pop3
  /usr/lib/dovecot/lmtp
  /usr/lib/dovecot/managesieve
  /usr/lib/dovecot/submission
  /usr/lib/dovecot/modules/auth/libauthdb_lua.so
  /usr/share/lua/5.4/cjson/util.lua
  /usr/sbin/haproxy
  /usr/sbin/nginx
  /usr/lib/nginx/modules/ngx_mail_module.so
  /usr/bin/redis-server
  /usr/bin/redis-cli
  /usr/bin/openssl
  /usr/lib/python3/dist-packages/aiosmtpd/__init__.py
  /usr/sbin/mariadbd
  /usr/bin/mariadb-install-db
  /usr/bin/mariadb
  /usr/bin/chromium
  /usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf
  /usr/bin/systemd-analyze
  /usr/bin/promtool
  /usr/bin/groff
)

missing=()
for f in "${REQUIRED_FILES[@]}"; do
  [[ -e "$f" ]] || missing+=("$f")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all fixture binaries present, skipping apt"
  exit 0
fi
echo "install-deps: missing ${missing[*]}"

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: must run as root to apt-get install ${PACKAGES[*]}" >&2
  exit 1
fi

# Keep the stock init scripts from starting daemons during install. Only remove
# the file afterwards if we were the ones who created it (Docker images ship one).
POLICY=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e "$POLICY" ]]; then
  printf '#!/bin/sh\n# temporary, from backline scripts/install-deps.sh\nexit 101\n' >"$POLICY"
  chmod 755 "$POLICY"
  created_policy=1
fi
cleanup() {
  if [[ $created_policy -eq 1 ]]; then rm -f "$POLICY"; fi
}
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
start=$SECONDS
# Bounded: apt waits at most 120 s for a dpkg lock held by someone else.
apt_opts=(-qq -o DPkg::Lock::Timeout=120 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
apt-get "${apt_opts[@]}" update >/dev/null
apt-get "${apt_opts[@]}" install -y --no-install-recommends "${PACKAGES[@]}" >/dev/null
echo "install-deps: apt install took $((SECONDS - start)) s"

# Belt and braces: if a stock daemon started despite policy-rc.d, stop it so it
# doesn't hold public ports. Identify it by its stock pid file, never by name:
# a running test fixture uses the same binaries.
declare -A STOCK_PIDFILES=(
  [dovecot]=/run/dovecot/master.pid
  [haproxy]=/run/haproxy.pid
  [nginx]=/run/nginx.pid
  [redis-server]=/run/redis/redis-server.pid
  [prometheus]=/run/prometheus/prometheus.pid
  [mariadb]=/run/mysqld/mysqld.pid
)
for svc in "${!STOCK_PIDFILES[@]}"; do
  pidfile=${STOCK_PIDFILES[$svc]}
  if [[ -s $pidfile ]] && kill -0 "$(tr -dc 0-9 <"$pidfile")" 2>/dev/null; then
    echo "install-deps: stopping stock $svc started by its package"
    service "$svc" stop >/dev/null 2>&1 || kill -TERM "$(tr -dc 0-9 <"$pidfile")" 2>/dev/null || true
  fi
done

for f in "${REQUIRED_FILES[@]}"; do
  if [[ ! -e "$f" ]]; then
    echo "install-deps: still missing after install: $f" >&2
    exit 1
  fi
done
echo "install-deps: done"
