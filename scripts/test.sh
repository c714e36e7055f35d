#!/usr/bin/env bash
# Set up everything the tests need (apt's Chromium included) and run the whole suite:
# lint, then pytest with the real model, real ffmpeg, real SQLite and a real browser.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh --test
.venv/bin/ruff check .
.venv/bin/python -m pytest "$@"
