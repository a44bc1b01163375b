#!/usr/bin/env bash
# Runs jobs/nightly-cleanup.yaml as the scheduled recipes do, but against the sandbox:
# the same command line, with the target and the file paths pointed at a temp dir.
# Prints the summary JSON and the Prometheus metrics it leaves behind.
set -euo pipefail
cd "$(dirname "$0")/.."
BULKOPS=${BULKOPS:-$PWD/.venv/bin/bulkops}
work=$(mktemp -d /tmp/bulkops-nightly.XXXXXX)
app=st-0603182c-7ffb-53c3-b307-47ca14b9xxxx
account=67777ce93e25326494e9xxxx

"$BULKOPS" sandbox --port 0 --campaigns 400 --seed 11 --app-id "$app" --account-id "$account" \
  --quiet --ready-file "$work/ready.json" &
sandbox=$!
trap 'kill "$sandbox" 2>/dev/null || true; wait "$sandbox" 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$work/ready.json" ] && break; sleep 0.1; done
url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["url"])' "$work/ready.json")

sed -e "s|https://platform.kore.ai|$url|" -e "s|/var/lib/bulkops/audit|$work/audit|" \
  jobs/nightly-cleanup.yaml > "$work/nightly-cleanup.yaml"
export KOREAI_CLIENT_ID=cs-sandbox-demo KOREAI_CLIENT_SECRET=sandbox-secret-not-for-production
set +e
"$BULKOPS" run "$work/nightly-cleanup.yaml" --yes --log-format json \
  --summary-json "$work/nightly-cleanup.summary.json" --metrics-file "$work/bulkops_nightly_cleanup.prom" \
  2> "$work/stderr.jsonl" < /dev/null
code=$?
set -e
echo "exit code $code; stderr (JSON lines) in $work/stderr.jsonl: $(wc -l < "$work/stderr.jsonl") lines"
echo "== $work/nightly-cleanup.summary.json"; cat "$work/nightly-cleanup.summary.json"
echo "== $work/bulkops_nightly_cleanup.prom"; cat "$work/bulkops_nightly_cleanup.prom"
