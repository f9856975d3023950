#!/usr/bin/env bash
# Transfer benchmark: eucora bundle create/extract against what an admin
# does by hand today, and against the hashing floor, measured in one run on
# the same corpus from a warm page cache.
#
#   bench/transfer.sh [SIZE]        SIZE like 2GiB (default), 512MiB
#   KEEP=1 bench/transfer.sh        keep the work directory
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${1:-${CORPUS_SIZE:-2GiB}}
bytes=$(numfmt --from=iec-i "${SIZE%B}")
for tool in tar zstd sha256sum openssl /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is required" >&2; exit 1; }
done
make -s build
E=$PWD/bin/eucora
W=${WORKDIR:-$(mktemp -d /tmp/eucora-bench-transfer.XXXXXX)}
[ -n "${KEEP:-}" ] || trap 'rm -rf "$W"' EXIT
echo "corpus: $SIZE ($bytes bytes) in $W; $(nproc) cores"
go run ./bench/corpusgen -out "$W/corpus" -size "$bytes"
cat $(find "$W/corpus" -type f) > /dev/null # warm the page cache for everyone
"$E" keys generate --out "$W/keys" --name bench --quiet >/dev/null

# measure NAME CMD...: wall seconds and peak RSS (KiB) into globals.
measure() {
  local name=$1; shift
  sync
  /usr/bin/time -f "%e %M" -o "$W/time.$name" "$@" >/dev/null
  read -r secs rss < "$W/time.$name"
  printf '  %-34s %7.2f s  peak RSS %6d MiB\n' "$name" "$secs" $((rss / 1024))
  eval "T_$name=$secs R_$name=$rss"
}

echo "hashing floor:"
measure floor sh -c "find '$W/corpus' -type f -print0 | xargs -0 openssl dgst -sha256"
echo "create:"
measure tar_zstd_sha sh -c "tar -cf - -C '$W/corpus' . | zstd -T0 -3 -q -o '$W/hand.tar.zst' && sha256sum '$W/hand.tar.zst'"
measure eucora_create "$E" bundle create --quiet --from "$W/corpus" --out "$W/bundle" --key "$W/keys/bench.key"
echo "extract:"
mkdir -p "$W/hand"
measure zstd_tar_sha sh -c "zstd -d -q -c '$W/hand.tar.zst' | tar -x -C '$W/hand' && find '$W/hand' -type f -print0 | xargs -0 sha256sum"
measure eucora_extract "$E" bundle extract --quiet --trust "$W/keys/bench.pub" --to "$W/extracted" "$W/bundle"
echo "verify (read-only, nothing written):"
measure eucora_verify "$E" bundle verify --quiet --trust "$W/keys/bench.pub" "$W/bundle"

diff -rq "$W/corpus" "$W/extracted" >/dev/null || { echo "bench: extracted tree differs from the corpus" >&2; exit 1; }
hand=$(du -sb "$W/hand.tar.zst" | cut -f1); ours=$(du -sb "$W/bundle" | cut -f1)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo "results (lower is better; targets: vs baseline <= 0.50, vs floor <= 1.50, RSS < 100 MiB):"
echo "  create  / (tar | zstd -T0 -3 ; sha256sum)  = $(ratio "$T_eucora_create" "$T_tar_zstd_sha")"
echo "  extract / (zstd -d | tar -x ; sha256sum)   = $(ratio "$T_eucora_extract" "$T_zstd_tar_sha")"
echo "  create  / openssl dgst -sha256 floor       = $(ratio "$T_eucora_create" "$T_floor")"
echo "  extract / openssl dgst -sha256 floor       = $(ratio "$T_eucora_extract" "$T_floor")"
echo "  verify  / openssl dgst -sha256 floor       = $(ratio "$T_eucora_verify" "$T_floor")"
echo "  peak RSS: create $((R_eucora_create / 1024)) MiB, extract $((R_eucora_extract / 1024)) MiB, verify $((R_eucora_verify / 1024)) MiB"
echo "  size: bundle $(ratio "$ours" "$bytes") of corpus, tar.zst -3 $(ratio "$hand" "$bytes")"
