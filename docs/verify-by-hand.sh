#!/bin/sh
# Verify one EUCORA bundle volume with standard tools only: tar, zstd,
# sha256sum, OpenSSL 3 (pkeyutl -rawin needs 3.0), jq, base64 and GNU date.
# Usage:
#   sh verify-by-hand.sh VOLUME.tar TRUSTED.pub
# TRUSTED.pub is the hub's public key (PEM "PUBLIC KEY", Ed25519), the file
# `eucora hub init` writes as keys/hub.pub. Prints OK and exits 0 when the
# volume is authentic, unexpired and holds exactly the entries the signed
# manifest assigns to it, each intact. See docs/bundle-format.md.
set -eu
vol=$1 pub=$2
fail() { echo "$vol: $*" >&2; exit 1; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

# 0. Before extracting anything: only regular files named objects/<sha256>,
#    objects/<sha256>.zst and MANIFEST.dsse.json (last), none twice.
tar -tf "$vol" > "$work/names" || fail "not a readable tar file"
tar -tvf "$vol" | cut -c1 | grep -qv '^-$' && fail "holds an entry that is not a regular file"
grep -Evx 'objects/[0-9a-f]{64}(\.zst)?|MANIFEST\.dsse\.json' "$work/names" | head -1 | grep -q . &&
  fail "unexpected entry name: $(grep -Evx 'objects/[0-9a-f]{64}(\.zst)?|MANIFEST\.dsse\.json' "$work/names" | head -1)"
[ "$(tail -n 1 "$work/names")" = MANIFEST.dsse.json ] || fail "MANIFEST.dsse.json is not the last entry"
[ -z "$(sed -E 's/\.zst$//' "$work/names" | sort | uniq -d)" ] || fail "an object appears twice"
mkdir "$work/v"
tar -xf "$vol" -C "$work/v"
env="$work/v/MANIFEST.dsse.json"

# 1. The envelope and its payload type, which names the format version.
jq -e 'keys_unsorted == ["payloadType","payload","signatures"]' "$env" >/dev/null ||
  fail "MANIFEST.dsse.json is not a DSSE envelope"
type=$(jq -r .payloadType "$env")
case $type in
  application/vnd.eucora.bundle-manifest.v1+json) format=eucora-bundle/v1 ;;
  application/vnd.eucora.bundle-manifest.v2+json) format=eucora-bundle/v2 ;;
  *) fail "unknown payload type $type" ;;
esac
jq -r .payload "$env" | base64 -d > "$work/payload.json"

# 2. The signature: Ed25519 over DSSE's pre-authentication encoding
#    "DSSEv1 <len(type)> <type> <len(payload)> <payload>", by the trusted
#    key, whose id is the SHA-256 of its DER form.
keyid=$(openssl pkey -pubin -in "$pub" -outform DER | sha256sum | cut -d' ' -f1)
jq -r --arg k "$keyid" '.signatures[] | select(.keyid == $k) | .sig' "$env" | head -1 | base64 -d > "$work/sig.bin"
[ -s "$work/sig.bin" ] || fail "not signed by the trusted key $keyid (signed by: $(jq -r '[.signatures[].keyid] | join(", ")' "$env"))"
len=$(wc -c < "$work/payload.json")
printf 'DSSEv1 %d %s %d ' "${#type}" "$type" "$len" > "$work/pae.bin"
cat "$work/payload.json" >> "$work/pae.bin"
openssl pkeyutl -verify -pubin -inkey "$pub" -rawin -in "$work/pae.bin" -sigfile "$work/sig.bin" >/dev/null ||
  fail "the signature by key $keyid does not verify"
m="$work/payload.json"

# 3. Format version, key id and expiry from the signed payload.
[ "$(jq -r .format "$m")" = "$format" ] || fail "manifest format $(jq -r .format "$m") under payload type $type"
[ "$(jq -r .key_id "$m")" = "$keyid" ] || fail "manifest names key $(jq -r .key_id "$m"), signed by $keyid"
expires=$(jq -r .expires "$m")
[ "$(date -u +%s)" -lt "$(date -u -d "$expires" +%s)" ] || fail "bundle $(jq -r .bundle_id "$m") expired at $expires"

# 4. The entry set: the volume's number comes from its first entry, and the
#    volume must hold exactly the entries the manifest assigns to it (v2
#    also signs whether each entry is stored raw or as .zst).
grep -v '^MANIFEST\.dsse\.json$' "$work/names" | sort > "$work/have" || true
if [ -s "$work/have" ]; then
  first=$(head -1 "$work/have" | sed -E 's|^objects/||; s|\.zst$||')
  n=$(jq -r --arg d "$first" 'first(.objects[].parts[] | select(.digest == $d) | .volume) // empty' "$m")
  [ -n "$n" ] || fail "object $first is not in the manifest"
else
  n=1
fi
jq -r --argjson n "$n" --arg f "$format" '[.objects[].parts[] | select(.volume == $n)] | unique_by(.digest)[]
  | "objects/" + .digest + (if $f != "eucora-bundle/v1" and .encoding == "zstd" then ".zst" else "" end)' "$m" | sort > "$work/want"
if [ "$format" = eucora-bundle/v1 ]; then # v1 does not sign the encoding
  sed -E 's/\.zst$//' "$work/have" | sort > "$work/have.cmp"
else
  cp "$work/have" "$work/have.cmp"
fi
if ! cmp -s "$work/want" "$work/have.cmp"; then
  missing=$(comm -23 "$work/want" "$work/have.cmp" | tr '\n' ' ')
  extra=$(comm -13 "$work/want" "$work/have.cmp" | tr '\n' ' ')
  fail "volume $n of $(jq -r .volumes "$m"): entries differ from the manifest; missing: ${missing:-none}; not assigned to this volume: ${extra:-none}"
fi

# 5. Every entry: v2 signs a .zst entry's stored size and SHA-256; the
#    SHA-256 of the raw (decompressed) bytes is the entry's name.
count=0
while read -r name; do
  d=${name#objects/}; d=${d%.zst}
  f="$work/v/$name"
  if [ "$name" != "${name%.zst}" ]; then
    if [ "$format" != eucora-bundle/v1 ]; then
      want=$(jq -r --arg d "$d" 'first(.objects[].parts[] | select(.digest == $d)) | "\(.stored_size) \(.stored_digest)"' "$m")
      got="$(wc -c < "$f") $(sha256sum < "$f" | cut -d' ' -f1)"
      [ "$got" = "$want" ] || fail "$name: stored bytes are $got, the manifest signs $want"
    fi
    got=$(zstd -dcq < "$f" | sha256sum | cut -d' ' -f1)
  else
    got=$(sha256sum < "$f" | cut -d' ' -f1)
  fi
  [ "$got" = "$d" ] || fail "$name: content hashes to $got"
  count=$((count + 1))
done < "$work/have"
echo "OK: signature by key $keyid verifies; $format bundle $(jq -r .bundle_id "$m") volume $n of $(jq -r .volumes "$m"), expires $expires; $count entries match the manifest"
