#!/bin/sh
# Runs a Python script with the first interpreter that has Pillow (Debian's
# python3-pil lives under /usr/bin/python3, which a pyenv shim may shadow).
# Exit 77 (ctest: skipped) when there is none.
for py in python3 /usr/bin/python3; do
  if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import PIL' >/dev/null 2>&1; then
    exec "$py" "$@"
  fi
done
echo "no python3 with Pillow (python3-pil): skipped"
exit 77
