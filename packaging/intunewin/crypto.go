package intunewin

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
)

// ErrCorrupt: the encrypted file is shorter than its header or its
// ciphertext is not whole AES blocks.
var ErrCorrupt = errors.New("corrupt encrypted file")

// chunk is how much plaintext or ciphertext is handled at a time.
const chunk = 64 << 10

// Opener returns a fresh reader of the same bytes each time it is called.
type Opener func() (io.ReadCloser, error)

// keys are the random values of one encryption.
type keys struct{ enc, mac, iv []byte }

func newKeys(rnd io.Reader) (keys, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	b := make([]byte, 2*KeySize+IVSize)
	if _, err := io.ReadFull(rnd, b); err != nil {
		return keys{}, fmt.Errorf("intunewin: random keys: %w", err)
	}
	return keys{enc: b[:KeySize], mac: b[KeySize : 2*KeySize], iv: b[2*KeySize:]}, nil
}

// sealed is what one pass of seal measured.
type sealed struct {
	mac, digest []byte
	size        int64 // plaintext bytes
}

// seal writes IV || AES-256-CBC(PKCS#7(src)) to dst and returns the
// HMAC-SHA256 over those bytes and the SHA-256 and size of src.
func seal(dst io.Writer, src io.Reader, k keys) (sealed, error) {
	block, err := aes.NewCipher(k.enc)
	if err != nil {
		return sealed{}, err
	}
	mode := cipher.NewCBCEncrypter(block, k.iv)
	mac := hmac.New(sha256.New, k.mac)
	sum := sha256.New()
	out := io.MultiWriter(dst, mac)
	if _, err := out.Write(k.iv); err != nil {
		return sealed{}, err
	}
	buf := make([]byte, chunk+aes.BlockSize)
	have, size := 0, int64(0)
	for {
		n, rerr := src.Read(buf[have:chunk])
		sum.Write(buf[have : have+n])
		size += int64(n)
		have += n
		if have == chunk {
			mode.CryptBlocks(buf[:chunk], buf[:chunk])
			if _, err := out.Write(buf[:chunk]); err != nil {
				return sealed{}, err
			}
			have = 0
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return sealed{}, rerr
		}
	}
	// Whatever is left is under chunk+16 bytes once padded.
	pad := aes.BlockSize - have%aes.BlockSize
	for i := range pad {
		buf[have+i] = byte(pad)
	}
	have += pad
	mode.CryptBlocks(buf[:have], buf[:have])
	if _, err := out.Write(buf[:have]); err != nil {
		return sealed{}, err
	}
	return sealed{mac: mac.Sum(nil), digest: sum.Sum(nil), size: size}, nil
}

// Encrypt writes the encrypted file (MAC || IV || ciphertext) of the
// plaintext open returns, under fresh random keys from rnd (nil:
// crypto/rand), and returns its encryption info and the plaintext size.
// The MAC comes first in the file but covers everything after it, so open
// is called twice: once to compute the MAC and the digest, once to write;
// an opener that gives other bytes the second time is an error. This is
// the content of Intune's LOB apps (pkg, ipa, apk) and, with the setup
// folder zipped as plaintext, of a Win32 app.
func Encrypt(w io.Writer, open Opener, rnd io.Reader) (EncryptionInfo, int64, error) {
	k, err := newKeys(rnd)
	if err != nil {
		return EncryptionInfo{}, 0, err
	}
	first, err := sealFrom(io.Discard, open, k)
	if err != nil {
		return EncryptionInfo{}, 0, err
	}
	if _, err := w.Write(first.mac); err != nil {
		return EncryptionInfo{}, 0, err
	}
	second, err := sealFrom(w, open, k)
	if err != nil {
		return EncryptionInfo{}, 0, err
	}
	if !bytes.Equal(first.mac, second.mac) {
		return EncryptionInfo{}, 0, fmt.Errorf("intunewin: the content changed between its two reads (%d then %d bytes)", first.size, second.size)
	}
	return EncryptionInfo{
		EncryptionKey:        k.enc,
		MacKey:               k.mac,
		InitializationVector: k.iv,
		Mac:                  first.mac,
		ProfileIdentifier:    ProfileVersion1,
		FileDigest:           first.digest,
		FileDigestAlgorithm:  DigestSHA256,
	}, first.size, nil
}

func sealFrom(dst io.Writer, open Opener, k keys) (sealed, error) {
	rc, err := open()
	if err != nil {
		return sealed{}, err
	}
	defer rc.Close()
	return seal(dst, rc, k)
}

