#!/bin/sh
# Runs a Python script with the first interpreter that has PyTorch (Debian's
# python3-torch lives under /usr/bin/python3, which a pyenv shim may shadow).
# Exit 77 (ctest: skipped) when there is none.
for py in python3 /usr/bin/python3; do
  if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import torch' >/dev/null 2>&1; then
    exec "$py" "$@"
  fi
done
echo "no python3 with PyTorch (python3-torch): skipped" >&2
exit 77
