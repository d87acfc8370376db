#!/usr/bin/env bash
# A throw-away single-node Ceph RGW (Debian 12 packages) on 127.0.0.1 for tests, benchmarks and the demo.
# Facts and pitfalls behind the settings below: /work/shared/S3-SERVERS.md.
#
#   rgw.sh install          install the Debian packages if missing (root)
#   rgw.sh start [PORT]     start mon + osd (memstore, or RGW_STORE=bluestore) + radosgw; print KEY=VALUE lines on stdout
#   rgw.sh stop DIR         stop the instance living in DIR and remove DIR
set -euo pipefail

readonly PACKAGES=(radosgw ceph-mon ceph-osd ceph-common uuid-runtime curl)
# One binary per package that the start needs, so a half-installed machine is noticed.
readonly BINARIES=(radosgw radosgw-admin ceph-mon monmaptool ceph-osd ceph uuidgen curl)
readonly ATTEMPTS=3
readonly DEFAULT_PORT=7480
readonly DEFAULT_MON_PORT=6789
readonly DEFAULT_MEMSTORE_BYTES=6442450944
# Sparse: a file-backed BlueStore takes disk only for what it stores.
readonly DEFAULT_BLOCK_BYTES=68719476736
# Marks a folder as ours, so `stop` never rm -rf's a folder it was handed by mistake.
readonly MARKER=.s3sync-rgw
# Serialises port picking (and apt) between instances started at the same moment. A dot file, so that a
# cleanup of /tmp/s3sync-rgw.* never races with it.
readonly LOCK_FILE=/tmp/.s3sync-rgw.lock

log() { printf 'rgw.sh: [%3ds] %s\n' "$SECONDS" "$*" >&2; }
die() { log "$*"; exit 1; }

