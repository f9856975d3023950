# shellcheck shell=bash
# Shared by the bench scripts: source it, do not run it.

# index_upstream DIST UP GPGHOME: (re)writes the indexes of the APT
# repository in UP for distribution DIST (one component, main; amd64):
# Packages (plain, .gz, .xz) and a Release signed with the key in GPGHOME
# as InRelease and Release.gpg.
index_upstream() {
  local dist=$1 up=$2 gpghome=$3
  local dd=$up/dists/$dist bin=$up/dists/$dist/main/binary-amd64
  rm -rf "$dd"; mkdir -p "$bin"
  (cd "$up" && apt-ftparchive packages pool > "$bin/Packages")
  gzip -9nk "$bin/Packages"; xz -k -T0 "$bin/Packages"
  (cd "$dd" && apt-ftparchive -o APT::FTPArchive::Release::Origin=Bench -o "APT::FTPArchive::Release::Suite=$dist" \
     -o "APT::FTPArchive::Release::Codename=$dist" -o APT::FTPArchive::Release::Architectures=amd64 \
     -o APT::FTPArchive::Release::Components=main release . > Release.tmp && mv Release.tmp Release)
  GNUPGHOME=$gpghome gpg --batch -q --yes --clearsign -o "$dd/InRelease" "$dd/Release"
  GNUPGHOME=$gpghome gpg --batch -q --yes -abs -o "$dd/Release.gpg" "$dd/Release"
}
