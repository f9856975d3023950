package msi

import (
	"fmt"
	"strings"
)

// DetectionCandidate is one thing an Intune/ConfigMgr detection rule may
// test for this package: its product code, a registry value it writes,
// or a file it installs. The integrator checks a documented detection
// rule against these (a product code rule must match the MSI's).
type DetectionCandidate struct {
	Kind        string `json:"kind"`                   // "product_code", "registry" or "file"
	ProductCode string `json:"product_code,omitempty"` // product_code
	Version     string `json:"version,omitempty"`      // ProductVersion (product_code), File.Version (file)
	Hive        string `json:"hive,omitempty"`         // registry: HKCR, HKCU, HKLM, HKU, or HKMU (Root -1: HKLM per-machine, HKCU per-user)
	Key         string `json:"key,omitempty"`          // registry key, verbatim (may hold [Property] references)
	ValueName   string `json:"value_name,omitempty"`   // registry value name; "" is the key's default value
	Value       string `json:"value,omitempty"`        // registry value as written (#n for DWORD, ...)
	Path        string `json:"path,omitempty"`         // file: folder, Windows style, e.g. [ProgramFiles64Folder]Foo\
	FileName    string `json:"file_name,omitempty"`    // file: long name
	Component   string `json:"component,omitempty"`    // the Component row that installs it
	KeyPath     bool   `json:"key_path,omitempty"`     // the item is its component's key path
	Win64       bool   `json:"win64,omitempty"`        // its component is 64-bit (registry view, folder redirection)
}

var registryRoots = map[int64]string{-1: "HKMU", 0: "HKCR", 1: "HKCU", 2: "HKLM", 3: "HKU"}

const (
	componentRegistryKeyPath = 0x4
	componentWin64           = 0x100
)

// systemFolders are the directory ids Windows Installer sets itself.
var systemFolders = map[string]bool{}

func init() {
	for _, s := range strings.Fields(`AdminToolsFolder AppDataFolder CommonAppDataFolder CommonFiles64Folder
		CommonFiles6432Folder CommonFilesFolder DesktopFolder FavoritesFolder FontsFolder LocalAppDataFolder
		MyPicturesFolder NetHoodFolder PersonalFolder PrintHoodFolder ProgramFiles64Folder ProgramFiles6432Folder
		ProgramFilesFolder ProgramMenuFolder RecentFolder SendToFolder StartMenuFolder StartupFolder System16Folder
		System64Folder System6432Folder SystemFolder TempFolder TemplateFolder WindowsFolder WindowsVolume TARGETDIR`) {
		systemFolders[s] = true
	}
}

// DetectionCandidates lists the product code, every Registry row and
// every File row (with its default folder) of the database.
func (d *Database) DetectionCandidates() ([]DetectionCandidate, error) {
	props, err := d.Properties()
	if err != nil {
		return nil, err
	}
	var out []DetectionCandidate
	if pc := props["ProductCode"]; pc != "" {
		out = append(out, DetectionCandidate{Kind: "product_code", ProductCode: pc, Version: props["ProductVersion"]})
	}
	type comp struct {
		dir, keyPath string
		attrs        int64
	}
	comps := map[string]comp{}
	if t, err := d.optTable("Component"); err != nil {
		return nil, err
	} else if t != nil {
		for i := 0; i < t.Len(); i++ {
			a, _ := t.Int(i, "Attributes")
			comps[t.Str(i, "Component")] = comp{t.Str(i, "Directory_"), t.Str(i, "KeyPath"), a}
		}
	}
	dirs, err := d.directoryPaths()
	if err != nil {
		return nil, err
	}
	if t, err := d.optTable("Registry"); err != nil {
		return nil, err
	} else if t != nil {
		for i := 0; i < t.Len(); i++ {
			root, _ := t.Int(i, "Root")
			hive, ok := registryRoots[root]
			if !ok {
				hive = fmt.Sprintf("root %d", root)
			}
			c := comps[t.Str(i, "Component_")]
			out = append(out, DetectionCandidate{Kind: "registry", Hive: hive, Key: t.Str(i, "Key"),
				ValueName: t.Str(i, "Name"), Value: t.Str(i, "Value"), Component: t.Str(i, "Component_"),
				KeyPath: c.attrs&componentRegistryKeyPath != 0 && c.keyPath == t.Str(i, "Registry"),
				Win64:   c.attrs&componentWin64 != 0})
		}
	}
	if t, err := d.optTable("File"); err != nil {
		return nil, err
	} else if t != nil {
		for i := 0; i < t.Len(); i++ {
			cn := t.Str(i, "Component_")
			c := comps[cn]
			out = append(out, DetectionCandidate{Kind: "file", FileName: longName(t.Str(i, "FileName")),
				Path: dirs[c.dir], Version: t.Str(i, "Version"), Component: cn,
				KeyPath: c.attrs&componentRegistryKeyPath == 0 && c.keyPath == t.Str(i, "File"),
				Win64:   c.attrs&componentWin64 != 0})
		}
	}
	return out, nil
}

// directoryPaths resolves each Directory row to its default target
// folder, "[SystemFolderId]sub\dir\". A parent cycle is a defect.
func (d *Database) directoryPaths() (map[string]string, error) {
	t, err := d.optTable("Directory")
	if err != nil || t == nil {
		return map[string]string{}, err
	}
	type row struct{ parent, def string }
	rows := make(map[string]row, t.Len())
	for i := 0; i < t.Len(); i++ {
		rows[t.Str(i, "Directory")] = row{t.Str(i, "Directory_Parent"), t.Str(i, "DefaultDir")}
	}
	out := make(map[string]string, len(rows))
	for id := range rows {
		// Walk up to a resolved or root directory, then resolve down.
		var path []string
		seen := map[string]bool{}
		cur := id
		for {
			if _, ok := out[cur]; ok {
				break
			}
			if seen[cur] {
				return nil, defect("Directory table: directory %q is its own ancestor (a parent cycle)", cur)
			}
			seen[cur] = true
			path = append(path, cur)
			r, ok := rows[cur]
			if !ok || systemFolders[cur] || r.parent == "" || r.parent == cur {
				break
			}
			cur = r.parent
		}
		for k := len(path) - 1; k >= 0; k-- {
			id := path[k]
			r, ok := rows[id]
			switch {
			case systemFolders[id] || !ok || r.parent == "" || r.parent == id:
				out[id] = "[" + id + "]"
			default:
				target, _, _ := strings.Cut(r.def, ":")
				name := longName(target)
				base := out[r.parent]
				if base == "" {
					base = "[" + r.parent + "]"
				}
				if name == "." || name == "" {
					out[id] = base
				} else {
					out[id] = base + name + `\`
				}
			}
		}
	}
	return out, nil
}
