#!/usr/bin/env bash
# Creates the Python venv for the Bolt-for-Python peer (benches/peer/bolt_peer.py) from PyPI.
# The venv lives under target/ (ignored by git, removed by `cargo clean`).
# Usage: benches/peer/setup.sh            -> prints the venv's python path on the last line
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="${BOLT_PEER_VENV:-$root/target/bolt-peer-venv}"
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r "$root/benches/peer/requirements.txt"
"$venv/bin/python" -c 'import slack_bolt, slack_sdk; print("slack-bolt", slack_bolt.version.__version__, "slack-sdk", slack_sdk.version.__version__)' >&2
echo "$venv/bin/python"
