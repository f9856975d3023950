package intunewin

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/eucora/eucora/internal/clip"
)

// Paths and constant values of the layout.
const (
	// ContentsPath is the encrypted file inside the outer zip.
	ContentsPath = "IntuneWinPackage/Contents/IntunePackage.intunewin"
	// MetadataPath is the detection XML inside the outer zip.
	MetadataPath = "IntuneWinPackage/Metadata/Detection.xml"
	// ContentFileName is ApplicationInfo.FileName: the name the service
	// knows the encrypted file by (Graph's mobileAppContentFile name).
	ContentFileName = "IntunePackage.intunewin"
	// ProfileVersion1 is the only encryption profile there is.
	ProfileVersion1 = "ProfileVersion1"
	// DigestSHA256 is the only file digest algorithm there is.
	DigestSHA256 = "SHA256"
	// ToolVersion is the prep tool version the built Detection.xml
	// claims (the layout of IntuneWinAppUtil 1.8.6).
	ToolVersion = "1.8.6.0"
)

// Sizes of the encryption values.
const (
	KeySize    = 32 // EncryptionKey and MacKey
	IVSize     = 16 // InitializationVector
	MACSize    = 32 // Mac (HMAC-SHA256)
	DigestSize = 32 // FileDigest (SHA-256)
	// HeaderSize is what the encrypted file holds before the ciphertext:
	// the MAC and the IV.
	HeaderSize = MACSize + IVSize
)

// Errors a reader returns, wrapped with the facts.
var (
	// ErrNotIntunewin: the file is not a zip, or lacks the contents or
	// the metadata entry.
	ErrNotIntunewin = errors.New("not an .intunewin file")
	// ErrDetection: Detection.xml is malformed or has a value out of
	// range (a key of the wrong length, an unknown profile).
	ErrDetection = errors.New("bad Detection.xml")
	// ErrMAC: the HMAC over IV || ciphertext is not the one recorded,
	// so the file was altered or the key is wrong.
	ErrMAC = errors.New("MAC mismatch")
	// ErrDigest: the decrypted content's SHA-256 or size is not the one
	// recorded.
	ErrDigest = errors.New("file digest mismatch")
	// ErrTooLarge: an entry is larger than the limits allow or is
	// compressed beyond any plausible ratio (a zip bomb).
	ErrTooLarge = errors.New("too large")
)

// EncryptionInfo is the encryption of one content file. Its JSON form is
// Graph's fileEncryptionInfo (byte values base64), as sent on commit.
type EncryptionInfo struct {
	EncryptionKey        []byte `json:"encryptionKey"`
	MacKey               []byte `json:"macKey"`
	InitializationVector []byte `json:"initializationVector"`
	Mac                  []byte `json:"mac"`
	ProfileIdentifier    string `json:"profileIdentifier"`
	FileDigest           []byte `json:"fileDigest"`
	FileDigestAlgorithm  string `json:"fileDigestAlgorithm"`
}

// Validate checks every value has the length and the name the profile
// requires.
func (e EncryptionInfo) Validate() error {
	for _, f := range []struct {
		name string
		v    []byte
		n    int
	}{
		{"EncryptionKey", e.EncryptionKey, KeySize},
		{"MacKey", e.MacKey, KeySize},
		{"InitializationVector", e.InitializationVector, IVSize},
		{"Mac", e.Mac, MACSize},
		{"FileDigest", e.FileDigest, DigestSize},
	} {
		if len(f.v) != f.n {
			return fmt.Errorf("%w: %s has %d bytes, want %d", ErrDetection, f.name, len(f.v), f.n)
		}
	}
	if e.ProfileIdentifier != ProfileVersion1 {
		return fmt.Errorf("%w: ProfileIdentifier %q, want %q", ErrDetection, clip.String(e.ProfileIdentifier, 64), ProfileVersion1)
	}
	if e.FileDigestAlgorithm != DigestSHA256 {
		return fmt.Errorf("%w: FileDigestAlgorithm %q, want %q", ErrDetection, clip.String(e.FileDigestAlgorithm, 64), DigestSHA256)
	}
	return nil
}

