#!/usr/bin/env bash
# The packaging factory's benchmarks (issue 12), not tests:
#   1. intake of one 2 GiB package and of 1,000 small debs against sha256sum
#      of the same files (target: ratio <= 1.2; peak RSS < 64 MiB whatever
#      the size), packages built here with dpkg-deb;
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

echo "building 1,000 small debs ..." >&2
mkdir -p "$work/small"
for i in $(seq 1 1000); do
  d="$work/pkg$i"
  mkdir -p "$d/DEBIAN" "$d/usr/share/doc/small$i"
  printf 'Package: small%d\nVersion: 1.%d-1\nArchitecture: all\nMaintainer: Bench <bench@example.org>\nDescription: small package %d\n' "$i" "$i" "$i" >"$d/DEBIAN/control"
  head -c $((4096 + i * 37)) /dev/urandom >"$d/usr/share/doc/small$i/data"
  dpkg-deb --root-owner-group -Zgzip --build "$d" "$work/small/small${i}_1.${i}-1_all.deb" >/dev/null
  rm -rf "$d"
done

"$work/factorybench" -label "${big} MiB deb" "$work/big-payload_1.0-1_all.deb"
"$work/factorybench" -label "1,000 small debs" "$work"/small/*.deb
# The same without the per-object fsync: what durability costs per file.
"$work/factorybench" -nosync -label "1,000 small debs" "$work"/small/*.deb
bash bench/vuln.sh
