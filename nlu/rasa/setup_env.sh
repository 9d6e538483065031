#!/usr/bin/env bash
# Create nlu/rasa/.venv (Python 3.10) with Rasa Open Source 3.6.21 and jieba (~2 min, 2.7 GB).
# Idempotent: does nothing when the venv was built from the current requirements/constraints.
# Rasa needs Python <= 3.10 and pins aiogram 2 / pydantic 1, hence its own environment.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
VENV="$HERE/.venv"
REQ="$HERE/requirements.txt"
CON="$HERE/constraints.txt"
STAMP="$VENV/.wanqi-requirements.sha256"
want="$(cat "$REQ" "$CON" | sha256sum | cut -d' ' -f1)"

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && [ -x "$VENV/bin/rasa" ]; then
  echo "rasa env: already set up in $VENV ($("$VENV/bin/python" -c 'import rasa; print("rasa", rasa.__version__)'))"
  exit 0
fi

find_python310() {
  local p
  if [ -n "${WANQI_RASA_PYTHON:-}" ]; then echo "$WANQI_RASA_PYTHON"; return 0; fi
  if command -v pyenv >/dev/null 2>&1; then
    for p in "$(pyenv root)"/versions/3.10.*/bin/python3.10; do
      [ -x "$p" ] && { echo "$p"; return 0; }
    done
  fi
  for p in python3.10 /usr/bin/python3.10 /usr/local/bin/python3.10; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then
      command -v "$p"; return 0
    fi
  done
  return 1
}

PY="$(find_python310)" || { echo "rasa env: Python 3.10 not found (pyenv install 3.10, or set WANQI_RASA_PYTHON)" >&2; exit 1; }
echo "rasa env: creating $VENV with $PY ($("$PY" --version))"
start=$(date +%s)
rm -rf "$VENV"
"$PY" -m venv "$VENV"
export RASA_TELEMETRY_ENABLED=false SQLALCHEMY_SILENCE_UBER_WARNING=1
quiet_pip() {  # pip, minus the noise about absent local mirror directories
  "$VENV/bin/pip" "$@" 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }
}
quiet_pip install -q --upgrade pip
quiet_pip install -q -r "$REQ" -c "$CON"
"$VENV/bin/rasa" --version 2>/dev/null
echo "$want" > "$STAMP"
echo "rasa env: ready in $(( $(date +%s) - start )) s ($(du -sh "$VENV" | cut -f1))"
