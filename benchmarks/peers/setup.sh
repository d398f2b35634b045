#!/usr/bin/env bash
# Create benchmarks/.peers-venv (Python 3.11) with the exact pins of benchmarks/peers/requirements.txt:
# evidently and nannyml, which cannot live in the project venv (pandas 3). Idempotent: the install
# is skipped when the venv exists and the pins file has the hash recorded in the stamp file.
#
# Usage: bash benchmarks/peers/setup.sh            (from anywhere)
#        PEERS_PYTHON=/path/to/python3.11 bash benchmarks/peers/setup.sh
#        bash benchmarks/peers/setup.sh --force   (reinstall even when the pins did not change)
#        bash benchmarks/peers/setup.sh serving   (the serving peers instead: MLServer with its
#                                                  scikit-learn runtime, in benchmarks/.serving-venv,
#                                                  pinned by serving-requirements.txt)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BENCH_DIR="$(dirname "$HERE")"
ROOT="$(dirname "$BENCH_DIR")"
FORCE=0
SET=drift
for arg in "$@"; do
    case "$arg" in
        --force) FORCE=1 ;;
        serving) SET=serving ;;
        *) echo "setup.sh: unknown argument $arg (expected --force or serving)" >&2; exit 2 ;;
    esac
done
if [[ "$SET" == serving ]]; then
    VENV="$BENCH_DIR/.serving-venv"
    PINS="$HERE/serving-requirements.txt"
    CHECK='import mlserver, mlserver_sklearn, sklearn; print("setup.sh: mlserver", mlserver.__version__, "scikit-learn", sklearn.__version__)'
else
    VENV="$BENCH_DIR/.peers-venv"
    PINS="$HERE/requirements.txt"
    CHECK='import evidently, nannyml, pandas; print("setup.sh: evidently", evidently.__version__, "nannyml", nannyml.__version__, "pandas", pandas.__version__)'
fi
STAMP="$VENV/.pins.sha256"

PYTHON="${PEERS_PYTHON:-$(command -v python3.11 || true)}"

if [[ ! -x "$VENV/bin/python" ]]; then
    if [[ -z "$PYTHON" ]]; then
        echo "setup.sh: python3.11 not found; set PEERS_PYTHON=/path/to/python3.11" >&2
        exit 1
    fi
    "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else
        f"setup.sh: Python 3.11 is required, {sys.executable} is {sys.version.split()[0]}")'
    echo "setup.sh: creating $VENV with $PYTHON"
    "$PYTHON" -m venv "$VENV"
fi

WANT="$(sha256sum "$PINS" | cut -d' ' -f1)"
if [[ "$FORCE" == 0 && -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" ]]; then
    exit 0
fi

echo "setup.sh: installing the peer libraries into $VENV (first run takes a minute or two)"
rm -f "$STAMP"
UV="$(command -v uv || true)"
[[ -z "$UV" && -x "$ROOT/.venv/bin/uv" ]] && UV="$ROOT/.venv/bin/uv"
if [[ -n "$UV" ]]; then
    "$UV" pip install --python "$VENV/bin/python" --quiet --compile-bytecode -r "$PINS"
else
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$PINS"
fi

# Fail here, not in the middle of a benchmark, if the set does not import.
DO_NOT_TRACK=1 NML_DISABLE_USAGE_LOGGING=1 "$VENV/bin/python" -c "$CHECK"
echo "$WANT" > "$STAMP"
