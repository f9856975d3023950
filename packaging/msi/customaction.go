package msi

import (
	"fmt"
	"strings"
)

// Custom action type bits (msidbCustomActionType*).
const (
	caDll       = 1
	caExe       = 2
	caTextData  = 3
	caJScript   = 5
	caVBScript  = 6
	caInstall   = 7
	caSrcBinary = 0x00
	caSrcFile   = 0x10
	caSrcDir    = 0x20
	caSrcProp   = 0x30

	caContinue      = 0x40
	caAsync         = 0x80
	caFirstSequence = 0x100
	caOncePerProc   = 0x200
	caClientRepeat  = 0x300
	caInScript      = 0x400
	caRollback      = 0x100
	caCommit        = 0x200
	caNoImpersonate = 0x800
	ca64BitScript   = 0x1000
	caHideTarget    = 0x2000
	caTSAware       = 0x4000
)

// CustomAction is one decoded CustomAction row.
type CustomAction struct {
	Action string
	Type   int64
	Source string
	Target string

	// Kind is what runs: "dll", "exe", "jscript", "vbscript",
	// "set-property", "set-directory", "error", "nested-install", or
	// "unknown".
	Kind string
	// From is where the code or command comes from: "Binary table",
	// "installed file", "directory", "property", "inline".
	From string
	// Deferred: runs in the installation script (in-script), with
	// Rollback or Commit for those kinds of deferred action.
	Deferred, Rollback, Commit bool
	// NoImpersonate is the 0x800 bit; AsSystem is set when it applies
	// (a deferred action): the action then runs as LocalSystem when the
	// installation runs elevated.
	NoImpersonate, AsSystem bool
}

// Scripting reports a VBScript or JScript action.
func (ca CustomAction) Scripting() bool { return ca.Kind == "vbscript" || ca.Kind == "jscript" }

// DecodeCustomAction decodes a CustomAction row's Type with its Source and
// Target.
func DecodeCustomAction(action string, typ int64, source, target string) CustomAction {
	ca := CustomAction{Action: action, Type: typ, Source: source, Target: target}
	base, src := typ&0x07, typ&0x30
	from := map[int64]string{caSrcBinary: "Binary table", caSrcFile: "installed file", caSrcDir: "directory", caSrcProp: "property"}[src]
	switch base {
	case caDll:
		ca.Kind, ca.From = "dll", from
	case caExe:
		ca.Kind, ca.From = "exe", from
		if src == caSrcDir {
			ca.From = "command line with a working directory"
		}
	case caJScript, caVBScript:
		ca.Kind = map[int64]string{caJScript: "jscript", caVBScript: "vbscript"}[base]
		ca.From = from
		if src == caSrcDir {
			ca.From = "inline"
		}
	case caTextData:
		switch src {
		case caSrcFile:
			ca.Kind = "error"
		case caSrcDir:
			ca.Kind = "set-directory"
		case caSrcProp:
			ca.Kind = "set-property"
		default:
			ca.Kind = "unknown"
		}
	case caInstall:
		ca.Kind = "nested-install"
		ca.From = map[int64]string{caSrcBinary: "substorage", caSrcFile: "source tree", caSrcDir: "advertised product"}[src]
	default:
		ca.Kind = "unknown"
	}
	ca.Deferred = typ&caInScript != 0
	if ca.Deferred {
		ca.Rollback = typ&caRollback != 0
		ca.Commit = typ&caCommit != 0
	}
	ca.NoImpersonate = typ&caNoImpersonate != 0
	ca.AsSystem = ca.Deferred && ca.NoImpersonate
	return ca
}

// Detail describes the action for a person: what runs, from where, and
// when and as whom.
func (ca CustomAction) Detail() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s", ca.Kind)
	switch ca.Kind {
	case "set-property", "set-directory":
		fmt.Fprintf(&b, " %s = %s", ca.Source, clip(ca.Target))
	case "error":
		fmt.Fprintf(&b, " %s", clip(ca.Target))
	default:
		switch {
		case ca.From == "inline":
			fmt.Fprintf(&b, " inline (%s)", clip(ca.Target))
		default:
			if ca.From != "" {
				fmt.Fprintf(&b, " from %s", ca.From)
			}
			var parts []string
			if ca.Source != "" {
				parts = append(parts, "source "+ca.Source)
			}
			if ca.Target != "" && ca.Type&caHideTarget == 0 {
				parts = append(parts, "target "+clip(ca.Target))
			}
			if len(parts) > 0 {
				fmt.Fprintf(&b, " (%s)", strings.Join(parts, ", "))
			}
		}
	}
	switch {
	case ca.Rollback:
		b.WriteString(", deferred rollback (in-script)")
	case ca.Commit:
		b.WriteString(", deferred commit (in-script)")
	case ca.Deferred:
		b.WriteString(", deferred (in-script)")
	default:
		b.WriteString(", immediate")
		switch ca.Type & 0x300 {
		case caFirstSequence:
			b.WriteString(", first sequence only")
		case caOncePerProc:
			b.WriteString(", once per process")
		case caClientRepeat:
			b.WriteString(", client repeat")
		}
	}
	switch {
	case ca.AsSystem:
		b.WriteString(", no-impersonate: runs as LocalSystem")
	case ca.NoImpersonate:
		b.WriteString(", no-impersonate bit set (no effect on an immediate action)")
	}
	if ca.Type&caContinue != 0 {
		b.WriteString(", return code ignored")
	}
	if ca.Type&caAsync != 0 {
		b.WriteString(", asynchronous")
	}
	if ca.Type&ca64BitScript != 0 {
		b.WriteString(", 64-bit script")
	}
	if ca.Type&caHideTarget != 0 {
		b.WriteString(", target hidden from the log")
	}
	fmt.Fprintf(&b, "; type %d", ca.Type)
	return b.String()
}

// clip shortens s for display.
func clip(s string) string {
	const max = 120
	if r := []rune(s); len(r) > max {
		return string(r[:max]) + "..."
	}
	return s
}
