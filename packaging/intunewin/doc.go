// Package intunewin builds and reads .intunewin files, the content format of
// Intune Win32 apps, laid out as Microsoft's Win32 Content Prep Tool
// (IntuneWinAppUtil) lays them out:
//
//	SETUP.intunewin                                  outer zip
//	  IntuneWinPackage/Contents/IntunePackage.intunewin  the encrypted file
//	  IntuneWinPackage/Metadata/Detection.xml            ApplicationInfo
//
// The encrypted file is HMAC (32 bytes) || IV (16 bytes) || ciphertext,
// where the plaintext is the setup folder zipped, the ciphertext is
// AES-256-CBC with PKCS#7 padding under a random 32-byte key and 16-byte
// IV, and the HMAC is HMAC-SHA256 under a random 32-byte MAC key over
// IV || ciphertext. Detection.xml carries the keys, the IV, the MAC and the
// SHA-256 of the plaintext zip (FileDigest): the same seven values Graph's
// fileEncryptionInfo takes when the upload is committed, and by which the
// service decrypts and checks the file.
//
// The same encryption, without the zip, is the content of Intune's other
// line-of-business apps (macOS pkg, iOS ipa, Android apk): Encrypt.
//
// Everything streams: building holds one temporary file (the plaintext
// zip) and reading needs an io.ReaderAt; memory stays constant whatever
// the size of the setup folder. A reader refuses a file whose MAC or digest
// does not match (ErrMAC, ErrDigest) and one that looks like a zip bomb
// (ErrTooLarge) before it decompresses anything.
package intunewin
