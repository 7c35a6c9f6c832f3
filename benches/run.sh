#!/usr/bin/env bash
# wristband's end-to-end benchmark: builds the release binary with the
# bench-only routes, starts it on fresh databases (1,000 and 1,000,000
# users), drives it with wrk and hey, and prints one table of figures,
# reference figures, ratios and whether each target holds.
#
#   benches/run.sh                 # SQLite, then PostgreSQL if reachable
#   benches/run.sh sqlite          # one backend only
#   benches/run.sh postgres
#
# Knobs (environment): COST (bcrypt cost, 12; the release profile refuses
# below 10), SECONDS_PER_RUN (10),
# PAGE_ROUNDS (2: rounds of the pages figures, which take turns in each),
# BIG_USERS (1000000), PG_URL (postgres://root@127.0.0.1:5432),
# KEEP (1 keeps the scratch directory and databases for a look afterwards),
# ONLY=queue (only the password-queue rows, 6 and 7: one server, 1,000
# users, about a minute per backend),
# BEFORE_DIR (a checkout of an earlier revision with its release binary
# built, e.g. the last one before the session registry:
#   git worktree add /tmp/wb-before 36406c1
#   (cd /tmp/wb-before && cargo build --release --features bench-routes)
# its /profile is then measured in the same rounds, on its own database;
# BEFORE_REGISTRY names its registry table: sessions (the default: a binary
# from before the library split) or none (from before the registry)).
#
# Every ratio compares figures taken in this run, on this machine, close
# together in time: the machine is shared, so absolute figures drift and
# only ratios mean something.
set -euo pipefail

cd "$(dirname "$0")/.."

COST=${COST:-12}
RUN=${SECONDS_PER_RUN:-10}
SMALL_USERS=1000
BIG_USERS=${BIG_USERS:-1000000}
PG_URL=${PG_URL:-postgres://root@127.0.0.1:5432}
PASSWORD="bench password 1"
PASSWORD_FORM="bench+password+1"
# Not a secret: a fixed key so cookies stay valid across the two servers.
SECRET_KEY=$(printf 'wristband-bench-not-a-secret-32b' | base64)

ONLY=${ONLY:-all}
# Rounds of the pages figures (each figure takes turns with the others in
# every round, RUN/2 seconds a turn): more rounds, less noise in the ratios.
PAGE_ROUNDS=${PAGE_ROUNDS:-2}
[[ $ONLY == all || $ONLY == queue ]] || { echo "ONLY must be all or queue" >&2; exit 2; }
# wrk -c2000 and the server each need a descriptor per connection.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

case "${1:-auto}" in
  sqlite) BACKENDS=(sqlite) ;;
  postgres) BACKENDS=(postgres) ;;
  auto | both)
    BACKENDS=(sqlite)
    if command -v psql >/dev/null && psql "$PG_URL/postgres" -Atqc 'select 1' >/dev/null 2>&1; then
      BACKENDS+=(postgres)
    elif [[ ${1:-auto} == both ]]; then
      echo "PostgreSQL is not reachable at $PG_URL" >&2
      exit 1
    else
      echo "note: PostgreSQL not reachable at $PG_URL; SQLite only" >&2
    fi
    ;;
  *)
    echo "usage: $0 [sqlite|postgres|both]" >&2
    exit 2
    ;;
esac

log() { printf '== %s\n' "$*" >&2; }

# ---------------------------------------------------------------- tools
missing=()
for tool in wrk hey curl; do command -v "$tool" >/dev/null || missing+=("$tool"); done
command -v sqlite3 >/dev/null || missing+=(sqlite3)
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
fi

log "building (release, bench-routes)"
cargo build --release --features bench-routes --quiet
cargo bench --features bench-routes --bench bcrypt_limit --no-run --quiet 2>/dev/null
BIN=target/release/wristband

SCRATCH=$(mktemp -d /tmp/wristband-bench.XXXXXX)
PIDS=()
PG_DBS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [[ ${KEEP:-0} != 1 ]]; then
    for db in "${PG_DBS[@]}"; do psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true; done
    rm -rf "$SCRATCH"
  else
    echo "kept $SCRATCH ${PG_DBS[*]}" >&2
  fi
}
trap cleanup EXIT

ROWS=$SCRATCH/rows.tsv
: >"$ROWS"
row() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$ROWS"; }
calc() { awk "BEGIN { printf \"%.${2:-2}f\", $1 }"; }
holds() { awk "BEGIN { print (($1) ? \"yes\" : \"NO\") }"; }

# ---------------------------------------------------------------- server
free_port() {
  local port
  for port in $(seq 38100 38199); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      if ! grep -q ":$(printf '%04X' "$port") " /proc/net/tcp 2>/dev/null; then
        echo "$port"
        return
      fi
    fi
  done
  echo "no free port in 38100-38199" >&2
  exit 1
}

