// Package authenticode verifies Authenticode signatures natively: the
// PKCS#7 SignedData that Windows code signing embeds in PE files (.exe,
// .dll) and MSI installers, and that MSIX/APPX packages carry in
// AppxSignature.p7x.
//
// A verification answers a *facts.Signature with one of the states of the
// packaging/facts contract:
//
//   - unsigned: the file carries no signature;
//   - invalid: a signature is there but does not verify over the file: the
//     content digest it signed is not the file's (the file was modified
//     after signing), the signer's signature over its authenticated
//     attributes does not verify, or the structure is broken;
//   - trusted: valid over the content, and the signer's certificate chains
//     (with the code-signing usage) to a root of Options.Trust at
//     Options.Now, or at the time of a verified timestamp that lies inside
//     the signer's validity;
//   - expired: valid over the content and chaining to a trusted root, but
//     the signer's certificate has expired and no trusted timestamp inside
//     its validity says it signed while valid;
//   - untrusted: valid over the content, but the chain reaches no trusted
//     root (a nil TrustStore trusts nothing).
//
// Timestamps are read from the signer's unsigned attributes: an RFC 3161
// token (1.3.6.1.4.1.311.3.3.1) or the legacy PKCS#9 countersignature
// (1.2.840.113549.1.9.6). A timestamp counts only when its own signature
// verifies over the signer's signature and its signer chains, with the
// time-stamping usage, to a trusted root at the time it states.
//
// What is hashed follows the formats' own rules. PE: the Authenticode
// image hash of the PE/COFF specification (the headers without the
// CheckSum field and the security directory entry, the sections in file
// order, then the data up to the certificate table), streamed through the
// io.ReaderAt with a bounded buffer. MSI: the contents of every stream of
// the compound file in the order osslsigncode and Windows sort them (the
// raw UTF-16 names, storage by storage), without the two signature
// streams, each storage followed by its CLSID; and, when an
// \x05MsiDigitalSignatureEx stream is present, the pre-hash of the
// entries' metadata before that.
//
// Files that break their own format (a security directory outside the file
// or absurdly large, a compound file whose sector chains loop) are
// *facts.DefectError, not signature states: they are refused, not judged.
package authenticode
