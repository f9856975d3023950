package msi

import (
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"

	"github.com/eucora/eucora/packaging/facts"
)

// Names of the signature streams.
const (
	DigitalSignatureStream = "\x05DigitalSignature"
	SignatureExStream      = "\x05MsiDigitalSignatureEx"
)

// tablesRead are the tables Inspect interprets.
var tablesRead = []string{"Property", "File", "Component", "Directory", "ServiceInstall", "ServiceControl",
	"CustomAction", "Registry", "Upgrade", "LaunchCondition", "MsiDriverPackages"}

// Inspect reads an MSI's facts within o.Limits (see the package doc).
func Inspect(r io.ReaderAt, size int64, o facts.Options) (*facts.Facts, error) {
	d, err := Open(r, size, o.Limits)
	if err != nil {
		return nil, err
	}
	return d.Facts()
}

// optTable reads a table the database may not have (nil, nil then).
func (d *Database) optTable(name string) (*Table, error) {
	t, err := d.Table(name)
	if isNoTable(err) {
		return nil, nil
	}
	return t, err
}

// Validate checks what Open does not: every stream's sector chain
// against its declared size (a truncated file is found even where it cuts
// a cabinet that is never read) and every table's stream against its
// columns (rows, string references). Tables it reads only to check are
// not kept.
func (d *Database) Validate() error {
	for i, e := range d.c.entries {
		if e.typ == objStream && i > 0 {
			if err := d.c.checkStream(i); err != nil {
				return err
			}
		}
	}
	for _, name := range d.tableNames {
		if _, kept := d.tables[name]; kept {
			continue
		}
		if _, err := d.Table(name); err != nil {
			return err
		}
		if !isTableRead(name) {
			delete(d.tables, name)
		}
	}
	return nil
}

func isTableRead(name string) bool {
	for _, t := range tablesRead {
		if t == name {
			return true
		}
	}
	return false
}

// Facts derives the package's facts from the database.
func (d *Database) Facts() (*facts.Facts, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	props, err := d.Properties()
	if err != nil {
		return nil, err
	}
	if props["ProductCode"] == "" {
		return nil, defect("the database has no ProductCode property: not an installable package (a merge module, patch or transform?)")
	}
	sum, err := d.SummaryInfo()
	if err != nil {
		return nil, err
	}
	f := &facts.Facts{
		Kind: facts.KindMSI,
		Identity: facts.Identity{
			Name:        props["ProductName"],
			Version:     props["ProductVersion"],
			Vendor:      props["Manufacturer"],
			ID:          props["ProductCode"],
			UpgradeCode: props["UpgradeCode"],
		},
		Fields: map[string]string{},
	}
	for k, v := range props {
		f.Fields[k] = v
	}
	if sum != nil {
		f.Identity.Arch = archOf(sum.Platform())
		if sum.Revision != "" {
			f.Fields["PackageCode"] = sum.Revision
		}
	} else {
		f.NotInspected = append(f.NotInspected, `summary information (no \005SummaryInformation stream): platform, package code and the elevation flag are unknown`)
	}

	if d.HasStream(DigitalSignatureStream) {
		f.Signature = &facts.Signature{State: facts.SigUntrusted, Format: "authenticode",
			Detail: "Authenticode signature present; verified by packaging/authenticode"}
		f.NotInspected = append(f.NotInspected, "Authenticode signature verification (done by packaging/authenticode.VerifyMSI, not by this reader)")
	} else {
		f.Signature = &facts.Signature{State: facts.SigUnsigned, Detail: `no \005DigitalSignature stream`}
	}

	d.privilege(f, props, sum)
	if err := d.services(f); err != nil {
		return nil, err
	}
	if err := d.customActions(f); err != nil {
		return nil, err
	}
	if err := d.files(f); err != nil {
		return nil, err
	}
	if err := d.drivers(f); err != nil {
		return nil, err
	}

	comp := facts.Component{Name: f.Identity.Name, Version: f.Identity.Version, Supplier: f.Identity.Vendor}
	if comp.Name != "" && comp.Version != "" {
		comp.PURL = "pkg:generic/" + url.PathEscape(comp.Name) + "@" + url.PathEscape(comp.Version)
	}
	if comp.Name != "" {
		f.Components = []facts.Component{comp}
	}

	f.NotInspected = append(f.NotInspected,
		"embedded cabinets and file contents (cabinet streams are not unpacked)",
		"Binary table payloads (custom action code is not analysed)",
		"tables other than "+strings.Join(tablesRead, ", ")+" (checked for structure only)")
	if n := d.Storages(); n > 0 {
		f.NotInspected = append(f.NotInspected, fmt.Sprintf("%d substorage(s) (embedded transforms or nested databases)", n))
	}
	return f, nil
}

// archOf maps a summary template platform to an architecture name.
func archOf(p string) string {
	switch strings.ToLower(p) {
	case "":
		return ""
	case "intel":
		return "x86"
	case "x64", "amd64":
		return "amd64"
	case "arm64":
		return "arm64"
	case "intel64":
		return "ia64"
	case "arm":
		return "arm"
	}
	return strings.ToLower(p)
}