// CheckMAC reads an encrypted file and checks its header and its HMAC
// against e: the IV must be e's, and the HMAC over IV || ciphertext under
// e's MAC key must equal both e.Mac and the MAC the file starts with. It
// returns the ciphertext length.
func CheckMAC(r io.Reader, e EncryptionInfo) (int64, error) {
	if err := e.Validate(); err != nil {
		return 0, err
	}
	head := make([]byte, HeaderSize)
	if n, err := io.ReadFull(r, head); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return 0, fmt.Errorf("%w: %d bytes, shorter than the %d-byte MAC and IV", ErrCorrupt, n, HeaderSize)
		}
		return 0, err
	}
	mac := hmac.New(sha256.New, e.MacKey)
	mac.Write(head[MACSize:])
	n, err := io.Copy(mac, r)
	if err != nil {
		return 0, err
	}
	if n == 0 || n%aes.BlockSize != 0 {
		return 0, fmt.Errorf("%w: %d bytes of ciphertext, want a positive multiple of %d", ErrCorrupt, n, aes.BlockSize)
	}
	got := mac.Sum(nil)
	if !hmac.Equal(got, e.Mac) {
		return 0, fmt.Errorf("%w: the HMAC-SHA256 of the file under the MAC key is not the recorded Mac", ErrMAC)
	}
	if !hmac.Equal(head[:MACSize], e.Mac) {
		return 0, fmt.Errorf("%w: the MAC the file starts with is not the recorded Mac", ErrMAC)
	}
	if subtle.ConstantTimeCompare(head[MACSize:], e.InitializationVector) != 1 {
		return 0, fmt.Errorf("%w: the file's IV is not the recorded InitializationVector", ErrMAC)
	}
	return n, nil
}

// unseal decrypts an encrypted file whose MAC was checked, writing the
// plaintext to w, and checks the plaintext's SHA-256 against e.FileDigest
// and, when size >= 0, its length against size.
func unseal(w io.Writer, r io.Reader, e EncryptionInfo, size int64) (int64, error) {
	head := make([]byte, HeaderSize)
	if _, err := io.ReadFull(r, head); err != nil {
		return 0, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	block, err := aes.NewCipher(e.EncryptionKey)
	if err != nil {
		return 0, err
	}
	mode := cipher.NewCBCDecrypter(block, head[MACSize:])
	sum := sha256.New()
	out := io.MultiWriter(w, sum)
	var written int64
	buf := make([]byte, chunk+aes.BlockSize)
	have := 0
	for {
		n, rerr := io.ReadFull(r, buf[have:])
		have += n
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			return written, rerr
		}
		// Keep the last block back: it holds the padding.
		mode.CryptBlocks(buf[:chunk], buf[:chunk])
		if err := writeChecked(out, buf[:chunk], &written, size); err != nil {
			return written, err
		}
		have = copy(buf, buf[chunk:have])
	}
	if have == 0 || have%aes.BlockSize != 0 {
		return written, fmt.Errorf("%w: the ciphertext does not end on a block boundary", ErrCorrupt)
	}
	mode.CryptBlocks(buf[:have], buf[:have])
	pad := int(buf[have-1])
	if pad == 0 || pad > aes.BlockSize || subtle.ConstantTimeCompare(buf[have-pad:have], bytes.Repeat([]byte{byte(pad)}, pad)) != 1 {
		return written, fmt.Errorf("%w: the decrypted file has no valid PKCS#7 padding (a wrong EncryptionKey?)", ErrDigest)
	}
	if err := writeChecked(out, buf[:have-pad], &written, size); err != nil {
		return written, err
	}
	if size >= 0 && written != size {
		return written, fmt.Errorf("%w: the decrypted file has %d bytes, the recorded size is %d", ErrDigest, written, size)
	}
	if got := sum.Sum(nil); !hmac.Equal(got, e.FileDigest) {
		return written, fmt.Errorf("%w: the SHA-256 of the decrypted file is not the recorded FileDigest", ErrDigest)
	}
	return written, nil
}

func writeChecked(w io.Writer, b []byte, written *int64, size int64) error {
	if size >= 0 && *written+int64(len(b)) > size {
		return fmt.Errorf("%w: the decrypted file is longer than the recorded %d bytes", ErrDigest, size)
	}
	n, err := w.Write(b)
	*written += int64(n)
	return err
}

// Decrypt checks the MAC of the encrypted file open returns (first read)
// and then decrypts it into w (second read), checking the plaintext's
// SHA-256 against e.FileDigest and, when size >= 0, its length. Nothing is
// written to w unless the MAC matched; when the digest does not match, w
// has had the (wrong) plaintext and the error says so.
func Decrypt(w io.Writer, open Opener, e EncryptionInfo, size int64) (int64, error) {
	if err := checkFrom(open, e); err != nil {
		return 0, err
	}
	rc, err := open()
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	return unseal(w, rc, e, size)
}

func checkFrom(open Opener, e EncryptionInfo) error {
	rc, err := open()
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = CheckMAC(rc, e)
	return err
}
