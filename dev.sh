#!/usr/bin/env bash
# The README's two commands: `./dev.sh train [ARGS]` and `./dev.sh test [PYTEST ARGS]`; the other
# tools the same way without activating the venv: `./dev.sh evaluate|predict|export|data|... [ARGS]`.
# Each makes (or reuses) a venv with the pinned set-up (TensorFlow 1.15 on Python 3.6/3.7, 2.13 on 3.8,
# 2.15 on 3.9-3.11, 2.21 with tf-keras on 3.12+), then runs.
#   PY_VERSION=3.6             which Python to look for (default: 3.7): pythonX.Y on PATH, else pyenv's
#   PYTHON=/path/to/python     the interpreter for the venv, overriding PY_VERSION
#   VENV=DIR                   where the venv lives (default: .venv)
#   EXTRAS=tf,test,openvino    what `pip install .[EXTRAS]` adds (default: all three; openvino is the
#                              recommended runtime for predict/evaluate/bench, none on Python 3.6)
# `./dev.sh int8-venv` makes .venv-int8 (Python 3.12, OpenVINO and NNCF, no TensorFlow): the
# interpreter that `export --int8` quantizes in, since NNCF needs a newer numpy than TensorFlow 1.15.
set -euo pipefail
cd "$(dirname "$0")"
PY_VERSION=${PY_VERSION:-3.7}
VENV=${VENV:-.venv}
EXTRAS=${EXTRAS:-tf,test,openvino}

runs_version() {
    # A pyenv shim answers `command -v` but may not run: try the interpreter itself.
    "$1" -c "import sys; sys.exit(sys.version_info[:2] != tuple(map(int, '$PY_VERSION'.split('.'))))" \
        >/dev/null 2>&1
}

find_python() {
    if [ -n "${PYTHON:-}" ]; then echo "$PYTHON"; return; fi
    local candidate
    candidate=$(command -v "python$PY_VERSION" 2>/dev/null || true)
    if [ -n "$candidate" ] && runs_version "$candidate"; then echo "$candidate"; return; fi
    if command -v pyenv >/dev/null 2>&1; then
        local v
        v=$(pyenv versions --bare 2>/dev/null | grep -E "^${PY_VERSION//./\\.}(\\.[0-9]+)?\$" \
            | sort -V | tail -n 1 || true)
        candidate="$(pyenv root)/versions/$v/bin/python"
        if [ -n "$v" ] && runs_version "$candidate"; then echo "$candidate"; return; fi
    fi
    echo "dev.sh: no Python $PY_VERSION found; set PYTHON=/path/to/python" >&2
    exit 1
}

pip_install() {
    # This machine's pip config names local indexes that may be absent: drop pip's notes about them.
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check "$@" 2>&1 \
        | { grep -v 'is ignored: it is neither a file nor a directory' || true; }
    return "${PIPESTATUS[0]}"
}

setup_venv() {
    local python stamp want
    python=$(find_python)
    # Reinstall only when the interpreter, the extras or a file that decides the set-up changed.
    want=$( { "$python" --version 2>&1; echo "$EXTRAS"; cat setup.py requirements/constraints.txt; } | sha256sum | cut -d' ' -f1)
    stamp="$VENV/.fcn_tf1-setup"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$VENV/bin/python" ]; then return; fi
    echo "dev.sh: setting up $VENV with $("$python" --version 2>&1) (first run takes a minute or two)" >&2
    rm -rf "$VENV"
    "$python" -m venv "$VENV"
    # pip 21.3 is the newest that runs on 3.6; both know manylinux2010 wheels, the venv's own pip may not.
    pip_install "pip>=21.3,<24"
    pip_install -c requirements/constraints.txt -e ".[$EXTRAS]"
    echo "$want" > "$stamp"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
    train) setup_venv; exec "$VENV/bin/python" -m fcn_tf1.train "$@" ;;
    test) setup_venv; exec "$VENV/bin/python" -m pytest "$@" ;;
    evaluate|export|predict|weights|data|compare|bench)
        setup_venv; exec "$VENV/bin/python" -m "fcn_tf1.$cmd" "$@" ;;
    setup) setup_venv ;;
    int8-venv) PY_VERSION=${INT8_PY_VERSION:-3.12} VENV=.venv-int8 EXTRAS=int8 setup_venv
        echo "dev.sh: export --int8 quantizes with $PWD/.venv-int8/bin/python" >&2 ;;
    *) echo "usage: ./dev.sh train [ARGS] | test [PYTEST ARGS] | setup | int8-venv |" \
            "evaluate|export|predict|weights|data|compare|bench [ARGS]" >&2; exit 2 ;;
esac
