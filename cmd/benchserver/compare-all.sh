#!/usr/bin/env bash
# Side-by-side HTTP comparison: express-seed (guide's Express endpoint, Wacht SDK -> stub-wacht),
# keyportal's ticket route in Wacht mode (cmd/benchserver -> same stub), in local mode
# (cmd/benchserver-portal, local issuer), a bare gin handler (benchserver-portal /bare), and
# two floors of Wacht mode: Gin handlers that only forward to the stub, through keyportal's Wacht
# client (benchserver -handler forward) or a bare net/http client (-handler forward-nethttp).
# Each round runs the same wrk against each, one after the other; reports req/s, p99 and the
# server's CPU time per request (utime+stime of its process from /proc, excluding the stub).
#
#   PEERS=<the peers' directory> [ROUNDS=5] [WORK=<scratch dir>] bash cmd/benchserver/compare-all.sh
#
# PEERS holds express-seed, stub-wacht and post.lua (see the README there). Needs go, node/npm
# and wrk.
set -euo pipefail
if [ -z "${PEERS:-}" ]; then
  echo "compare-all.sh: set PEERS to the peers' directory (the one holding express-seed, stub-wacht and post.lua)" >&2
  exit 2
fi
for p in express-seed/server.mjs stub-wacht/main.go post.lua; do
  if [ ! -e "$PEERS/$p" ]; then echo "compare-all.sh: PEERS=$PEERS has no $p" >&2; exit 2; fi
done
for tool in go node npm wrk; do
  command -v $tool >/dev/null || { echo "compare-all.sh: $tool is not installed" >&2; exit 2; }
done
ROUNDS=${ROUNDS:-5}
WORK=${WORK:-${TMPDIR:-/tmp}/kpbench/work}
REPO=${REPO:-$(git rev-parse --show-toplevel 2>/dev/null || pwd)}
STUB=127.0.0.1:7711; EXP=3011; KPW=127.0.0.1:3001; KPL=127.0.0.1:7802; KPF=127.0.0.1:3002; KPN=127.0.0.1:3003
WRK="wrk -t2 -c32 -d8s --latency"
ROUTE=/api/settings/api-keys/embed-ticket
LOCAL="-- 42 alice acme http://127.0.0.1:8080" # post.lua's request as benchserver-portal's user
pids=(); cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }; trap cleanup EXIT
mkdir -p $WORK
if [ ! -d $WORK/express-seed/node_modules ]; then
  cp -r "$PEERS/express-seed" "$PEERS/stub-wacht" "$PEERS/post.lua" $WORK/; chmod -R u+w $WORK
  (cd $WORK/stub-wacht && go build -o stub-wacht .)
  (cd $WORK/express-seed && npm ci --silent >/dev/null)
fi
(cd $REPO && go build -o $WORK/benchserver ./cmd/benchserver && go build -o $WORK/benchserver-portal ./cmd/benchserver-portal)
$WORK/stub-wacht/stub-wacht -addr $STUB >$WORK/stub.log 2>&1 & pids+=($!)
(cd $WORK/express-seed && PORT=$EXP WACHT_BASE_URL=http://$STUB exec node server.mjs) >$WORK/express.log 2>&1 & EPID=$!; pids+=($EPID)
$WORK/benchserver -addr $KPW -wacht http://$STUB -log $WORK/audit.log >$WORK/bs.log 2>&1 & WPID=$!; pids+=($WPID)
$WORK/benchserver-portal -addr $KPL >$WORK/bsp.log 2>&1 & LPID=$!; pids+=($LPID)
$WORK/benchserver -addr $KPF -wacht http://$STUB -handler forward -log $WORK/forward.log >$WORK/bsf.log 2>&1 & FPID=$!; pids+=($FPID)
$WORK/benchserver -addr $KPN -wacht http://$STUB -handler forward-nethttp -log $WORK/forward.log >$WORK/bsn.log 2>&1 & NPID=$!; pids+=($NPID)
sleep 3
ticks() { awk '{print $14+$15}' /proc/$1/stat; }
one() { # name pid script url [-- the script's arguments]
  local t0=$(ticks $2); local out; out=$($WRK -s $3 "${@:4}"); local t1=$(ticks $2)
  echo "$out" | awk -v n="$1" -v dt=$((t1-t0)) -v la="$(cut -d' ' -f1 /proc/loadavg)" '
    /requests in/{req=$1} /Requests\/sec/{r=$2} $1=="99%"{p=$2} /Non-2xx/{bad=$NF}
    END{ if (p ~ /us$/) pm=p/1000; else if (p ~ /ms$/) pm=p+0; else pm=p*1000;
         printf "%s %.0f %.2f %.1f %s %s\n", n, r, pm, dt*10000/req, (bad==""?0:bad), la }'
}
wrk -t1 -c4 -d2s -s $WORK/post.lua http://127.0.0.1:$EXP$ROUTE >/dev/null
wrk -t1 -c4 -d2s -s $REPO/cmd/benchserver/post.lua http://$KPW$ROUTE >/dev/null
wrk -t1 -c4 -d2s -s $REPO/cmd/benchserver/post.lua http://$KPL$ROUTE $LOCAL >/dev/null
wrk -t1 -c4 -d2s -s $WORK/post.lua http://$KPF$ROUTE >/dev/null
wrk -t1 -c4 -d2s -s $WORK/post.lua http://$KPN$ROUTE >/dev/null
echo "# name req/s p99_ms server_cpu_us_per_req non2xx load1"
for i in $(seq $ROUNDS); do
  echo "## round $i"
  one express $EPID $WORK/post.lua http://127.0.0.1:$EXP$ROUTE
  one kp-wacht $WPID $REPO/cmd/benchserver/post.lua http://$KPW$ROUTE
  one floor-kp $FPID $WORK/post.lua http://$KPF$ROUTE
  one floor-nethttp $NPID $WORK/post.lua http://$KPN$ROUTE
  one kp-local $LPID $REPO/cmd/benchserver/post.lua http://$KPL$ROUTE $LOCAL
  one gin-bare $LPID $REPO/cmd/benchserver/post.lua http://$KPL/bare $LOCAL
done | tee $WORK/rounds.txt
# Per-round ratios, same run: Wacht mode against its floor through the same client (requests/s;
# target >= 0.9) and against Express (requests/s, p99, CPU per ticket), Wacht mode's CPU per
# ticket, the bare net/http floor against the client's, and the local route against the bare
# handler (requests/s).
awk '
  /^## round/ { r = $3 }
  /^[a-z]/ { rps[r, $1] = $2; p99[r, $1] = $3; cpu[r, $1] = $4; n = r }
  END {
    print "# round wacht/floor_rps wacht/express_rps wacht/express_p99 express/wacht_cpu wacht_cpu_us floor-nethttp/floor_rps local/bare_rps"
    for (i = 1; i <= n; i++)
      printf "%d %.3f %.2f %.3f %.1f %.1f %.3f %.3f\n", i,
        rps[i, "kp-wacht"] / rps[i, "floor-kp"], rps[i, "kp-wacht"] / rps[i, "express"], p99[i, "kp-wacht"] / p99[i, "express"],
        cpu[i, "express"] / cpu[i, "kp-wacht"], cpu[i, "kp-wacht"], rps[i, "floor-nethttp"] / rps[i, "floor-kp"], rps[i, "kp-local"] / rps[i, "gin-bare"]
  }' $WORK/rounds.txt