# start_server NAME URL [DIR] -> sets PORT_<NAME> and PID_<NAME>; DIR is a
# checkout whose target/release/wristband to run there (default: this one).
start_server() {
  local name=$1 url=$2 dir=${3:-.} port
  port=$(free_port)
  (cd "$dir" && ROCKET_PROFILE=release ROCKET_SECRET_KEY=$SECRET_KEY ROCKET_ADDRESS=127.0.0.1 \
    ROCKET_PORT=$port ROCKET_BCRYPT_COST=$COST ROCKET_LOG_LEVEL=critical \
    ROCKET_DATABASES="{wristband={url=\"$url\"}}" \
    exec "$BIN") >"$SCRATCH/$name.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  for _ in $(seq 1 150); do
    if curl -fs -o /dev/null "http://127.0.0.1:$port/login"; then
      printf -v "PORT_$name" '%s' "$port"
      printf -v "PID_$name" '%s' "$pid"
      return
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  echo "server $name did not start; its log:" >&2
  cat "$SCRATCH/$name.log" >&2
  exit 1
}

# Waits (at most 5 s) until a server has used no CPU for 0.3 s. Rocket does
# not cancel a handler when its client hangs up, so logins still queued when
# wrk stops are checked anyway, and would eat into whatever runs next.
settle() {
  local pid=$1 before after
  for _ in $(seq 1 16); do
    before=$(cat /proc/"$pid"/task/*/stat 2>/dev/null | awk '{ s += $14 + $15 } END { print s }')
    sleep 0.3
    after=$(cat /proc/"$pid"/task/*/stat 2>/dev/null | awk '{ s += $14 + $15 } END { print s }')
    ((after - before <= 1)) && return
  done
  return 0
}

peak_rss_mb() { awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

# csrf PORT PAGE -> prints "<csrf cookie>\t<token>", as a browser gets them.
csrf() {
  local headers body
  headers=$(mktemp -p "$SCRATCH") body=$(mktemp -p "$SCRATCH")
  curl -fs -D "$headers" -o "$body" "http://127.0.0.1:$1$2"
  local cookie token
  cookie=$(tr -d '\r' <"$headers" | sed -n 's/^[Ss]et-[Cc]ookie: \(\(__Host-\)\?csrf=[^;]*\).*/\1/p' | head -n1)
  token=$(grep -o 'name="csrf_token" value="[^"]*"' "$body" | head -n1 | sed 's/.*value="//; s/"$//')
  [[ -n $cookie && -n $token ]] || { echo "no CSRF cookie/token from $2" >&2; exit 1; }
  printf '%s\t%s\n' "$cookie" "$token"
}

register_first_user() {
  local port=$1 cookie token status
  IFS=$'\t' read -r cookie token < <(csrf "$port" /register)
  status=$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: $cookie" \
    --data "username=user1&password=$PASSWORD_FORM&password_confirm=$PASSWORD_FORM&csrf_token=$token" \
    "http://127.0.0.1:$port/register")
  [[ $status == 303 ]] || { echo "registering user1 answered $status" >&2; exit 1; }
}

# browser_cookie PORT USER -> the Cookie header of a browser logged in as USER:
# what the login set (user_id, fresh, and csrf, which a login rotates), by
# their release names (__Host-user_id, ...).
browser_cookie() {
  local port=$1 user=$2 cookie token headers
  IFS=$'\t' read -r cookie token < <(csrf "$port" /login)
  headers=$(curl -s -o /dev/null -D - -H "Cookie: $cookie" \
    --data "username=$user&password=$PASSWORD_FORM&csrf_token=$token" \
    "http://127.0.0.1:$port/login" | tr -d '\r')
  grep -q '^HTTP/[0-9.]* 303' <<<"$headers" || { echo "login as $user failed" >&2; exit 1; }
  local set
  set=$(sed -n 's/^[Ss]et-[Cc]ookie: \(\(__Host-\)\?\(user_id\|fresh\|csrf\)=[^;]*\).*/\1/p' <<<"$headers" | paste -sd';' | sed 's/;/; /g')
  printf '%s\n' "$set"
}

# api_token PORT COOKIE -> a new API token, made from the settings page by
# a browser that has just logged in (so fresh) with that Cookie header.
api_token() {
  local port=$1 cookie=$2 token page
  token=$(curl -fs -H "Cookie: $cookie" "http://127.0.0.1:$port/settings" |
    grep -o 'name="csrf_token" value="[^"]*"' | head -n1 | sed 's/.*value="//; s/"$//')
  page=$(curl -fs -H "Cookie: $cookie" --data "name=bench&expires_days=30&csrf_token=$token" \
    "http://127.0.0.1:$port/settings/tokens")
  grep -o 'wb_[0-9a-f]\{64\}' <<<"$page" | head -n1 | grep . ||
    { echo "making an API token failed" >&2; exit 1; }
}

# ---------------------------------------------------------------- seeding
# One bcrypt hash (user1's, made by the server at COST) reused for every
# seeded user: inserting 1M rows then takes seconds, not days. Each seeded
# user also gets a live session in the registry (no cookie matches it), so
# the registry is as large as the user table. REGISTRY names the registry's
# table: wristband_sessions (the library's, user ids as text), sessions (the
# app's own, before the library split), or none (before the registry).
seed() {
  local backend=$1 url=$2 from=$3 to=$4 table=${5:-wristband_sessions} registry="" id=id
  [[ $table == wristband_sessions ]] && id="CAST(id AS TEXT)"
  if [[ $backend == sqlite ]]; then
    [[ $table != none ]] && registry="INSERT INTO $table (public_id, token_hash, user_id, remembered,
        created_at, last_seen, expires_at, client_ip, user_agent)
      SELECT lower(hex(randomblob(16))), lower(hex(randomblob(32))), $id, 1, 0, 0, 4102444800,
        '192.0.2.1', 'seeded' FROM users WHERE id >= $from;"
    sqlite3 "${url#sqlite://}" <<SQL
.timeout 30000
INSERT INTO users (username, password_hash, created_at)
WITH RECURSIVE seq(n) AS (SELECT $from UNION ALL SELECT n + 1 FROM seq WHERE n < $to)
SELECT 'user' || n, (SELECT password_hash FROM users WHERE lower(username) = 'user1'), 0 FROM seq;
$registry
ANALYZE;
SQL
  else
    [[ $table != none ]] && registry="INSERT INTO $table (public_id, token_hash, user_id, remembered,
        created_at, last_seen, expires_at, client_ip, user_agent)
      SELECT md5(random()::text), md5(random()::text) || md5(random()::text), $id, 1, 0, 0,
        4102444800, '192.0.2.1', 'seeded' FROM users WHERE id >= $from;
      VACUUM ANALYZE $table;"
    psql "$url" -qX -v ON_ERROR_STOP=1 <<SQL
