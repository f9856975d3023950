#!/bin/sh
# Verify one EUCORA bundle volume with standard tools only: tar, zstd,
# sha256sum, openssl, sed, base64. Usage:
#   sh verify-by-hand.sh VOLUME.tar TRUSTED.pub
# Prints OK and exits 0 when the volume is authentic and intact.
set -eu
vol=$1 pub=$2
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
tar -xf "$vol" -C "$work"
env="$work/MANIFEST.dsse.json"

# 1. The manifest's signature: Ed25519 over DSSE's pre-authentication
#    encoding "DSSEv1 <len(type)> <type> <len(payload)> <payload>".
type=$(sed -E 's/^\{"payloadType":"([^"]*)".*/\1/' "$env")
sed -E 's/.*"payload":"([^"]*)".*/\1/' "$env" | base64 -d > "$work/payload.json"
sed -E 's/.*"sig":"([^"]*)".*/\1/' "$env" | base64 -d > "$work/sig.bin"
len=$(wc -c < "$work/payload.json")
printf 'DSSEv1 %d %s %d ' "${#type}" "$type" "$len" > "$work/pae.bin"
cat "$work/payload.json" >> "$work/pae.bin"
openssl pkeyutl -verify -pubin -inkey "$pub" -rawin -in "$work/pae.bin" -sigfile "$work/sig.bin" >/dev/null
# The key id in the manifest is the SHA-256 of the public key's DER form.
keyid=$(openssl pkey -pubin -in "$pub" -outform DER | sha256sum | cut -d' ' -f1)
grep -q "\"key_id\":\"$keyid\"" "$work/payload.json"

# 2. Every object: the SHA-256 of its raw (decompressed) bytes is its name,
#    and the signed manifest lists it.
n=0
for f in "$work"/objects/*; do
  [ -e "$f" ] || continue
  name=$(basename "$f" .zst)
  if [ "$f" != "${f%.zst}" ]; then
    got=$(zstd -dcq "$f" | sha256sum | cut -d' ' -f1)
  else
    got=$(sha256sum "$f" | cut -d' ' -f1)
  fi
  [ "$got" = "$name" ] || { echo "object $name: content hashes to $got" >&2; exit 1; }
  grep -q "\"digest\":\"$name\"" "$work/payload.json" || { echo "object $name is not in the manifest" >&2; exit 1; }
  n=$((n + 1))
done
echo "OK: signature by key $keyid verifies; $n objects match their names and the manifest"
