#!/usr/bin/env bash
# make demo: start the sandbox, preview the example job, run it, report, undo it, stop the sandbox.
set -euo pipefail
cd "$(dirname "$0")/.."
BULKOPS=${BULKOPS:-.venv/bin/bulkops}
ready=$(mktemp -u /tmp/bulkops-demo-ready.XXXXXX)

"$BULKOPS" sandbox --port 8765 --campaigns 20 --seed-ids jobs/sandbox-seed-ids.txt \
  --rate 20/s --error-rate 503=0.05 --ready-file "$ready" &
sandbox=$!
trap 'kill "$sandbox" 2>/dev/null || true; wait "$sandbox" 2>/dev/null || true; rm -f "$ready"' EXIT
for _ in $(seq 100); do [ -s "$ready" ] && break; sleep 0.1; done
[ -s "$ready" ] || { echo "the sandbox did not start" >&2; exit 1; }

export KOREAI_CLIENT_SECRET=sandbox-secret-not-for-production  # the sandbox's throwaway secret
rm -f audit/example.jsonl audit/example.restore.jsonl  # a fresh sandbox: fresh logs too

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
step "bulkops validate jobs/example.yaml"
"$BULKOPS" validate jobs/example.yaml
step "bulkops list jobs/example.yaml   (which of the job's ids exist; deletes nothing)"
"$BULKOPS" list jobs/example.yaml
step "bulkops run jobs/example.yaml --dry-run   (preview: nothing is deleted)"
"$BULKOPS" run jobs/example.yaml --dry-run
step "bulkops run jobs/example.yaml --yes"
"$BULKOPS" run jobs/example.yaml --yes
step "bulkops report audit/example.jsonl"
"$BULKOPS" report audit/example.jsonl
step "bulkops restore jobs/example.yaml --dry-run   (the bodies it would send; nothing is sent)"
"$BULKOPS" restore jobs/example.yaml --dry-run
step "bulkops restore jobs/example.yaml --yes   (undo: what the run deleted, created again)"
"$BULKOPS" restore jobs/example.yaml --yes
step "bulkops report audit/example.jsonl   (the restore too)"
"$BULKOPS" report audit/example.jsonl | tail -3