INSERT INTO users (username, password_hash, created_at)
SELECT 'user' || n, h.password_hash, 0
FROM generate_series($from, $to) AS n,
     (SELECT password_hash FROM users WHERE lower(username) = 'user1') AS h;
VACUUM ANALYZE users;
$registry
SQL
    # Left to themselves, autovacuum and the checkpointer would get to the
    # million new rows a minute later, in the middle of some measurement.
    psql "$url" -qX -c CHECKPOINT >/dev/null 2>&1 || true
  fi
}

# The plans of the two queries behind every request and every login: the
# guard's user-and-registry read (the library's `Table::load_signed_in`, in
# crates/wristband/src/store.rs) and the login's lookup by name.
query_plans() {
  local backend=$1 url=$2
  if [[ $backend == sqlite ]]; then
    sqlite3 "${url#sqlite://}" \
      "EXPLAIN QUERY PLAN SELECT id, username, wb.* FROM users, (SELECT id AS wb_session_id, public_id AS wb_public_id, remembered AS wb_remembered, last_seen AS wb_last_seen FROM wristband_sessions WHERE token_hash = 'x' AND user_id = '500000' AND expires_at > 0) AS wb WHERE id = 500000 AND (deactivated_at IS NULL);" \
      "EXPLAIN QUERY PLAN SELECT id, username, password_hash FROM users WHERE lower(username) = 'user500000';"
  else
    psql "$url" -qAtX <<'SQL'
PREPARE by_token(text, text, bigint, bigint) AS SELECT id, username, wb.* FROM users, (SELECT id AS wb_session_id, public_id AS wb_public_id, remembered AS wb_remembered, last_seen AS wb_last_seen FROM wristband_sessions WHERE token_hash = $1 AND user_id = $2 AND expires_at > $3) AS wb WHERE id = $4 AND (deactivated_at IS NULL);
PREPARE by_name(text) AS SELECT id, username, password_hash FROM users WHERE lower(username) = $1;
SET plan_cache_mode = force_generic_plan;
EXPLAIN EXECUTE by_token('x', '500000', 0, 500000);
EXPLAIN EXECUTE by_name('user500000');
SQL
  fi
}

plans_use_indexes() {
  local backend=$1 plans=$2
  if [[ $backend == sqlite ]]; then
    # The planner may enter the registry by its token_hash or its user_id
    # index (the user id is known too); either is an index search.
    grep -Eq 'SEARCH wristband_sessions USING (COVERING )?INDEX' <<<"$plans" &&
      grep -q 'SEARCH users USING INTEGER PRIMARY KEY' <<<"$plans" &&
      grep -q 'USING INDEX users_username_lower' <<<"$plans"
  else
    grep -Eq 'Index (Only )?Scan using wristband_sessions_' <<<"$plans" &&
      grep -q 'Index Scan using users_pkey' <<<"$plans" &&
      grep -q 'Index Scan using users_username_lower' <<<"$plans"
  fi
}

