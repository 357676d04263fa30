#!/usr/bin/env bash
# Sets up the machine, builds kiln (library, C++ tests, examples, Python module) and runs every
# test: GoogleTest through ctest, then pytest. Finally checks that `pip install .` works and that
# the installed package runs the main example.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
bash scripts/setup.sh

export CCACHE_BASEDIR="$PWD"  # cache hits across clones of the repository
BUILD=build/test
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPython_EXECUTABLE="$(command -v "$PYTHON")" >/dev/null
cmake --build "$BUILD" -j2

echo "== C++ tests"
ctest --test-dir "$BUILD" --output-on-failure -j2

echo "== C++ examples"
"$BUILD"/readme_example
"$BUILD"/logistic_regression

echo "== Python tests"
PYTHONPATH="$PWD/python" "$PYTHON" -m pytest -q -p no:cacheprovider tests/python

echo "== Python tests again in DebugMode (every node's contract, every result against the unrewritten graph)"
KILN_FLAGS="mode=DebugMode" PYTHONPATH="$PWD/python" "$PYTHON" -m pytest -q -p no:cacheprovider tests/python

echo "== C++ tests under AddressSanitizer, UndefinedBehaviorSanitizer and LeakSanitizer"
bash scripts/sanitize.sh

echo "== Packaging: pip install . and run the example from the installed package"
"$PYTHON" -m pip install -q --disable-pip-version-check --no-build-isolation .
(cd /tmp && "$PYTHON" "$OLDPWD/examples/readme_example.py")
