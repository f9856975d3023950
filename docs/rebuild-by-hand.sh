#!/bin/sh
# Rebuild the tree an EUCORA bundle carries with standard tools only: tar,
# zstd, sha256sum, OpenSSL 3 (pkeyutl -rawin needs 3.0), jq, base64 and GNU
# date and coreutils. Usage:
#   sh rebuild-by-hand.sh TRUSTED.pub TARGET VOLUME.tar...
# Give every volume of the bundle, in any order. TRUSTED.pub is the hub's
# public key (PEM "PUBLIC KEY", Ed25519: keys/hub.pub of the hub's data
# directory). TARGET must not exist. Regular files and directories are
# rebuilt with their permission bits; mtimes and owners are not carried
# (files get the current time and the user running the script).
# See docs/bundle-format.md, "Rebuilding the tree by hand".
set -eu
[ $# -ge 3 ] || { echo "usage: sh rebuild-by-hand.sh TRUSTED.pub TARGET VOLUME.tar..." >&2; exit 2; }
pub=$1 target=$2; shift 2
fail() { echo "rebuild: $*" >&2; exit 1; }
[ ! -e "$target" ] || fail "$target exists"
here=$(dirname "$0")
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
mkdir "$work/entries" "$work/objects"

# 1. Verify each volume alone (signature, format, expiry, entry set, every
#    entry's bytes), require them all to carry the same signed manifest and
#    every volume to be given once.
for vol in "$@"; do
  sh "$here/verify-by-hand.sh" "$vol" "$pub" > "$work/verify.out" || exit 1
  n=$(sed -E 's/.* volume ([0-9]+) of .*/\1/' "$work/verify.out")
  mkdir "$work/v"
  tar -xf "$vol" -C "$work/v"
  jq -r .payload "$work/v/MANIFEST.dsse.json" | base64 -d > "$work/payload.json"
  if [ -e "$work/manifest.json" ]; then
    cmp -s "$work/payload.json" "$work/manifest.json" || fail "$vol belongs to another bundle"
  else
    mv "$work/payload.json" "$work/manifest.json"
  fi
  [ ! -e "$work/volume.$n" ] || fail "$vol: volume $n given twice"
  : > "$work/volume.$n"
  # Each entry is a part: decompress .zst entries to their raw bytes.
  for f in "$work"/v/objects/*; do
    [ -e "$f" ] || continue
    d=$(basename "$f" .zst)
    if [ "$f" != "${f%.zst}" ]; then zstd -dcq < "$f" > "$work/entries/$d"; else mv "$f" "$work/entries/$d"; fi
  done
  rm -rf "$work/v"
done
m="$work/manifest.json"
total=$(jq -r .volumes "$m")
i=1
while [ "$i" -le "$total" ]; do
  [ -e "$work/volume.$i" ] || fail "volume $i of $total is missing"
  i=$((i + 1))
done

# 2. Paths are relative and safe (the format forbids anything else).
bad=$(jq -r '(.dirs // [])[].path, (.files // [])[].path
  | select(test("^/|\\\\") or (explode | any(. < 32 or . == 127)) or (split("/") | any(. == "" or . == "." or . == "..")))' "$m" | head -1)
[ -z "$bad" ] || fail "unsafe path in the manifest: $bad"

# 3. Objects: the parts joined in the listed order; the result's SHA-256 is
#    the object's digest. An unsplit object is its single part.
jq -r '.objects[] | .digest + " " + ([.parts[].digest] | join(" "))' "$m" | while read -r d parts; do
  : > "$work/objects/$d"
  for p in $parts; do cat "$work/entries/$p" >> "$work/objects/$d"; done
  [ "$(sha256sum < "$work/objects/$d" | cut -d' ' -f1)" = "$d" ] || fail "object $d: parts do not join to it"
done

# 4. The tree: directories (including empty ones), then files, then modes.
#    mode is a decimal JSON integer holding permission bits only.
mkdir "$work/tree"
jq -r '(.dirs // [])[].path' "$m" | while IFS= read -r p; do mkdir -p "$work/tree/$p"; done
jq -r '(.files // [])[] | "\(.mode)\t\(.digest)\t\(.path)"' "$m" | while IFS="$(printf '\t')" read -r mode d p; do
  mkdir -p "$(dirname "$work/tree/$p")"
  cp "$work/objects/$d" "$work/tree/$p"
  chmod "$(printf '%o' "$mode")" "$work/tree/$p"
done
# Directory modes deepest first, so a read-only directory is filled first.
jq -r '(.dirs // []) | sort_by(.path | length) | reverse[] | "\(.mode)\t\(.path)"' "$m" | while IFS="$(printf '\t')" read -r mode p; do
  chmod "$(printf '%o' "$mode")" "$work/tree/$p"
done
chmod 755 "$work/tree"
mv "$work/tree" "$target"
echo "OK: rebuilt $(jq '(.files // []) | length' "$m") files and $(jq '(.dirs // []) | length' "$m") directories of bundle $(jq -r .bundle_id "$m") in $target"
