#!/usr/bin/env bash
# compare.sh runs the Express peer and keyportal's ticket route (Wacht mode)
# against the same stub-wacht, one after the other with the same wrk command,
# ROUNDS times, and prints requests/s, p99 and the ratios of each round.
#
#   internal/benchserver/compare.sh            # from the repository root
#   ROUNDS=5 PEERS=/work/shared/peers internal/benchserver/compare.sh
#
# Needs go, node/npm and wrk. The read-only peer directories are copied to a
# scratch directory first (npm ci and go build write into them).
set -euo pipefail

PEERS=${PEERS:-/work/shared/peers}
ROUNDS=${ROUNDS:-3}
WORK=${WORK:-$(mktemp -d /tmp/keyportal-compare.XXXXXX)}
STUB_ADDR=${STUB_ADDR:-127.0.0.1:7710}
EXPRESS_PORT=${EXPRESS_PORT:-3010}
KP_ADDR=127.0.0.1:3001 # post.lua's Origin names this origin
WRK="wrk -t2 -c32 -d8s --latency"
ROUTE=/api/settings/api-keys/embed-ticket
REPO=$(cd "$(dirname "$0")/../.." && pwd)

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

cp -r "$PEERS/express-seed" "$PEERS/stub-wacht" "$PEERS/post.lua" "$WORK/"
chmod -R u+w "$WORK"
(cd "$WORK/stub-wacht" && go build -o stub-wacht .)
(cd "$WORK/express-seed" && npm ci --silent >/dev/null)
(cd "$REPO" && go build -o "$WORK/benchserver" ./internal/benchserver)

"$WORK/stub-wacht/stub-wacht" -addr "$STUB_ADDR" >"$WORK/stub.log" 2>&1 &
pids+=($!)
(cd "$WORK/express-seed" && PORT=$EXPRESS_PORT WACHT_BASE_URL=http://$STUB_ADDR exec node server.mjs) >"$WORK/express.log" 2>&1 &
pids+=($!)
"$WORK/benchserver" -addr "$KP_ADDR" -wacht "http://$STUB_ADDR" -log "$WORK/benchserver-audit.log" >"$WORK/benchserver.log" 2>&1 &
pids+=($!)
sleep 3

# Warm both up (JIT, connection pools) before measuring.
wrk -t1 -c4 -d2s -s "$WORK/post.lua" "http://127.0.0.1:$EXPRESS_PORT$ROUTE" >/dev/null
wrk -t1 -c4 -d2s -s "$REPO/internal/benchserver/post.lua" "http://$KP_ADDR$ROUTE" >/dev/null

summary() { awk '/Requests\/sec/{r=$2} $1=="99%"{p=$2} /Non-2xx/{bad=$NF} END{print r, p, (bad==""?0:bad)}'; }
ms() { awk -v v="$1" 'BEGIN{ if (v ~ /us$/) print v/1000; else if (v ~ /ms$/) print v+0; else if (v ~ /s$/) print v*1000; else print v }'; }

for i in $(seq "$ROUNDS"); do
	read -r er ep ebad < <($WRK -s "$WORK/post.lua" "http://127.0.0.1:$EXPRESS_PORT$ROUTE" | summary)
	read -r kr kp kbad < <($WRK -s "$REPO/internal/benchserver/post.lua" "http://$KP_ADDR$ROUTE" | summary)
	epm=$(ms "$ep"); kpm=$(ms "$kp")
	awk -v i="$i" -v er="$er" -v ep="$epm" -v kr="$kr" -v kp="$kpm" -v eb="$ebad" -v kb="$kbad" -v la="$(cut -d' ' -f1 /proc/loadavg)" 'BEGIN{
		printf "round %d (load %s): express %.0f req/s p99 %.1f ms (non-2xx %s) | keyportal %.0f req/s p99 %.1f ms (non-2xx %s) | req/s x%.1f, p99 ratio %.3f\n",
			i, la, er, ep, eb, kr, kp, kb, kr/er, kp/ep }'
done
echo "logs and binaries in $WORK"
