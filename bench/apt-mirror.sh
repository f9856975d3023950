#!/usr/bin/env bash
# Benchmark: EUCORA's APT mirror against aptly on the same upstream.
#
# Builds an upstream of N small packages plus a few large ones (bench/debgen
# writes valid .deb files directly), indexes it with apt-ftparchive, signs it
# with gpg, serves it on 127.0.0.1, then times, for each tool:
#   1. mirror create       2. mirror sync/update   3. snapshot create
#   4. publish (signed)    5. after one package changes upstream:
#      sync + snapshot + re-publish (aptly: mirror update, snapshot create,
#      publish switch)
# and prints the ratio EUCORA/aptly per step (target: <= 0.5).
#
# Needs: go, aptly, apt-ftparchive (apt-utils), gpg, xz, gzip.
# Env: N (default 2000), LARGE (3), LARGE_MB (40), REPEAT (5), KEEP=1 keeps the work dir.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
N=${N:-2000}
LARGE=${LARGE:-3}
LARGE_MB=${LARGE_MB:-40}
for t in go aptly apt-ftparchive gpg xz gzip; do
  command -v "$t" >/dev/null || { echo "bench-apt: $t is not installed (apt-get install aptly apt-utils gnupg xz-utils)" >&2; exit 1; }
done

W=$(mktemp -d "${TMPDIR:-/tmp}/bench-apt.XXXXXX") # TMPDIR=/dev/shm runs it on tmpfs
cleanup() {
  [ -n "${SRV_PID:-}" ] && kill "$SRV_PID" 2>/dev/null || true
  GNUPGHOME=$W/gpg-up gpgconf --kill gpg-agent 2>/dev/null || true
  GNUPGHOME=$W/gpg-pub gpgconf --kill gpg-agent 2>/dev/null || true
  [ "${KEEP:-0}" = 1 ] && echo "kept $W" || rm -rf "$W"
}
trap cleanup EXIT

echo "== building eucora (as make build does) and debgen"
make -s build BIN="$W/eucora"
go build -o "$W/debgen" ./bench/debgen
EU="$W/eucora"

now() { date +%s.%N; }
elapsed() { awk -v a="$(now)" -v b="$1" 'BEGIN{printf "%.6f", a-b}'; }
calc() { awk "BEGIN{printf \"%.6f\", $1}"; }

echo "== upstream: $N small packages + $LARGE x ${LARGE_MB} MiB"
UP=$W/upstream
mkdir -p "$UP" "$W/gpg-up" "$W/gpg-pub"
chmod 700 "$W/gpg-up" "$W/gpg-pub"
t0=$(now)
"$W/debgen" gen -out "$UP" -n "$N" -large "$LARGE" -large-mb "$LARGE_MB"
GNUPGHOME=$W/gpg-up gpg --batch -q --passphrase '' --quick-gen-key 'Bench upstream <up@example.invalid>' ed25519 sign never
GNUPGHOME=$W/gpg-up gpg --batch -q --export > "$W/upstream.gpg"

index_upstream bench "$UP" "$W/gpg-up"
"$W/debgen" serve -dir "$UP" -addr 127.0.0.1:0 -addr-file "$W/addr" & SRV_PID=$!
for _ in $(seq 50); do [ -s "$W/addr" ] && break; sleep 0.1; done
URL="http://$(cat "$W/addr")"
echo "   built and serving at $URL in $(printf %.1f "$(elapsed "$t0")") s"

# Same selection for both: every pkg-* and the large ones.
EU_FILTER='pkg-* | Section:big'
APTLY_FILTER='Name (% pkg-*) | Section (big)'

echo "== publish keys"
"$EU" keys generate --type openpgp --name bench --out "$W/keys" -q >/dev/null
GNUPGHOME=$W/gpg-pub gpg --batch -q --import "$W/keys/bench.key.asc"
KEYID=$(GNUPGHOME=$W/gpg-pub gpg --batch --with-colons --list-secret-keys | awk -F: '/^fpr/ {print $10; exit}')

export GNUPGHOME=$W/gpg-pub
REPEAT=${REPEAT:-5}
declare -A T
step() { # step NAME TOOL cmd...
  local name=$1 tool=$2; shift 2
  # Flush dirty pages first (untimed) so no step pays for the previous
  # tool's unwritten data: EUCORA syncs its store before it commits state
  # (aptly does not), and syncfs would otherwise flush aptly's files too.
  sync
  # The clock is read from bash's EPOCHREALTIME, with no process started
  # inside the timed region ($(date) costs a few ms here, the same for both
  # tools, which pulled short steps' ratios towards 1).
  local s=$EPOCHREALTIME e
  "$@" > "$W/$tool-$name.log" 2>&1 || { echo "FAILED: $tool $name (see below)"; tail -20 "$W/$tool-$name.log"; exit 1; }
  e=$EPOCHREALTIME
  T[$tool,$name,$r]=$(awk -v a="$e" -v b="$s" 'BEGIN{printf "%.6f", a-b}')
  # EUCORA's times include making its results durable (fsync/syncfs);
  # aptly never fsyncs. Also record aptly's time plus a sync(1), for a
  # like-for-like "durable" comparison (informational).
  if [ "$tool" = aptly ]; then s=$EPOCHREALTIME; sync; e=$EPOCHREALTIME; T[aptlyd,$name,$r]=$(calc "${T[aptly,$name,$r]} + $e - $s"); fi
}

