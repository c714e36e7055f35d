#!/usr/bin/env bash
# Set up ClipStudio, put the sample calls in the library if it is empty, start the app.
# The library folder is ./library unless CLIPSTUDIO_LIBRARY says otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
if [ "$(.venv/bin/clipstudio calls --json)" = "[]" ]; then
  echo "Library is empty: transcribing the sample calls first (a minute or two)..."
  .venv/bin/clipstudio ingest sample_calls --manifest sample_calls/manifest.csv
fi
exec .venv/bin/streamlit run Home.py --browser.gatherUsageStats false "$@"
