#!/usr/bin/env bash
# The packaging factory's benchmarks (issue 12), not tests:
#   1. intake of one 2 GiB package and of 1,000 small debs against sha256sum
#      of the same files (target: ratio <= 1.2; peak RSS < 64 MiB whatever
#      the size), packages built here with dpkg-deb; the small debs as one
#      batch (packaging.IntakeBatch) and one durable intake per file;
#   2. SBOM vulnerability matching of 10,000 components against 100,000 OSV
#      records generated locally (target: under 1 s), bench/vuln.sh.
# BIG_MIB sets the large package's size (default 2048).
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in dpkg-deb sha256sum; do command -v "$tool" >/dev/null || { echo "bench/factory.sh needs $tool" >&2; exit 1; }; done
work=$(mktemp -d "${TMPDIR:-/tmp}/eucora-factory-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
go build -o "$work/factorybench" ./bench/factorybench

big=${BIG_MIB:-2048}
echo "building a ${big} MiB deb (random payload, stored uncompressed) ..." >&2
mkdir -p "$work/big/DEBIAN" "$work/big/usr/share/big"
printf 'Package: big-payload\nVersion: 1.0-1\nArchitecture: all\nMaintainer: Bench <bench@example.org>\nDescription: a large package\n' >"$work/big/DEBIAN/control"
head -c "$((big << 20))" /dev/urandom >"$work/big/usr/share/big/payload.bin"
dpkg-deb --root-owner-group -Znone --build "$work/big" "$work/big-payload_1.0-1_all.deb" >/dev/null
rm -rf "$work/big"

# The package trees stay until the end, and so does each run's store: on
# ext4 without a journal a new inode skips every inode of its block group
# freed in the last 60 s (300 s while the inode table is dirty), so
# deleting thousands of files just before the intake would make each of
# its file creations scan them, which measures the benchmark's clean-up
# rather than the intake.
echo "building 1,000 small debs ..." >&2
mkdir -p "$work/small" "$work/trees"
for i in $(seq 1 1000); do
  d="$work/trees/pkg$i"
  mkdir -p "$d/DEBIAN" "$d/usr/share/doc/small$i"
  printf 'Package: small%d\nVersion: 1.%d-1\nArchitecture: all\nMaintainer: Bench <bench@example.org>\nDescription: small package %d\n' "$i" "$i" "$i" >"$d/DEBIAN/control"
  head -c $((4096 + i * 37)) /dev/urandom >"$d/usr/share/doc/small$i/data"
  dpkg-deb --root-owner-group -Zgzip --build "$d" "$work/small/small${i}_1.${i}-1_all.deb" >/dev/null
done

"$work/factorybench" -store "$work/store-big" -label "${big} MiB deb" "$work/big-payload_1.0-1_all.deb"
# Many files in one process: one IntakeBatch, one durability point.
"$work/factorybench" -store "$work/store-batch" -label "1,000 small debs" "$work"/small/*.deb
# One durability point per file, as the hub takes one file per request.
"$work/factorybench" -store "$work/store-perfile" -perfile -label "1,000 small debs" "$work"/small/*.deb
# The batch without its fsyncs: what durability still costs.
"$work/factorybench" -store "$work/store-nosync" -nosync -label "1,000 small debs" "$work"/small/*.deb
bash bench/vuln.sh