# ---------------------------------------------------------------- load
# A wrk script that sends the given Cookie headers in turn (and a request
# body, for logins) and counts answers other than the expected status, so a
# broken login or an expired cookie cannot pass for speed.
wrk_script() {
  local file=$1 expected=$2 kind=$3
  shift 3
  {
    echo 'local cookies = {'
    for c in "$@"; do printf '  "%s",\n' "$c"; done
    echo '}'
    cat <<LUA
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) bad = 0; i = 0 end
function request()
  i = i % #cookies + 1
LUA
    if [[ $kind == bearer ]]; then
      echo '  return wrk.format(nil, nil, { ["Authorization"] = "Bearer " .. cookies[i] })'
    elif [[ $kind == login ]]; then
      cat <<LUA
  local body = "username=user" .. math.random(1, users) .. "&password=$PASSWORD_FORM&csrf_token=" .. token
  return wrk.format("POST", "/login", { ["Cookie"] = cookies[i],
    ["Content-Type"] = "application/x-www-form-urlencoded" }, body)
LUA
    else
      echo '  return wrk.format(nil, nil, { ["Cookie"] = cookies[i] })'
    fi
    cat <<LUA
end
function response(status) if status ~= $expected then bad = bad + 1 end end
function done(summary)
  local n = 0
  for _, t in ipairs(threads) do n = n + t:get("bad") end
  io.write(string.format("unexpected_status %d\n", n))
end
LUA
  } >"$file"
}

# wrk_rate OUTPUT_FILE -> requests/s, or exits when anything went wrong.
wrk_rate() {
  local out=$1
  local bad errors
  bad=$(awk '/^unexpected_status/ { print $2 }' "$out")
  errors=$(awk '/Socket errors/ { gsub(",", ""); print $4 + $6 + $8 + $10 }' "$out")
  if [[ ${bad:-1} != 0 || ${errors:-0} != 0 ]]; then
    echo "wrk saw unexpected answers or socket errors:" >&2
    cat "$out" >&2
    exit 1
  fi
  awk '/^Requests\/sec:/ { print $2 }' "$out"
}

# The bcrypt limit is measured at the priority of the server's password
# threads (src/auth/password.rs), so both face the same competition from
# anything else running on the machine.
bcrypt_limit() {
  cargo bench --features bench-routes --quiet --bench bcrypt_limit -- \
    --cost "$COST" --seconds "$1" --idle 2>/dev/null |
    awk '/^bcrypt_verifies_per_sec/ { print $2 }'
}

# hey_summary FILE -> "<answered 200> <answered in all> <p99 ms>"
hey_summary() {
  local file=$1 ok total p99
  ok=$(awk '/\[200\]/ { print $2 }' "$file")
  total=$(awk '/\[[0-9]+\]/ { n += $2 } END { print n + 0 }' "$file")
  if grep -q 'Error distribution' "$file"; then
    total=$((total + $(awk '/Error distribution/ { e = 1; next } e && /\[[0-9]+\]/ { n += substr($1, 2) } END { print n + 0 }' "$file")))
  fi
  p99=$(awk '/ 99% in / { printf "%.2f", $3 * 1000 }' "$file")
  echo "${ok:-0} $total ${p99:-?}"
}

# flood_script FILE CSRF_COOKIE TOKEN USERS: logins with the right password
# for random users, counting 303s, 503s (queue full) and anything else.
flood_script() {
  cat >"$1" <<LUA
local cookie, token, users = "$2", "$3", $4
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) ok = 0; busy = 0; other = 0 end
function request()
  local body = "username=user" .. math.random(1, users) .. "&password=$PASSWORD_FORM&csrf_token=" .. token
  return wrk.format("POST", "/login", { ["Cookie"] = cookie,
    ["Content-Type"] = "application/x-www-form-urlencoded" }, body)
end
function response(status)
  if status == 303 then ok = ok + 1 elseif status == 503 then busy = busy + 1 else other = other + 1 end
end
function done(summary)
  local o, b, x = 0, 0, 0
  for _, t in ipairs(threads) do o = o + t:get("ok"); b = b + t:get("busy"); x = x + t:get("other") end
  io.write(string.format("answers %d %d %d\n", o, b, x))
end
LUA
}

# wrk_timeouts FILE -> requests that timed out (0 when none)
wrk_timeouts() { awk '/Socket errors/ { gsub(",", ""); print $NF + 0; f = 1 } END { if (!f) print 0 }' "$1"; }