func (d *Database) privilege(f *facts.Facts, props map[string]string, sum *SummaryInfo) {
	p := &f.Privilege
	switch all := props["ALLUSERS"]; {
	case all == "1":
		p.RequiresAdmin = true
		p.Reasons = append(p.Reasons, "Property ALLUSERS=1: a per-machine installation")
	case all == "2" && props["MSIINSTALLPERUSER"] != "1":
		p.RequiresAdmin = true
		p.Reasons = append(p.Reasons, "Property ALLUSERS=2 without MSIINSTALLPERUSER=1: per-machine when the user is an administrator (the default)")
	}
	if sum != nil && sum.WordCount&WordCountNoElevation == 0 {
		p.RequiresAdmin = true
		if sum.HasWordCount {
			p.Reasons = append(p.Reasons, fmt.Sprintf("summary information Word Count %d: bit 3 (elevated privileges not required) is clear, so the installation elevates", sum.WordCount))
		} else {
			p.Reasons = append(p.Reasons, "summary information has no Word Count: bit 3 (elevated privileges not required) is not set, so the installation elevates")
		}
	}
}

// startTypes maps ServiceInstall StartType.
var startTypes = map[int64]string{0: "boot", 1: "system", 2: "auto", 3: "demand", 4: "disabled"}

const (
	serviceKernelDriver = 0x1
	serviceFSDriver     = 0x2
)

func (d *Database) services(f *facts.Facts) error {
	t, err := d.optTable("ServiceInstall")
	if err != nil || t == nil {
		return err
	}
	for i := 0; i < t.Len(); i++ {
		id, name := t.Str(i, "ServiceInstall"), t.Str(i, "Name")
		st, _ := t.Int(i, "StartType")
		start, ok := startTypes[st]
		if !ok {
			start = fmt.Sprintf("start type %d", st)
		}
		acct := t.Str(i, "StartName")
		switch strings.ToLower(acct) {
		case "", "localsystem", `.\localsystem`, `nt authority\system`:
			acct = "LocalSystem"
		}
		f.Services = append(f.Services, facts.Service{Name: name, Start: start, Account: acct, Source: "ServiceInstall"})
		f.Privilege.InstallsService = true
		f.Privilege.Reasons = append(f.Privilege.Reasons, fmt.Sprintf("ServiceInstall row %s installs service %s (%s start, as %s)", id, name, start, acct))
		typ, _ := t.Int(i, "ServiceType")
		if typ&(serviceKernelDriver|serviceFSDriver) != 0 {
			f.Privilege.InstallsDriver = true
			kind := "kernel driver"
			if typ&serviceKernelDriver == 0 {
				kind = "file system driver"
			}
			f.Privilege.Reasons = append(f.Privilege.Reasons, fmt.Sprintf("ServiceInstall row %s ServiceType %#x: a %s", id, typ, kind))
		}
	}
	return nil
}

func (d *Database) customActions(f *facts.Facts) error {
	t, err := d.optTable("CustomAction")
	if err != nil || t == nil {
		return err
	}
	for i := 0; i < t.Len(); i++ {
		typ, _ := t.Int(i, "Type")
		ca := DecodeCustomAction(t.Str(i, "Action"), typ, t.Str(i, "Source"), t.Str(i, "Target"))
		f.Scripts = append(f.Scripts, facts.Script{Name: ca.Action, Kind: "custom-action", Detail: ca.Detail()})
		if ca.AsSystem {
			f.Privilege.RequiresAdmin = true
			f.Privilege.Reasons = append(f.Privilege.Reasons, fmt.Sprintf("CustomAction %s (%s) is deferred with no impersonation (type %d, bit 0x800): it runs as LocalSystem", ca.Action, ca.Kind, ca.Type))
		}
	}
	return nil
}

// longName is the long part of a "short|long" file or directory name.
func longName(s string) string {
	if _, l, ok := strings.Cut(s, "|"); ok {
		return l
	}
	return s
}

func (d *Database) files(f *facts.Facts) error {
	t, err := d.optTable("File")
	if err != nil || t == nil {
		return err
	}
	fs := &facts.FileSummary{Count: t.Len()}
	var names []string
	for i := 0; i < t.Len(); i++ {
		if n, ok := t.Int(i, "FileSize"); ok && n > 0 {
			fs.Bytes += n
		}
		name := longName(t.Str(i, "FileName"))
		names = append(names, name)
		if strings.HasSuffix(strings.ToLower(name), ".sys") {
			f.Privilege.InstallsDriver = true
			f.Privilege.Reasons = append(f.Privilege.Reasons, fmt.Sprintf("File row %s installs %s (a .sys driver file)", t.Str(i, "File"), name))
		}
	}
	sort.Strings(names)
	if len(names) > 100 {
		names = names[:100]
	}
	fs.Sample = names
	f.Files = fs
	return nil
}

// drivers notes driver packages installed through DIFx (MsiDriverPackages).
func (d *Database) drivers(f *facts.Facts) error {
	t, err := d.optTable("MsiDriverPackages")
	if err != nil || t == nil {
		return err
	}
	for i := 0; i < t.Len(); i++ {
		f.Privilege.InstallsDriver = true
		f.Privilege.Reasons = append(f.Privilege.Reasons, fmt.Sprintf("MsiDriverPackages row for component %s (a DIFx driver package)", t.Str(i, "Component")))
	}
	return nil
}
