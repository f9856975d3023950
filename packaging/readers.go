package packaging

import (
	"errors"
	"io"
	"slices"
	"strings"

	"github.com/eucora/eucora/packaging/authenticode"
	"github.com/eucora/eucora/packaging/deb"
	"github.com/eucora/eucora/packaging/dmg"
	"github.com/eucora/eucora/packaging/facts"
	"github.com/eucora/eucora/packaging/intunewin"
	"github.com/eucora/eucora/packaging/mobile"
	"github.com/eucora/eucora/packaging/msi"
	"github.com/eucora/eucora/packaging/msix"
	"github.com/eucora/eucora/packaging/pe"
	"github.com/eucora/eucora/packaging/xar"
)

// readers is every reader in this build, by kind.
var readers = map[facts.Kind]Reader{
	facts.KindDeb:  deb.Inspect,
	facts.KindIPA:  mobile.InspectIPA,
	facts.KindAPK:  mobile.InspectAPK,
	facts.KindMSI:  inspectMSI,
	facts.KindPE:   pe.Inspect,
	facts.KindMSIX: msix.Inspect,
	facts.KindAppx: func(r io.ReaderAt, size int64, o facts.Options) (*facts.Facts, error) {
		return msix.InspectAs(facts.KindAppx, r, size, o)
	},
	facts.KindIntunewin: inspectIntunewin,
	facts.KindPkg:       xar.InspectPkg,
	facts.KindDMG:       dmg.Inspect,
}

// inspectMSI reads the database's facts, then verifies its Authenticode
// signature (packaging/msi only notes that one is present).
func inspectMSI(r io.ReaderAt, size int64, o facts.Options) (*facts.Facts, error) {
	f, err := msi.Inspect(r, size, o)
	if err != nil {
		return nil, err
	}
	if f.Signature != nil && f.Signature.State == facts.SigUnsigned {
		return f, nil
	}
	sig, err := authenticode.VerifyMSI(r, size, o)
	if err != nil {
		return nil, err
	}
	f.Signature = sig
	f.NotInspected = slices.DeleteFunc(f.NotInspected, func(s string) bool { return strings.Contains(strings.ToLower(s), "authenticode") })
	return f, nil
}

// inspectIntunewin reads an .intunewin's Detection.xml and checks its
// encrypted file against it (MAC, then the plaintext's digest and size). The setup inside is encrypted: its own facts
// are those of the file the engineer wrapped, read before wrapping.
func inspectIntunewin(r io.ReaderAt, size int64, o facts.Options) (*facts.Facts, error) {
	p, err := intunewin.Open(r, size)
	if err != nil {
		var de *facts.DefectError
		if errors.As(err, &de) {
			return nil, err
		}
		return nil, facts.Defectf(facts.KindIntunewin, "%v", err)
	}
	defer p.Close()
	if err := p.Verify(); err != nil {
		return nil, facts.Defectf(facts.KindIntunewin, "%v", err)
	}
	info := p.Info
	f := &facts.Facts{
		Kind:     facts.KindIntunewin,
		Identity: facts.Identity{Name: info.Name},
		Fields:   map[string]string{"SetupFile": info.SetupFile, "FileName": info.FileName, "ToolVersion": info.ToolVersion},
		// An .intunewin carries no signature of its own: the setup file's
		// signature is inside the encrypted zip.
		Signature:    &facts.Signature{State: facts.SigUnsigned, Detail: "an .intunewin has no signature of its own; the wrapped setup file's is inside the encrypted content"},
		NotInspected: []string{"the encrypted setup folder (inspect the setup file before wrapping it)"},
	}
	if m := info.MsiInfo; m != nil {
		f.Identity.ID, f.Identity.Version, f.Identity.UpgradeCode, f.Identity.Vendor = m.MsiProductCode, m.MsiProductVersion, m.MsiUpgradeCode, m.MsiPublisher
		f.Fields["MsiExecutionContext"] = m.MsiExecutionContext
		if m.MsiIsMachineInstall || strings.EqualFold(m.MsiExecutionContext, "System") {
			f.Privilege.RequiresAdmin = true
			f.Privilege.Reasons = append(f.Privilege.Reasons, "Detection.xml: MsiIsMachineInstall / execution context "+m.MsiExecutionContext)
		}
		if m.MsiIncludesServices {
			f.Privilege.InstallsService = true
			f.Privilege.Reasons = append(f.Privilege.Reasons, "Detection.xml: MsiIncludesServices")
		}
	}
	if f.Identity.Name != "" {
		f.Components = []facts.Component{{Name: f.Identity.Name, Version: f.Identity.Version, Supplier: f.Identity.Vendor}}
	}
	return f, nil
}