// MsiInfo is what the prep tool records of an MSI setup file (from the
// MSI's Property and Summary Information tables). The package does not
// read MSI databases: the caller who did fills it in.
type MsiInfo struct {
	MsiProductCode                string
	MsiProductVersion             string
	MsiPackageCode                string
	MsiUpgradeCode                string
	MsiExecutionContext           string // System, User or Any
	MsiRequiresLogon              bool
	MsiRequiresReboot             bool
	MsiIsMachineInstall           bool
	MsiIsUserInstall              bool
	MsiIncludesServices           bool
	MsiIncludesODBCDataSource     bool
	MsiContainsSystemRegistryKeys bool
	MsiContainsSystemFolders      bool
	MsiPublisher                  string
}

// ApplicationInfo is Detection.xml.
type ApplicationInfo struct {
	ToolVersion string
	// Name is the setup file's name, or the MSI's product name.
	Name string
	// UnencryptedContentSize is the size of the plaintext zip.
	UnencryptedContentSize int64
	// FileName is the encrypted file's name (ContentFileName).
	FileName string
	// SetupFile is the setup file's path inside the setup folder.
	SetupFile      string
	EncryptionInfo EncryptionInfo
	MsiInfo        *MsiInfo
}

// EncryptedSize is the size of the encrypted file for this info: the MAC,
// the IV and the padded ciphertext.
func (a *ApplicationInfo) EncryptedSize() int64 { return EncryptedSize(a.UnencryptedContentSize) }

// EncryptedSize is the size of the encrypted file of n plaintext bytes.
func EncryptedSize(n int64) int64 { return HeaderSize + (n/16+1)*16 }

// MarshalDetection renders Detection.xml as the prep tool writes it: no
// XML declaration, the xsd and xsi namespace declarations and ToolVersion
// on the root, two-space indentation, elements in the tool's order.
func (a *ApplicationInfo) MarshalDetection() []byte {
	var b bytes.Buffer
	tv := a.ToolVersion
	if tv == "" {
		tv = ToolVersion
	}
	b.WriteString(`<ApplicationInfo xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ToolVersion="`)
	xml.EscapeText(&b, []byte(tv))
	b.WriteString("\">\n")
	el := func(indent, name, v string) {
		b.WriteString(indent + "<" + name + ">")
		xml.EscapeText(&b, []byte(v))
		b.WriteString("</" + name + ">\n")
	}
	b64 := base64.StdEncoding.EncodeToString
	el("  ", "Name", a.Name)
	el("  ", "UnencryptedContentSize", strconv.FormatInt(a.UnencryptedContentSize, 10))
	el("  ", "FileName", a.FileName)
	el("  ", "SetupFile", a.SetupFile)
	e := a.EncryptionInfo
	b.WriteString("  <EncryptionInfo>\n")
	el("    ", "EncryptionKey", b64(e.EncryptionKey))
	el("    ", "MacKey", b64(e.MacKey))
	el("    ", "InitializationVector", b64(e.InitializationVector))
	el("    ", "Mac", b64(e.Mac))
	el("    ", "ProfileIdentifier", e.ProfileIdentifier)
	el("    ", "FileDigest", b64(e.FileDigest))
	el("    ", "FileDigestAlgorithm", e.FileDigestAlgorithm)
	b.WriteString("  </EncryptionInfo>\n")
	if m := a.MsiInfo; m != nil {
		bl := strconv.FormatBool
		b.WriteString("  <MsiInfo>\n")
		el("    ", "MsiProductCode", m.MsiProductCode)
		el("    ", "MsiProductVersion", m.MsiProductVersion)
		el("    ", "MsiPackageCode", m.MsiPackageCode)
		el("    ", "MsiUpgradeCode", m.MsiUpgradeCode)
		el("    ", "MsiExecutionContext", m.MsiExecutionContext)
		el("    ", "MsiRequiresLogon", bl(m.MsiRequiresLogon))
		el("    ", "MsiRequiresReboot", bl(m.MsiRequiresReboot))
		el("    ", "MsiIsMachineInstall", bl(m.MsiIsMachineInstall))
		el("    ", "MsiIsUserInstall", bl(m.MsiIsUserInstall))
		el("    ", "MsiIncludesServices", bl(m.MsiIncludesServices))
		el("    ", "MsiIncludesODBCDataSource", bl(m.MsiIncludesODBCDataSource))
		el("    ", "MsiContainsSystemRegistryKeys", bl(m.MsiContainsSystemRegistryKeys))
		el("    ", "MsiContainsSystemFolders", bl(m.MsiContainsSystemFolders))
		el("    ", "MsiPublisher", m.MsiPublisher)
		b.WriteString("  </MsiInfo>\n")
	}
	b.WriteString("</ApplicationInfo>")
	return b.Bytes()
}

