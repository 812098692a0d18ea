# Shared by bin/run and bin/test. Sourced, not executed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf '\033[31mERROR: %s\033[0m\n' "$*" >&2; exit 1; }

# Django 6.1 needs Python 3.12 or newer. Look on PATH first, then in pyenv.
find_python() {
  local candidate version
  for candidate in "${PYTHON:-}" python3.13 python3.12 python3 \
      /root/.pyenv/versions/3.13*/bin/python /root/.pyenv/versions/3.12*/bin/python \
      "$HOME"/.pyenv/versions/3.13*/bin/python "$HOME"/.pyenv/versions/3.12*/bin/python \
      /usr/local/bin/python3.13 /usr/local/bin/python3.12 /usr/bin/python3.13 /usr/bin/python3.12; do
    [ -n "$candidate" ] || continue
    command -v "$candidate" >/dev/null 2>&1 || [ -x "$candidate" ] || continue
    version=$(PYENV_VERSION=system "$candidate" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null \
      || "$candidate" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null) || continue
    case "$version" in 3.1[2-9]|3.[2-9][0-9]) echo "$candidate"; return 0 ;; esac
  done
  return 1
}

# Create .venv and install the pinned requirements; reinstall only when a pin file changes.
ensure_venv() {
  local requirements="$1" python stamp
  if [ ! -x "$VENV/bin/python" ]; then
    python=$(find_python) || die "Sendwatch needs Python 3.12 or newer and none was found.
Install one (e.g. 'pyenv install 3.13.0' or your OS package python3.13) or point PYTHON=/path/to/python3.13 at it."
    say "Creating virtualenv .venv with $python ($("$python" --version 2>&1))"
    "$python" -m venv "$VENV"
  fi
  stamp="$VENV/.installed-$(cat requirements.txt "$requirements" | sha256sum | cut -c1-16)"
  if [ ! -f "$stamp" ]; then
    say "Installing $requirements into .venv"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
    rm -f "$VENV"/.installed-*
    touch "$stamp"
  fi
}

pg_up() { "$VENV/bin/python" - <<'PY' 2>/dev/null
import psycopg
psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3").close()
PY
}
redis_up() { "$VENV/bin/python" -c 'import redis; redis.Redis(host="127.0.0.1", port=6379, socket_timeout=3).ping()' 2>/dev/null; }

# Create the PostgreSQL database named $1 on 127.0.0.1 when it does not exist yet.
ensure_database() {
  "$VENV/bin/python" - "$1" <<'PY'
import sys
import psycopg

name = sys.argv[1]
with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True) as conn:
    if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
        conn.execute(f'CREATE DATABASE "{name}"')
        print(f"Created database {name}")
PY
}

# PostgreSQL and Redis on 127.0.0.1: start them when they are installed but down.
ensure_services() {
  if ! pg_up && [ -d /etc/postgresql ] && command -v pg_ctlcluster >/dev/null 2>&1; then
    say "Starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
    for _ in 1 2 3 4 5 6 7 8 9 10; do pg_up && break; sleep 1; done
  fi
  if ! redis_up && command -v redis-server >/dev/null 2>&1; then
    say "Starting Redis"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no || true
    for _ in 1 2 3 4 5; do redis_up && break; sleep 1; done
  fi
}

# Browser tests drive Debian's chromium (never a downloaded browser build).
ensure_chromium() {
  [ -x /usr/bin/chromium ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "Installing Debian's chromium for the browser tests"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
  [ -x /usr/bin/chromium ]
}
