#!/usr/bin/env bash
# Run every fuzz target for a bounded time (default 60 s each; FUZZ_SECONDS=N to change).
# cargo-fuzz needs nightly compiler features: RUSTC_BOOTSTRAP=1 unlocks them on stable.
# Crashes land in fuzz/artifacts/<target>/; turn each into a regression test.
set -euo pipefail
cd "$(dirname "$0")"
secs="${FUZZ_SECONDS:-60}"
export RUSTC_BOOTSTRAP=1
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
for target in command_parse translate_event mrkdwn_escape; do
  echo "== fuzz $target for ${secs}s"
  mkdir -p "corpus/$target" "seeds/$target"
  # New inputs go to corpus/ (not kept in git); seeds/ holds hand-written starting points.
  cargo fuzz run "$target" "corpus/$target" "seeds/$target" -- -max_total_time="$secs" -rss_limit_mb=2048 -max_len=65536
done