// wire is Detection.xml as text, before the values are checked.
type wire struct {
	XMLName                xml.Name `xml:"ApplicationInfo"`
	ToolVersion            string   `xml:"ToolVersion,attr"`
	Name                   string   `xml:"Name"`
	UnencryptedContentSize string   `xml:"UnencryptedContentSize"`
	FileName               string   `xml:"FileName"`
	SetupFile              string   `xml:"SetupFile"`
	EncryptionInfo         *struct {
		EncryptionKey        string `xml:"EncryptionKey"`
		MacKey               string `xml:"MacKey"`
		InitializationVector string `xml:"InitializationVector"`
		Mac                  string `xml:"Mac"`
		ProfileIdentifier    string `xml:"ProfileIdentifier"`
		FileDigest           string `xml:"FileDigest"`
		FileDigestAlgorithm  string `xml:"FileDigestAlgorithm"`
	} `xml:"EncryptionInfo"`
	MsiInfo *struct {
		MsiProductCode                string `xml:"MsiProductCode"`
		MsiProductVersion             string `xml:"MsiProductVersion"`
		MsiPackageCode                string `xml:"MsiPackageCode"`
		MsiUpgradeCode                string `xml:"MsiUpgradeCode"`
		MsiExecutionContext           string `xml:"MsiExecutionContext"`
		MsiRequiresLogon              string `xml:"MsiRequiresLogon"`
		MsiRequiresReboot             string `xml:"MsiRequiresReboot"`
		MsiIsMachineInstall           string `xml:"MsiIsMachineInstall"`
		MsiIsUserInstall              string `xml:"MsiIsUserInstall"`
		MsiIncludesServices           string `xml:"MsiIncludesServices"`
		MsiIncludesODBCDataSource     string `xml:"MsiIncludesODBCDataSource"`
		MsiContainsSystemRegistryKeys string `xml:"MsiContainsSystemRegistryKeys"`
		MsiContainsSystemFolders      string `xml:"MsiContainsSystemFolders"`
		MsiPublisher                  string `xml:"MsiPublisher"`
	} `xml:"MsiInfo"`
}

// MaxDetectionSize bounds Detection.xml (the tool writes about 1.5 KiB).
const MaxDetectionSize = 64 << 10

