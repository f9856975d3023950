// Package xar reads xar archives, the container of macOS flat installer
// packages (.pkg), natively and within facts.Limits, and InspectPkg turns
// an installer package into facts.Facts.
//
// A xar file is a 28-byte big-endian header ("xar!", header size,
// version 1, the TOC's compressed and uncompressed lengths, the TOC
// checksum algorithm), a zlib-compressed XML table of contents (TOC), and
// the heap: every offset in the TOC is relative to the heap's start, right
// after the TOC. The TOC checksum (the digest of the compressed TOC) is
// stored in the heap at toc/checksum/offset; a signature (<signature
// style="RSA">) is an RSA PKCS#1 v1.5 signature over that checksum, so it
// covers the TOC and, through the TOC's per-file archived checksums, every
// file's stored bytes.
//
// Open verifies the TOC checksum, the TOC's lengths and every heap range
// before anything else is believed; Archive.Open decodes one file's data
// bounded by its declared size, the ratio limit and the archive's total
// decompression budget, and checks its archived and extracted checksums
// at its end.
//
// An installer package is either a product archive (a Distribution file
// and one directory per component package, each holding PackageInfo, Bom,
// Payload and Scripts) or a single component package (PackageInfo, Bom,
// Payload and Scripts at its root). Payload and Scripts are cpio archives
// ("odc" or "newc"), gzip- or bzip2-compressed, or in pbzx chunks.
package xar