# queue_rows BACKEND URL PORT PID PAGE_COOKIE LOGIN_CSRF LIMIT PAGES_ALONE
# Rows 6 and 7: the bounded password queue and the starvation guard.
queue_rows() {
  local backend=$1 url=$2 port=$3 pid=$4 page_cookie=$5 login=$6 limit=$7 pages_alone=$8
  local csrf_cookie=${login%%$'\t'*} token=${login#*$'\t'}

  # 6. A login flood from 2,000 connections on a server of its own (so its
  # peak RSS is the flood's), while hey asks for /profile at 1,000 req/s.
  log "$backend: login flood from 2,000 connections, /profile at 1,000 req/s"
  start_server flood "$url"
  local fport=$PORT_flood fpid=$PID_flood
  flood_script "$SCRATCH/flood2k.lua" "$csrf_cookie" "$token" "$SMALL_USERS"
  wrk -t2 -c2000 -d"$((RUN + 1))s" --timeout 10s -s "$SCRATCH/flood2k.lua" \
    "http://127.0.0.1:$fport/login" >"$SCRATCH/flood2k.txt" 2>&1 &
  local flood=$!
  sleep 1
  hey -z "${RUN}s" -c 10 -q 100 -disable-redirects -H "Cookie: $page_cookie" \
    "http://127.0.0.1:$fport/profile" >"$SCRATCH/hey2k.txt"
  wait "$flood" || true
  settle "$fpid"
  local peak ok total p99 answers
  peak=$(peak_rss_mb "$fpid")
  read -r ok total p99 < <(hey_summary "$SCRATCH/hey2k.txt")
  answers=$(awk '/^answers/ { printf "%d ok, %d 503, %d other", $2, $3, $4 }' "$SCRATCH/flood2k.txt")
  kill "$fpid"
  local expected=$((RUN * 1000)) b=$backend
  row "$b" "6. 2,000-conn login flood: peak RSS" "$peak MB" "1,000 conns before the bound: 49 MB" "" "< 60 MB" "$(holds "$peak < 60")"
  row "$b" "6. 2,000-conn flood: logins answered" "${answers:-?}" "before: 101 answers in 20 s" "" "" ""
  row "$b" "6. 2,000-conn flood: /profile 200" "$ok of $total (asked $expected)" "" "" "all" "$(holds "$ok == $total && $ok >= $expected * 0.99")"
  row "$b" "6. 2,000-conn flood: /profile p99" "$p99 ms" "" "" "< 10 ms" "$(holds "${p99/\?/1e9} < 10")"

  # 7. Pages at full speed (wrk -c32, as in row 1) with 8 connections
  # posting logins alongside: logins must not starve, pages keep most.
  log "$backend: logins while /profile saturates the CPU"
  wrk_script "$SCRATCH/pages-sat.lua" 200 page "$page_cookie"
  wrk_script "$SCRATCH/login-sat.lua" 303 login "$csrf_cookie"
  sed -i "1i local token, users = \"$token\", $SMALL_USERS" "$SCRATCH/login-sat.lua"
  wrk -t2 -c32 -d"$((RUN + 1))s" --timeout 5s -s "$SCRATCH/pages-sat.lua" \
    "http://127.0.0.1:$port/profile" >"$SCRATCH/sat-pages.txt" &
  local pages=$!
  sleep 0.5
  wrk -t1 -c8 -d"${RUN}s" --timeout 30s -s "$SCRATCH/login-sat.lua" \
    "http://127.0.0.1:$port/login" >"$SCRATCH/sat-logins.txt"
  wait "$pages"
  settle "$pid"
  local sat_logins sat_pages stuck
  # Logins still on an idle-priority thread when the run ends time out;
  # they are counted, not fatal (see PERFORMANCE.md).
  stuck=$(wrk_timeouts "$SCRATCH/sat-logins.txt")
  sat_logins=$(awk '/^Requests\/sec:/ { print $2 }' "$SCRATCH/sat-logins.txt")
  grep -q '^unexpected_status 0$' "$SCRATCH/sat-logins.txt" || { echo "logins under page load:" >&2; cat "$SCRATCH/sat-logins.txt" >&2; exit 1; }
  sat_pages=$(wrk_rate "$SCRATCH/sat-pages.txt")
  row "$b" "7. pages saturating: logins/s vs limit" "$(calc "$sat_logins" 2)/s ($stuck timed out)" "SCHED_IDLE alone: ~0" "$(calc "$sat_logins / $limit")x" ">= 0.25x" "$(holds "$sat_logins / $limit >= 0.25")"
  row "$b" "7. pages saturating: /profile req/s" "$(calc "$sat_pages" 0) vs $(calc "$pages_alone" 0) alone" "" "$(calc "$sat_pages / $pages_alone")x" "" ""
}

# Only rows 6 and 7 (ONLY=queue): one server on 1,000 users.
bench_queue_only() {
  local backend=$1 url
  log "$backend: fresh database (ONLY=queue)"
  if [[ $backend == sqlite ]]; then
    url="sqlite://$SCRATCH/small.sqlite"
  else
    PG_DBS+=("wristband_bench_small_$$")
    psql "$PG_URL/postgres" -qc "CREATE DATABASE wristband_bench_small_$$" >/dev/null
    url="$PG_URL/wristband_bench_small_$$"
  fi
  start_server small "$url"
  local port=$PORT_small
  register_first_user "$port"
  seed "$backend" "$url" 2 "$SMALL_USERS"
  local page_cookie login limit alone
  page_cookie=$(browser_cookie "$port" "user$SMALL_USERS")
  login=$(csrf "$port" /login)
  wrk_script "$SCRATCH/pages-alone.lua" 200 page "$page_cookie"
  log "$backend: /profile alone; bcrypt limit"
  wrk -t2 -c32 -d"${RUN}s" --timeout 5s -s "$SCRATCH/pages-alone.lua" \
    "http://127.0.0.1:$port/profile" >"$SCRATCH/w.txt"
  alone=$(wrk_rate "$SCRATCH/w.txt")
  limit=$(bcrypt_limit 5)
  row "$backend" "bcrypt limit, cost $COST, 1 thread/core" "$(calc "$limit" 2)/s" "Flask 8.3/s" "" "" ""
  queue_rows "$backend" "$url" "$port" "$PID_small" "$page_cookie" "$login" "$limit" "$alone"
  kill "$PID_small"
}

# ---------------------------------------------------------------- one backend
bench_backend() {
  local backend=$1 small_url big_url
  if [[ $ONLY == queue ]]; then
    bench_queue_only "$backend"
    return
  fi
  log "$backend: fresh databases"
  if [[ $backend == sqlite ]]; then
    small_url="sqlite://$SCRATCH/small.sqlite"
    big_url="sqlite://$SCRATCH/big.sqlite"
  else
    local stamp=$$
    PG_DBS+=("wristband_bench_small_$stamp" "wristband_bench_big_$stamp")
    psql "$PG_URL/postgres" -qc "CREATE DATABASE wristband_bench_small_$stamp" >/dev/null
    psql "$PG_URL/postgres" -qc "CREATE DATABASE wristband_bench_big_$stamp" >/dev/null
    small_url="$PG_URL/wristband_bench_small_$stamp"
    big_url="$PG_URL/wristband_bench_big_$stamp"
  fi

  start_server small "$small_url"
  start_server big "$big_url"
  local small=$PORT_small big=$PORT_big before=""
  if [[ -n ${BEFORE_DIR:-} ]]; then
    local before_url
    if [[ $backend == sqlite ]]; then
      before_url="sqlite://$SCRATCH/before.sqlite"
    else
      PG_DBS+=("wristband_bench_before_$stamp")
      psql "$PG_URL/postgres" -qc "CREATE DATABASE wristband_bench_before_$stamp" >/dev/null
      before_url="$PG_URL/wristband_bench_before_$stamp"
    fi
    start_server before "$before_url" "$BEFORE_DIR"
    before=$PORT_before
    register_first_user "$before"
    seed "$backend" "$before_url" 2 "$SMALL_USERS" "${BEFORE_REGISTRY:-sessions}"
  fi

  log "$backend: seeding $SMALL_USERS and $BIG_USERS users"
  register_first_user "$small"
  register_first_user "$big"
  seed "$backend" "$small_url" 2 "$SMALL_USERS"
  local t0=$SECONDS
  seed "$backend" "$big_url" 2 "$BIG_USERS"
  log "$backend: $BIG_USERS users in $((SECONDS - t0)) s"
  local plans
  plans=$(query_plans "$backend" "$big_url")
  printf '%s\n' "$plans" >"$SCRATCH/$backend-plans.txt"

  log "$backend: logging in 8 browsers per server"
  local small_cookies=() big_cookies=() n
  # Users spread over the whole table, from the first row to the last.
  for n in 1 2 3 4 5 6 7 8; do
    small_cookies+=("$(browser_cookie "$small" "user$((SMALL_USERS * n / 8))")")
    big_cookies+=("$(browser_cookie "$big" "user$((BIG_USERS * n / 8))")")
  done
  curl -fs -H "Cookie: ${small_cookies[7]}" "http://127.0.0.1:$small/profile" | grep -q ">user$SMALL_USERS<" ||
    { echo "GET /profile with a login cookie does not show the user" >&2; exit 1; }
  if [[ -n $before ]]; then
    local before_cookies=()
    for n in 1 2 3 4 5 6 7 8; do
      before_cookies+=("$(browser_cookie "$before" "user$((SMALL_USERS * n / 8))")")
    done
    wrk_script "$SCRATCH/pages-before.lua" 200 page "${before_cookies[@]}"
  fi

  # API clients: bearer tokens of the same eight users, no cookies.
  local small_tokens=()
  for n in 0 1 2 3 4 5 6 7; do
    small_tokens+=("$(api_token "$small" "${small_cookies[$n]}")")
  done
  curl -fs -H "Authorization: Bearer ${small_tokens[7]}" "http://127.0.0.1:$small/api/me" |
    grep -q "\"user$SMALL_USERS\"" ||
    { echo "GET /api/me with a bearer token does not answer the user" >&2; exit 1; }
  wrk_script "$SCRATCH/api-small.lua" 200 bearer "${small_tokens[@]}"

  local login_small login_big
  login_small=$(csrf "$small" /login) login_big=$(csrf "$big" /login)
  wrk_script "$SCRATCH/pages-small.lua" 200 page "${small_cookies[@]}"
  wrk_script "$SCRATCH/pages-big.lua" 200 page "${big_cookies[@]}"
  wrk_script "$SCRATCH/login-small.lua" 303 login "${login_small%%$'\t'*}"
  wrk_script "$SCRATCH/login-big.lua" 303 login "${login_big%%$'\t'*}"
  sed -i "1i local token, users = \"${login_small#*$'\t'}\", $SMALL_USERS" "$SCRATCH/login-small.lua"
  sed -i "1i local token, users = \"${login_big#*$'\t'}\", $BIG_USERS" "$SCRATCH/login-big.lua"

  # Pages: the baseline and the two profile servers take turns, twice, so
  # that drift in what else the machine is doing hits all three alike.
  log "$backend: pages (baseline, floor, /profile at 1K, /profile at 1M, /api/me by token${before:+, /profile before}; $PAGE_ROUNDS rounds)"
  local half=$((RUN / 2)) base=0 floor=0 prof_small=0 prof_big=0 prof_before=0 api_small=0 round rate
  local wrk_pages=(wrk -t2 -c32 -d"${half}s" --timeout 5s)
  "${wrk_pages[@]}" -s "$SCRATCH/pages-small.lua" "http://127.0.0.1:$small/profile" >/dev/null # warm-up
  for round in $(seq 1 "$PAGE_ROUNDS"); do
    "${wrk_pages[@]}" -s "$SCRATCH/pages-small.lua" "http://127.0.0.1:$small/bench/baseline" >"$SCRATCH/w.txt"
    rate=$(wrk_rate "$SCRATCH/w.txt")
    base=$(calc "$base + $rate / $PAGE_ROUNDS")
    "${wrk_pages[@]}" -s "$SCRATCH/pages-small.lua" "http://127.0.0.1:$small/bench/floor" >"$SCRATCH/w.txt"
    rate=$(wrk_rate "$SCRATCH/w.txt")
    floor=$(calc "$floor + $rate / $PAGE_ROUNDS")
    if [[ -n $before ]]; then
      "${wrk_pages[@]}" -s "$SCRATCH/pages-before.lua" "http://127.0.0.1:$before/profile" >"$SCRATCH/w.txt"
      rate=$(wrk_rate "$SCRATCH/w.txt")
      prof_before=$(calc "$prof_before + $rate / $PAGE_ROUNDS")
    fi
    "${wrk_pages[@]}" -s "$SCRATCH/pages-small.lua" "http://127.0.0.1:$small/profile" >"$SCRATCH/w.txt"
    rate=$(wrk_rate "$SCRATCH/w.txt")
    prof_small=$(calc "$prof_small + $rate / $PAGE_ROUNDS")
    "${wrk_pages[@]}" -s "$SCRATCH/pages-big.lua" "http://127.0.0.1:$big/profile" >"$SCRATCH/w.txt"
    rate=$(wrk_rate "$SCRATCH/w.txt")
    prof_big=$(calc "$prof_big + $rate / $PAGE_ROUNDS")
    "${wrk_pages[@]}" -s "$SCRATCH/api-small.lua" "http://127.0.0.1:$small/api/me" >"$SCRATCH/w.txt"
    rate=$(wrk_rate "$SCRATCH/w.txt")
    api_small=$(calc "$api_small + $rate / $PAGE_ROUNDS")
  done

  # Logins: the bcrypt limit just before and just after, averaged.
  # Logins: 1K and 1M take turns too, between two measurements of the
  # bcrypt limit, which are averaged.
  log "$backend: logins (bcrypt limit; 1K, 1M; 2 rounds; bcrypt limit)"
  local limit1 limit2 limit logins_small=0 logins_big=0
  local wrk_logins=(wrk -t2 -c8 -d"${half}s" --timeout 30s)
  limit1=$(bcrypt_limit 5)
  for round in 1 2; do
    "${wrk_logins[@]}" -s "$SCRATCH/login-small.lua" "http://127.0.0.1:$small/login" >"$SCRATCH/w.txt"
    rate=$(wrk_rate "$SCRATCH/w.txt")
    logins_small=$(calc "$logins_small + $rate / 2" 4)
    settle "$PID_small"
    "${wrk_logins[@]}" -s "$SCRATCH/login-big.lua" "http://127.0.0.1:$big/login" >"$SCRATCH/w.txt"
    rate=$(wrk_rate "$SCRATCH/w.txt")
    logins_big=$(calc "$logins_big + $rate / 2" 4)
    settle "$PID_big"
  done
  limit2=$(bcrypt_limit 5)
  limit=$(calc "($limit1 + $limit2) / 2" 4)

  # Pages during a login flood: 8 connections post logins as fast as they
  # are answered while hey asks for /profile at a steady 1,000 req/s.
  log "$backend: /profile at 1,000 req/s during a login flood"
  wrk -t2 -c8 -d"$((RUN + 1))s" --timeout 30s -s "$SCRATCH/login-small.lua" \
    "http://127.0.0.1:$small/login" >"$SCRATCH/flood.txt" &
  local flood=$!
  sleep 0.5
  hey -z "${RUN}s" -c 10 -q 100 -disable-redirects -H "Cookie: ${small_cookies[0]}" \
    "http://127.0.0.1:$small/profile" >"$SCRATCH/hey.txt"
  wait "$flood"
  settle "$PID_small"
  local flood_logins ok total p99
  flood_logins=$(wrk_rate "$SCRATCH/flood.txt")
  ok=$(awk '/\[200\]/ { print $2 }' "$SCRATCH/hey.txt")
  total=$(awk '/^  Total:/ { t = 1 } /\[[0-9]+\]/ { n += $2 } END { print n + 0 }' "$SCRATCH/hey.txt")
  if grep -q 'Error distribution' "$SCRATCH/hey.txt"; then
    total=$((total + $(awk '/Error distribution/ { e = 1; next } e && /\[[0-9]+\]/ { n += substr($1, 2) } END { print n + 0 }' "$SCRATCH/hey.txt")))
  fi
  ok=${ok:-0}
  p99=$(awk '/ 99% in / { printf "%.2f", $3 * 1000 }' "$SCRATCH/hey.txt")
  local expected=$((RUN * 1000))

  local rss_small rss_big rss
  rss_small=$(peak_rss_mb "$PID_small") rss_big=$(peak_rss_mb "$PID_big")
  rss=$(calc "($rss_small > $rss_big) ? $rss_small : $rss_big" 1)

  local b=$backend
  row "$b" "GET /profile, logged in (req/s)" "$(calc "$prof_small" 0)" "Flask-Login 1,000-1,300; axum-login 9.8-15k" "" "" ""
  row "$b" "same template, no auth/db (req/s)" "$(calc "$base" 0)" "plain Rocket page 46-55k" "" "" ""
  row "$b" "same template after SELECT 1 (req/s)" "$(calc "$floor" 0)" "the floor: one query per request" "" "" ""
  row "$b" "/profile vs no-auth page" "" "" "$(calc "$prof_small / $base")x" "" ""
  row "$b" "1. /profile vs one-query floor" "" "" "$(calc "$prof_small / $floor")x" ">= 0.90x" "$(holds "$prof_small / $floor >= 0.9")"
  row "$b" "GET /api/me by bearer token (req/s)" "$(calc "$api_small" 0)" "" "" "" ""
  row "$b" "/api/me by token vs one-query floor" "" "" "$(calc "$api_small / $floor")x" ">= 0.90x" "$(holds "$api_small / $floor >= 0.9")"
  if [[ -n $before ]]; then
    row "$b" "/profile vs BEFORE_DIR, same rounds" "$(calc "$prof_before" 0) before" "$(git -C "$BEFORE_DIR" rev-parse --short HEAD)" "$(calc "$prof_small / $prof_before")x" ">= 0.95x" "$(holds "$prof_small / $prof_before >= 0.95")"
  fi
  row "$b" "bcrypt limit, cost $COST, 1 thread/core" "$(calc "$limit" 2)/s" "Flask 8.3/s" "" "" ""
  row "$b" "2. POST /login (logins/s)" "$(calc "$logins_small" 2)/s" "Flask 0.92x; axum-login 0.44-0.73x" "$(calc "$logins_small / $limit")x" ">= 0.90x" "$(holds "$logins_small / $limit >= 0.9")"
  row "$b" "3. flood: /profile answered 200" "$ok of $total (asked $expected)" "Flask 200 of 10,000; axum ~95%" "" "all" "$(holds "$ok == $total && $ok >= $expected * 0.99")"
  row "$b" "3. flood: /profile p99" "${p99:-?} ms" "Flask ~620 ms; axum 18-24 ms" "" "< 10 ms" "$(holds "${p99:-1e9} < 10")"
  row "$b" "3. flood: logins/s vs limit" "$(calc "$flood_logins" 2)/s" "" "$(calc "$flood_logins / $limit")x" ">= 0.80x" "$(holds "$flood_logins / $limit >= 0.8")"
  row "$b" "4. peak RSS (largest server)" "$rss MB" "Flask ~37 MB x6; axum 2.0-2.5 GB" "" "< 40 MB" "$(holds "$rss < 40")"
  row "$b" "5. /profile, 1M vs 1K users" "$(calc "$prof_big" 0) vs $(calc "$prof_small" 0)" "" "$(calc "$prof_big / $prof_small")x" "0.90-1.10x" "$(holds "$prof_big / $prof_small >= 0.9 && $prof_big / $prof_small <= 1.1")"
  row "$b" "5. POST /login, 1M vs 1K users" "$(calc "$logins_big" 2) vs $(calc "$logins_small" 2)" "" "$(calc "$logins_big / $logins_small")x" "0.90-1.10x" "$(holds "$logins_big / $logins_small >= 0.9 && $logins_big / $logins_small <= 1.1")"
  if plans_use_indexes "$backend" "$plans"; then
    row "$b" "5. query plans at 1M users" "wristband_sessions index + pkey; lower(username)" "" "" "index scans" "yes"
  else
    row "$b" "5. query plans at 1M users" "see $backend-plans.txt" "" "" "index scans" "NO"
  fi
  queue_rows "$backend" "$small_url" "$small" "$PID_small" "${small_cookies[0]}" "$login_small" "$limit" "$prof_small"
  kill "$PID_small" "$PID_big"
  if [[ -n $before ]]; then kill "$PID_before"; fi
}

for backend in "${BACKENDS[@]}"; do bench_backend "$backend"; done

# ---------------------------------------------------------------- table
echo
echo "wristband benchmark: $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), bcrypt cost $COST, ${RUN} s runs, load generators on the same machine"
awk -F'\t' '
  BEGIN { fmt = "| %-8s | %-38s | %-28s | %-44s | %-6s | %-10s | %-5s |\n"
          printf fmt, "backend", "figure", "measured", "reference", "ratio", "target", "holds"
          printf fmt, "--------", "--------------------------------------", "----------------------------",
                      "--------------------------------------------", "------", "----------", "-----" }
  { printf fmt, $1, $2, $3, $4, $5, $6, $7 }' "$ROWS"
if grep -q $'\tNO$' "$ROWS"; then
  echo "some targets do not hold"
  exit 1
fi