// ParseDetection reads Detection.xml (at most MaxDetectionSize bytes; a
// UTF-8 byte order mark is allowed) and checks every value.
func ParseDetection(r io.Reader) (*ApplicationInfo, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxDetectionSize+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDetection, err)
	}
	if len(data) > MaxDetectionSize {
		return nil, fmt.Errorf("%w: Detection.xml is over %d bytes", ErrTooLarge, MaxDetectionSize)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	var w wire
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.CharsetReader = func(label string, in io.Reader) (io.Reader, error) {
		if strings.EqualFold(label, "utf-8") {
			return in, nil
		}
		return nil, fmt.Errorf("encoding %q: want utf-8", clip.String(label, 64))
	}
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDetection, err)
	}
	a := &ApplicationInfo{ToolVersion: w.ToolVersion, Name: w.Name, FileName: w.FileName, SetupFile: w.SetupFile}
	a.UnencryptedContentSize, err = strconv.ParseInt(strings.TrimSpace(w.UnencryptedContentSize), 10, 64)
	if err != nil || a.UnencryptedContentSize < 0 {
		return nil, fmt.Errorf("%w: UnencryptedContentSize %q is not a size", ErrDetection, clip.String(w.UnencryptedContentSize, 64))
	}
	switch {
	case a.FileName == "":
		return nil, fmt.Errorf("%w: FileName is empty", ErrDetection)
	case a.SetupFile == "":
		return nil, fmt.Errorf("%w: SetupFile is empty", ErrDetection)
	case w.EncryptionInfo == nil:
		return nil, fmt.Errorf("%w: no EncryptionInfo", ErrDetection)
	}
	e := w.EncryptionInfo
	dec64 := func(name, s string) []byte {
		if err != nil {
			return nil
		}
		var b []byte
		b, err = base64.StdEncoding.DecodeString(strings.TrimSpace(s))
		if err != nil {
			err = fmt.Errorf("%w: %s is not base64: %v", ErrDetection, name, err)
		}
		return b
	}
	a.EncryptionInfo = EncryptionInfo{
		EncryptionKey:        dec64("EncryptionKey", e.EncryptionKey),
		MacKey:               dec64("MacKey", e.MacKey),
		InitializationVector: dec64("InitializationVector", e.InitializationVector),
		Mac:                  dec64("Mac", e.Mac),
		ProfileIdentifier:    strings.TrimSpace(e.ProfileIdentifier),
		FileDigest:           dec64("FileDigest", e.FileDigest),
		FileDigestAlgorithm:  strings.TrimSpace(e.FileDigestAlgorithm),
	}
	if err != nil {
		return nil, err
	}
	if err := a.EncryptionInfo.Validate(); err != nil {
		return nil, err
	}
	if m := w.MsiInfo; m != nil {
		bl := func(name, s string) bool {
			if err != nil {
				return false
			}
			var v bool
			v, err = strconv.ParseBool(strings.TrimSpace(s))
			if err != nil {
				err = fmt.Errorf("%w: MsiInfo.%s %q is not true or false", ErrDetection, name, clip.String(s, 64))
			}
			return v
		}
		a.MsiInfo = &MsiInfo{
			MsiProductCode:                m.MsiProductCode,
			MsiProductVersion:             m.MsiProductVersion,
			MsiPackageCode:                m.MsiPackageCode,
			MsiUpgradeCode:                m.MsiUpgradeCode,
			MsiExecutionContext:           m.MsiExecutionContext,
			MsiRequiresLogon:              bl("MsiRequiresLogon", m.MsiRequiresLogon),
			MsiRequiresReboot:             bl("MsiRequiresReboot", m.MsiRequiresReboot),
			MsiIsMachineInstall:           bl("MsiIsMachineInstall", m.MsiIsMachineInstall),
			MsiIsUserInstall:              bl("MsiIsUserInstall", m.MsiIsUserInstall),
			MsiIncludesServices:           bl("MsiIncludesServices", m.MsiIncludesServices),
			MsiIncludesODBCDataSource:     bl("MsiIncludesODBCDataSource", m.MsiIncludesODBCDataSource),
			MsiContainsSystemRegistryKeys: bl("MsiContainsSystemRegistryKeys", m.MsiContainsSystemRegistryKeys),
			MsiContainsSystemFolders:      bl("MsiContainsSystemFolders", m.MsiContainsSystemFolders),
			MsiPublisher:                  m.MsiPublisher,
		}
		if err != nil {
			return nil, err
		}
	}
	return a, nil
}
