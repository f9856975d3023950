package packaging

import (
	"errors"
	"io"
	"strings"

	"github.com/eucora/eucora/packaging/facts"
	"github.com/eucora/eucora/packaging/intunewin"
)

// readers is every reader in this build, by kind.
var readers = map[facts.Kind]Reader{
	facts.KindIntunewin: inspectIntunewin,
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
