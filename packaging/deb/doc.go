// Package deb reads the facts of a Debian binary package (.deb) natively,
// without dpkg, as deb(5) lays it out:
//
//	!<arch>\n                      ar archive (read by this package, bounded)
//	  debian-binary                "2.0\n": major version 2 is the only one read
//	  control.tar[.gz|.xz|.zst]    control, conffiles, maintainer scripts, md5sums
//	  data.tar[.gz|.xz|.zst|.bz2|.lzma]  the files installed
//	  _gpgorigin, _gpgbuilder...   debsig signatures (debsigs, dpkg-sig), optional
//
// Members whose names start with "_" may stand between the required ones
// and are skipped; anything after data.tar is ignored, as dpkg does, except
// the _gpg* signature members.
//
// data.tar can be gigabytes: it is read once, sequentially, through a
// bounded buffer and one decompressor whose memory is capped (xz dictionary
// and zstd window at 64 and 32 MiB), and only its tar headers are kept
// (plus systemd unit and init.d files, read within Limits.MaxMetadata), so
// memory does not grow with the size of the package. Limits.MaxEntries
// bounds the members of each tar, Limits.MaxMetadata each control member
// and unit file read, Limits.MaxUncompressed the bytes decompressed in
// total and Limits.MaxRatio the expansion of any compressed member.
//
// Facts.Files.Count counts the entries of data.tar that are not
// directories (regular files, symlinks, hard links, devices): the lines of
// `dpkg-deb -c` that do not start with "d". Bytes sums the regular files.
//
// A debsig signature is a detached OpenPGP signature over the contents of
// debian-binary, control.tar* and data.tar* concatenated (debsigs); dpkg-sig
// writes a clearsigned manifest of the members' digests instead. Both are
// verified by InspectWithKeyring against the keyring given, in the same
// single pass over the file; Inspect, without a keyring, reports them
// present and not verified.
package deb
