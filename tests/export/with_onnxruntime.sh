#!/bin/sh
# Runs tests/export/onnx_run.py with the test Python: $NS_TEST_PYTHON, else
# the first argument (the build's NS_TEST_PYTHON, by default the .venv that
# `tools/setup.sh test` creates with onnxruntime). Exit 77 (ctest: skipped)
# when that Python is missing or cannot import onnxruntime.
default=$1
shift
py=${NS_TEST_PYTHON:-$default}
if [ ! -x "$py" ] || ! "$py" -c 'import onnxruntime' >/dev/null 2>&1; then
  echo "no Python with onnxruntime at '$py' (bash tools/setup.sh test creates .venv with it): skipped" >&2
  exit 77
fi
exec "$py" "$@"