usage() {
  cat <<'EOF'
Usage: rgw.sh install | start [PORT] | stop DIR | --help

  install       Install Ceph RGW from Debian's packages if missing (needs root; no-op when present).
  start [PORT]  Start a fresh single-node RGW on 127.0.0.1:PORT (default: first free port from 7480)
                in a new /tmp/s3sync-rgw.XXXXXX folder. Prints on stdout, and nothing else:
                  S3_ENDPOINT=...  AWS_ACCESS_KEY_ID=...  AWS_SECRET_ACCESS_KEY=...
                  AWS_REGION=us-east-1  RGW_DIR=...
                so `eval "$(scripts/rgw.sh start)"` works. Progress goes to stderr.
                Env: RGW_ACCESS_KEY, RGW_SECRET_KEY (default: random),
                     RGW_STORE: memstore (default; data in RAM, about 19 KiB of it an object) or
                       bluestore (data in a sparse file in the instance's folder, for a million objects),
                     RGW_MEMSTORE_BYTES (default 6442450944), RGW_BLOCK_BYTES (bluestore's file size,
                       default 68719476736; only what is written takes space), RGW_BLOCK_DIR (where
                       that file goes, default the instance's folder; /dev/shm keeps it in RAM, where
                       writes wait for no disk).
  stop DIR      Stop the processes whose PID files are in DIR, then remove DIR. Safe to repeat.
EOF
}

# ---------------------------------------------------------------------------------------------- install

missing_binaries() {
  local bin
  for bin in "${BINARIES[@]}"; do
    command -v "$bin" >/dev/null 2>&1 || printf '%s\n' "$bin"
  done
}

cmd_install() {
  [[ -z "$(missing_binaries)" ]] && return 0
  if [[ $EUID -ne 0 ]]; then
    die "Ceph RGW is not installed; as root run: apt-get update && apt-get install -y --no-install-recommends ${PACKAGES[*]}"
  fi
  # Two instances starting together on a fresh machine would otherwise race for dpkg's lock.
  exec 8>"$LOCK_FILE.install"
  flock 8
  if [[ -n "$(missing_binaries)" ]]; then
    log "installing ${PACKAGES[*]} (missing: $(missing_binaries | tr '\n' ' '))"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >&2
    apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=300 "${PACKAGES[@]}" >&2
  fi
  flock -u 8
  exec 8>&-
  local still
  still="$(missing_binaries | tr '\n' ' ')"
  [[ -z "$still" ]] || die "still missing after apt-get install: $still"
}

# ---------------------------------------------------------------------------------------------- helpers

random_string() { # CHARSET LENGTH
  local s=""
  # Read a fixed amount first: `tr </dev/urandom | head` dies of SIGPIPE, which pipefail turns into a failure.
  while ((${#s} < $2)); do s+="$(head -c 4096 /dev/urandom | LC_ALL=C tr -dc "$1")"; done
  printf '%s' "${s:0:$2}"
}

port_in_use() {
  # Anything accepting on 127.0.0.1 (including 0.0.0.0 listeners) would clash with our bind.
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Ports already promised to other instances that may not be listening yet. A folder counts while one of
# its daemons runs, or for a minute after it was claimed (its daemons are still starting); a folder left
# behind by a killed start would otherwise hold its ports forever.
claimed_ports() {
  local other f pid mtime now
  now="$(date +%s)"
  for other in /tmp/s3sync-rgw.*/; do
    other=${other%/}
    # Another instance may be removing its folder right now: any read may fail.
    mtime="$(stat -c %Y "$other/ports" 2>/dev/null)" || continue
    if ((mtime > now - 60)); then
      cat "$other/ports" 2>/dev/null || true
      continue
    fi
    for f in "$other"/pids/*.pid; do
      pid="$(cat "$f" 2>/dev/null)" || continue
      is_ours "$pid" "$other" && { cat "$other/ports" 2>/dev/null || true; break; }
    done
  done
}

free_port() { # FROM, EXCEPT...
  local port=$1 claimed
  shift
  claimed=" $(claimed_ports | tr '\n' ' ') $* "
  while ((port < 65535)); do
    if [[ "$claimed" != *" $port "* ]] && ! port_in_use "$port"; then
      printf '%s' "$port"
      return 0
    fi
    port=$((port + 1))
  done
  return 1
}

# A daemon that died will not come back: fail the attempt now instead of waiting out the deadline.
daemons_alive() {
  local f
  for f in "$dir"/pids/*.pid; do
    [[ -f "$f" ]] || continue
    is_ours "$(<"$f")" "$dir" || { log "$(basename "$f" .pid) exited early"; return 1; }
  done
}

wait_until() { # SECONDS DESCRIPTION COMMAND...
  local limit=$1 what=$2
  local deadline=$((SECONDS + limit))
  shift 2
  until "$@"; do
    ((SECONDS < deadline)) || { log "timed out after $limit s waiting for $what"; return 1; }
    daemons_alive || return 1
    sleep 0.3
  done
}

# Starts a daemon in the foreground of its own session so it outlives this script and never holds our
# stdout/stderr (callers read our stdout to EOF), and records its PID where `stop` looks.
spawn() { # NAME COMMAND...
  local name=$1
  shift
  # Not `setsid -f`: without a fork, $! is the daemon itself (daemons_alive would notice otherwise).
  setsid "$@" </dev/null >>"$dir/log/$name.out" 2>&1 &
  printf '%s\n' "$!" >"$dir/pids/$name.pid"
}

# --foreground keeps these in our process group, so an interrupted start can signal them all at once.
ceph_cli() { timeout --foreground 30 ceph -c "$dir/ceph.conf" --connect-timeout 10 "$@"; }
rgw_admin() { timeout --foreground 60 radosgw-admin -c "$dir/ceph.conf" "$@"; }

mon_is_up() { ceph_cli mon stat >/dev/null 2>&1; }
osd_is_up() {
  local stat
  stat="$(ceph_cli osd stat -f json 2>/dev/null)" || return 1
  [[ "$stat" == *'"num_up_osds":1,'* || "$stat" == *'"num_up_osds":1}'* ]]
}

http_status() { # URL [CURL ARGS...]
  local url=$1
  shift
  curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@" "$url" 2>/dev/null || true
}

rgw_answers() { [[ "$(http_status "http://127.0.0.1:$port/")" == 200 ]]; }

# SigV4 signing is built into curl >= 7.75, so the check needs neither an SDK nor the AWS CLI.
s3_curl() { # METHOD PATH [CURL ARGS...]
  local method=$1 path=$2
  shift 2
  curl -sS --fail --max-time 10 -X "$method" \
    --aws-sigv4 "aws:amz:us-east-1:s3" --user "$access_key:$secret_key" \
    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
    "$@" "http://127.0.0.1:$port$path"
}

# RGW refuses storage classes it has no placement for, and a misconfigured one would only show up
# later as a confusing test failure; so prove the round trip once here, then leave the server empty.
storage_class_works() {
  local bucket key=probe listing
  bucket="rgw-sh-probe-$(random_string 'a-z0-9' 8)"
  s3_curl PUT "/$bucket" -o /dev/null || return 1
  s3_curl PUT "/$bucket/$key" -H "x-amz-storage-class: STANDARD_IA" --data-binary probe -o /dev/null || return 1
  listing="$(s3_curl GET "/$bucket?list-type=2")" || return 1
  s3_curl DELETE "/$bucket/$key" -o /dev/null || return 1
  s3_curl DELETE "/$bucket" -o /dev/null || return 1
  [[ "$listing" == *"<StorageClass>STANDARD_IA</StorageClass>"* ]] || {
    log "listing does not report STANDARD_IA: $listing"
    return 1
  }
}

# ---------------------------------------------------------------------------------------------- start

write_conf() {
  cat >"$dir/ceph.conf" <<EOF
[global]
fsid = $fsid
mon_host = v1:127.0.0.1:$mon_port
public_addr = 127.0.0.1
# Only msgr v1: the monmap holds a v1 address (msgr2 made the OSD loop on "couldn't create socket (97)").
ms_bind_msgr2 = false
ms_bind_msgr1 = true
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
keyring = $dir/keyring
run_dir = $dir/run
# Clients (ceph, radosgw-admin) run concurrently: one socket each. Daemons get a fixed name below.
admin_socket = $dir/run/\$name.\$pid.asok
log_file = $dir/log/\$name.log
mon_cluster_log_file = $dir/log/cluster.log
crash_dir = $dir/crash
pid_file = $dir/run/\$name.pid
osd_pool_default_size = 1
osd_pool_default_min_size = 1
mon_allow_pool_size_one = true
mon_warn_on_pool_no_redundancy = false
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
osd_crush_chooseleaf_type = 0
mon_allow_pool_delete = true

[mon]
mon_data = $dir/mon
# radosgw creates its pools one map change at a time; with the default 1 s between proposals that
# alone took ~10 s of the start. A single monitor has nobody to batch with.
paxos_propose_interval = 0.05
admin_socket = $dir/run/\$name.asok

[osd]
osd_data = $dir/osd
$(store_conf)
# The OSD placing itself in CRUSH at boot sometimes failed ("wrong fsid"); we place it before starting.
osd_crush_update_on_start = false
osd_class_update_on_start = false
# Only matters if the monitor died first; its 5 s default would slow every such stop.
osd_mon_shutdown_timeout = 1
admin_socket = $dir/run/\$name.asok

[client.rgw]
rgw_frontends = beast endpoint=127.0.0.1:$port
rgw_data = $dir/rgw
admin_socket = $dir/run/\$name.asok
# The data of overwritten and deleted objects is reclaimed 2 h later by default; tests and
# benchmarks that rewrite large files would fill the memory store long before that.
rgw_gc_obj_min_wait = 30
rgw_gc_processor_period = 30
# Server-side encryption for the SSE tests: SSE-KMS through the \`testing\` backend with one key
# (id s3sync-test-key), and SSE-C over plain HTTP (tests put TLS in front where it matters).
rgw_crypt_require_ssl = false
rgw_crypt_s3_kms_backend = testing
rgw_crypt_s3_kms_encryption_keys = s3sync-test-key=$(head -c 32 /dev/urandom | base64)
EOF
}

store_conf() {
  if [[ "$store" == memstore ]]; then
    printf 'osd_objectstore = memstore\nmemstore_device_bytes = %s\n' "$memstore_bytes"
    return
  fi
  # BlueStore on a plain file, as Ceph's vstart.sh does. The file is not in osd/: mkfs makes osd/block
  # a link to it. Its cache is kept small, as the host also runs the client under test.
  cat <<CONF
osd_objectstore = bluestore
bluestore_block_path = $block_dir/$(basename "$dir").block
bluestore_block_create = true
bluestore_block_size = $block_bytes
bluestore_fsck_on_mount = false
osd_memory_target = 1073741824
CONF
}

# One attempt, run in a subshell with errexit: any failing step fails the attempt, and the caller cleans up.
start_once() {
  local fsid osd_uuid osd_id
  mkdir -p "$dir"/{pids,run,log,mon,osd,rgw,crash}

  exec 9>"$LOCK_FILE"
  flock 9
  if [[ -n "$requested_port" ]]; then
    port=$requested_port
    ! port_in_use "$port" || { log "port $port is already in use"; return 1; }
  else
    port="$(free_port "$DEFAULT_PORT")"
  fi
  mon_port="$(free_port "$DEFAULT_MON_PORT" "$port")"
  printf '%s\n%s\n' "$port" "$mon_port" >"$dir/ports"
  flock -u 9
  exec 9>&-

  fsid="$(uuidgen)"
  osd_uuid="$(uuidgen)"
  write_conf
  log "starting in $dir (s3 port $port, mon port $mon_port)"

  monmaptool --create --fsid "$fsid" --addv a "[v1:127.0.0.1:$mon_port]" "$dir/monmap" >/dev/null
  ceph-mon -c "$dir/ceph.conf" --mkfs -i a --monmap "$dir/monmap" >>"$dir/log/mkfs.out" 2>&1
  spawn mon ceph-mon -f -c "$dir/ceph.conf" -i a
  wait_until 30 "the monitor" mon_is_up

  osd_id="$(ceph_cli osd new "$osd_uuid")"
  ceph_cli osd crush add "osd.$osd_id" 1.0 root=default >>"$dir/log/mkfs.out" 2>&1
  ceph-osd -c "$dir/ceph.conf" -i "$osd_id" --mkfs --osd-uuid "$osd_uuid" >>"$dir/log/mkfs.out" 2>&1
  spawn osd ceph-osd -f -c "$dir/ceph.conf" -i "$osd_id"
  wait_until 60 "the OSD to be up" osd_is_up
  log "OSD up; configuring the S3 user and the STANDARD_IA storage class"

  # The user create also creates the default zone and zonegroup, which the placement commands need.
  # Doing all this before radosgw starts means it reads the final zone and needs no restart.
  rgw_admin user create --uid s3sync --display-name s3sync \
    --access-key "$access_key" --secret-key "$secret_key" >/dev/null
  rgw_admin zonegroup placement add --rgw-zonegroup default --placement-id default-placement \
    --storage-class STANDARD_IA >/dev/null
  rgw_admin zone placement add --rgw-zone default --placement-id default-placement \
    --storage-class STANDARD_IA --data-pool default.rgw.standard-ia.data >/dev/null

  spawn rgw radosgw -f -c "$dir/ceph.conf" -n client.rgw
  wait_until 60 "radosgw to answer on port $port" rgw_answers
  log "radosgw answers; checking a STANDARD_IA upload"
  wait_until 30 "the STANDARD_IA storage class to work" storage_class_works
}

log_tails() {
  local f
  for f in "$dir"/log/*; do
    [[ -s "$f" ]] || continue
    printf '==> %s <==\n' "$f"
    tail -n 25 "$f"
  done
}

on_interrupt() {
  trap - INT TERM HUP
  if [[ -n "$attempt_pid" ]]; then
    kill -TERM -- "-$attempt_pid" 2>/dev/null || true
    wait "$attempt_pid" 2>/dev/null || true
  fi
  [[ -z "$dir" ]] || cmd_stop "$dir"
  log "interrupted; cleaned up"
  exit 130
}

cmd_start() {
  requested_port=${1:-}
  if [[ -n "$requested_port" && ! "$requested_port" =~ ^[0-9]+$ ]]; then
    die "PORT must be a number, got \"$requested_port\""
  fi
  memstore_bytes=${RGW_MEMSTORE_BYTES:-$DEFAULT_MEMSTORE_BYTES}
  [[ "$memstore_bytes" =~ ^[0-9]+$ ]] || die "RGW_MEMSTORE_BYTES must be a number of bytes"
  store=${RGW_STORE:-memstore}
  [[ "$store" == memstore || "$store" == bluestore ]] || die "RGW_STORE must be memstore or bluestore, got \"$store\""
  block_bytes=${RGW_BLOCK_BYTES:-$DEFAULT_BLOCK_BYTES}
  [[ "$block_bytes" =~ ^[0-9]+$ ]] || die "RGW_BLOCK_BYTES must be a number of bytes"
  block_dir_setting=${RGW_BLOCK_DIR:-}
  [[ -z "$block_dir_setting" || -d "$block_dir_setting" ]] || die "RGW_BLOCK_DIR $block_dir_setting is not a folder"
  access_key=${RGW_ACCESS_KEY:-$(random_string 'A-Z0-9' 20)}
  secret_key=${RGW_SECRET_KEY:-$(random_string 'A-Za-z0-9' 40)}

  cmd_install

  dir="" attempt_pid=""
  # Interrupted while starting: leave no half-started daemons behind. The attempt runs in the background
  # because bash defers traps until a foreground child ends, which could be a minute here.
  trap 'on_interrupt' INT TERM HUP

  local attempt rc started=$SECONDS tails=""
  for ((attempt = 1; attempt <= ATTEMPTS; attempt++)); do
    # Canonical, as `stop` resolves it too: the daemons' command lines must match it (see is_ours).
    dir="$(cd "$(mktemp -d /tmp/s3sync-rgw.XXXXXX)" && pwd -P)"
    touch "$dir/$MARKER"
    block_dir="$(cd "${block_dir_setting:-$dir}" && pwd -P)"
    port="" mon_port=""
    # errexit is ignored inside a subshell that is part of a condition, so run it plainly and collect rc.
    # Job control gives the attempt its own process group, which on_interrupt kills with its children.
    set -m
    (
      set -e
      start_once
    ) >&2 &
    attempt_pid=$!
    set +m
    rc=0
    wait "$attempt_pid" || rc=$?
    attempt_pid=""
    if ((rc == 0)); then
      trap - INT TERM HUP
      # The attempt ran in a subshell, so its port choice comes back through the folder.
      port="$(head -n 1 "$dir/ports")"
      log "ready on port $port in $((SECONDS - started)) s (attempt $attempt)"
      printf 'S3_ENDPOINT=http://127.0.0.1:%s\n' "$port"
      printf 'AWS_ACCESS_KEY_ID=%s\n' "$access_key"
      printf 'AWS_SECRET_ACCESS_KEY=%s\n' "$secret_key"
      printf 'AWS_REGION=us-east-1\n'
      printf 'RGW_DIR=%s\n' "$dir"
      return 0
    fi
    log "attempt $attempt of $ATTEMPTS failed"
    tails="$(log_tails)"
    cmd_stop "$dir"
    dir=""
    ((attempt == ATTEMPTS)) || sleep 1
  done
  [[ -z "$tails" ]] || printf '%s\n' "$tails" >&2
  die "could not start Ceph RGW after $ATTEMPTS attempts${tails:+ (logs of the last one above)}"
}

# ---------------------------------------------------------------------------------------------- stop

# True when PID is still a process started from DIR's ceph.conf: guards against PID reuse after a reboot
# or a long-dead instance, so a stale PID file can never kill a stranger.
is_ours() { # PID DIR
  local cmdline
  # Captured, not piped into grep -q: an early-exiting grep makes pipefail report a failure.
  cmdline="$(tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline")" || return 1
  [[ "$cmdline" == *"$2/ceph.conf"* ]]
}

# PIDs of still-running processes of ours recorded in DIR/pids/NAME.pid (and the daemons' own run/*.pid).
ours_in() { # DIR NAME|'*'
  local f pid
  for f in "$1"/pids/$2.pid "$1"/run/$2.pid; do
    [[ -f "$f" ]] || continue
    pid="$(<"$f")" || continue
    if [[ "$pid" =~ ^[0-9]+$ ]] && is_ours "$pid" "$1"; then printf '%s\n' "$pid"; fi
  done
}

terminate() { # DIR PID...  TERM, then KILL whatever is still ours after 10 s
  local target=$1 pid alive deadline=$((SECONDS + 10))
  shift
  (($#)) || return 0
  kill -TERM "$@" 2>/dev/null || true
  while :; do
    alive=()
    for pid in "$@"; do is_ours "$pid" "$target" && alive+=("$pid"); done
    ((${#alive[@]})) || return 0
    if ((SECONDS >= deadline)); then
      log "killing ${alive[*]} after 10 s"
      kill -KILL "${alive[@]}" 2>/dev/null || true
      return 0
    fi
    sleep 0.1
  done
}

cmd_stop() {
  local target=${1:-}
  [[ -n "$target" ]] || die "usage: rgw.sh stop DIR"
  [[ -d "$target" ]] || return 0
  target="$(cd "$target" && pwd -P)"
  [[ -e "$target/$MARKER" ]] || die "$target was not made by rgw.sh start (no $MARKER); not touching it"

  # Reverse start order, each only once the one above it is gone: radosgw with its OSD gone, and an
  # OSD with its monitor gone, each hang in shutdown until the KILL (measured: 10 s instead of 0.1 s).
  local name pids
  # '*' last: anything else recorded (the daemons' own pid files hold the same PIDs, so normally nothing).
  for name in rgw osd mon '*'; do
    mapfile -t pids < <(ours_in "$target" "$name")
    terminate "$target" "${pids[@]}"
  done
  # A BlueStore file kept elsewhere (RGW_BLOCK_DIR) is named after this folder: osd/block links to it.
  local block
  block="$(readlink "$target/osd/block" 2>/dev/null)" || true
  if [[ "$block" == */"$(basename "$target").block" && -f "$block" ]]; then rm -f -- "$block"; fi
  rm -rf -- "$target"
}

# ---------------------------------------------------------------------------------------------- main

case "${1:-}" in
  install) cmd_install ;;
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  -h | --help | help) usage ;;
  *) usage >&2; exit 2 ;;
esac
