// Package mobile reads the facts of iOS (.ipa) and Android (.apk) app
// packages natively, through facts.OpenZip's bomb-safe zip reader.
//
// An .ipa is a zip holding Payload/NAME.app: its Info.plist (XML or binary
// "bplist00", both read here within Limits.MaxMetadata) names the bundle
// identifier and versions; embedded.mobileprovision, a CMS SignedData
// whose content is a plist, names the team and the entitlements; the
// presence of _CodeSignature/CodeResources says the bundle is code signed.
// The signature itself lives in the Mach-O executable and chains to
// Apple's roots: it is reported present and not verified.
//
// An .apk is a zip holding AndroidManifest.xml in Android's binary XML
// (AXML, read here: string pool, resource map, element and attribute
// chunks, every offset and count checked) for the package name, version
// and permissions. Its signature is either the v1 JAR signature
// (META-INF/*.RSA, *.DSA, *.EC: a PKCS#7 SignedData whose certificates are
// read with encoding/asn1 and crypto/x509) or the APK Signing Block (v2,
// v3) that stands just before the zip central directory, whose first
// signer's certificate is read. Neither the JAR digests nor the v2/v3
// signatures are verified: the Signature says so.
package mobile