for r in $(seq "$REPEAT"); do
  echo "== run $r of $REPEAT"
  D=$W/eucora-data-$r
  cat > "$W/aptly.conf" <<JSON
{"rootDir": "$W/aptly-$r", "downloadConcurrency": 8, "architectures": ["amd64"],
 "gpgDisableSign": false, "gpgDisableVerify": false, "gpgProvider": "gpg",
 "skipContentsPublishing": true, "skipBz2Publishing": true}
JSON
  APTLY="aptly -config=$W/aptly.conf"

  # Steps alternate between the tools so both see the same background load.
  step create eucora "$EU" mirror apt create up --data "$D" --url "$URL" --dist bench --keyring "$W/upstream.gpg" --filter "$EU_FILTER" --with-deps -q
  step create aptly $APTLY mirror create -keyring="$W/upstream.gpg" -architectures=amd64 -filter="$APTLY_FILTER" -filter-with-deps up "$URL" bench main
  step sync eucora "$EU" mirror apt sync up --data "$D" -q
  step sync aptly $APTLY mirror update -keyring="$W/upstream.gpg" up
  step snapshot eucora "$EU" mirror apt snapshot up --as s1 --data "$D" -q
  step snapshot aptly $APTLY snapshot create s1 from mirror up
  step publish eucora "$EU" mirror apt publish s1 --data "$D" --key "$W/keys/bench.key.asc" --prefix bench --dist bench -q
  step publish aptly $APTLY publish snapshot -batch -gpg-key="$KEYID" -distribution=bench s1 bench

  # One package changes upstream.
  "$W/debgen" bump -out "$UP" -name pkg-0007 -version "1.$r"
  index_upstream bench "$UP" "$W/gpg-up"
  resync_eu() {
    "$EU" mirror apt sync up --data "$D" -q && "$EU" mirror apt snapshot up --as s2 --data "$D" -q &&
    "$EU" mirror apt publish s2 --data "$D" --key "$W/keys/bench.key.asc" --prefix bench --dist bench -q
  }
  resync_aptly() {
    $APTLY mirror update -keyring="$W/upstream.gpg" up && $APTLY snapshot create s2 from mirror up &&
    $APTLY publish switch -batch -gpg-key="$KEYID" bench bench s2
  }
  step republish eucora resync_eu
  step republish aptly resync_aptly

  # Sanity: both published the same package set, and apt's gpgv accepts ours.
  EU_PKGS=$(grep -c '^Package:' "$D/mirror/public/bench/dists/bench/main/binary-amd64/Packages")
  AP_PKGS=$(grep -c '^Package:' "$W/aptly-$r/public/bench/dists/bench/main/binary-amd64/Packages")
  echo "   published packages: eucora $EU_PKGS, aptly $AP_PKGS"
  [ "$EU_PKGS" = "$AP_PKGS" ] || { echo "package sets differ"; exit 1; }
  gpgv --keyring "$W/keys/bench.gpg" "$D/mirror/public/bench/dists/bench/InRelease" 2>/dev/null || { echo "gpgv rejects EUCORA's InRelease"; exit 1; }
  for s in create sync snapshot publish republish; do
    printf '   %-10s eucora %7.3f s  aptly %7.3f s\n' "$s" "${T[eucora,$s,$r]}" "${T[aptly,$s,$r]}"
  done
  # Each run's directories stay until the end: on ext4 without a journal
  # (these VMs' root) the inode allocator skips inodes freed in the last
  # 5-300 s one by one (recently_deleted() in fs/ext4/ialloc.c), so deleting
  # a run's ~10,000 files would slow the next run's file creation for
  # whichever tool's directories land in the freed block groups.
done

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
echo
echo "median of $REPEAT runs (upstream: $N small + $LARGE x $LARGE_MB MiB packages)"
echo "ratio = median eucora / median aptly; paired = median of the per-run ratios (each run's"
echo "steps alternate between the tools, so pairing cancels most of a shared machine's load drift)"
printf '%-10s %10s %10s %8s %8s  %-14s %14s %8s\n' step eucora_s aptly_s ratio paired 'target <= 0.50' aptly+sync_s ratio
fail=0
declare -A M
for s in create sync snapshot publish republish; do
  ev=() av=() dv=() pv=()
  for r in $(seq "$REPEAT"); do
    ev+=("${T[eucora,$s,$r]}"); av+=("${T[aptly,$s,$r]}"); dv+=("${T[aptlyd,$s,$r]}")
    pv+=("$(calc "${T[eucora,$s,$r]} / ${T[aptly,$s,$r]}")")
  done
  paired=$(median "${pv[@]}")
  e=$(median "${ev[@]}") a=$(median "${av[@]}") ad=$(median "${dv[@]}")
  M[eucora,$s]=$e; M[aptly,$s]=$a
  ratio=$(calc "$e / $a")
  ok=ok; if awk "BEGIN{exit !($ratio > 0.5 || $paired > 0.5)}"; then ok=MISSED; fail=1; fi
  printf "%-10s %10.3f %10.3f %8.3f %8.3f  %-14s %14.3f %8.3f\n" "$s" "$e" "$a" "$ratio" "$paired" "$ok" "$ad" "$(calc "$e / $ad")"
done
te=0; ta=0
for s in create sync snapshot publish; do te=$(calc "$te + ${M[eucora,$s]}"); ta=$(calc "$ta + ${M[aptly,$s]}"); done
printf '%-10s %10.3f %10.3f %8.3f\n' total "$te" "$ta" "$(calc "$te / $ta")"
exit 0
