package deb

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/eucora/eucora/packaging/facts"
)

// scriptNames are the control members dpkg runs (or, for triggers, acts
// on), in the order they are reported.
var scriptNames = []string{"preinst", "postinst", "prerm", "postrm", "config", "triggers"}

// scriptHead is how much of a maintainer script is read for its #! line.
const scriptHead = 512

// control is what control.tar holds.
type control struct {
	fields    map[string]string
	order     []string // field names as they appear
	conffiles []string
	scripts   map[string]string // name -> detail
	others    []string          // other members read past (md5sums, templates, shlibs...)
}

// readControlTar walks control.tar (already decompressed, metered) and
// reads control, conffiles and the first line of each maintainer script.
// Every member must fit in MaxMetadata.
func readControlTar(tr *tar.Reader, name string, lim facts.Limits) (*control, error) {
	c := &control{scripts: map[string]string{}}
	seen := map[string]bool{}
	for entries := 0; ; entries++ {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, decodeError(name, err)
		}
		if entries >= lim.MaxEntries {
			return nil, facts.Defectf(facts.KindDeb, "%s has more than %d members (MaxEntries)", name, lim.MaxEntries)
		}
		p, err := memberPath(h.Name)
		if err != nil {
			return nil, facts.Defectf(facts.KindDeb, "%s: %v", name, err)
		}
		if h.Typeflag == tar.TypeDir || h.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		if h.Size > lim.MaxMetadata {
			return nil, facts.Defectf(facts.KindDeb, "%s member %q is %d bytes, over MaxMetadata (%d)", name, p, h.Size, lim.MaxMetadata)
		}
		if strings.Contains(p, "/") {
			c.others = append(c.others, p)
			continue
		}
		if seen[p] {
			return nil, facts.Defectf(facts.KindDeb, "%s has member %q twice", name, p)
		}
		seen[p] = true
		isScript := false
		for _, s := range scriptNames {
			isScript = isScript || p == s
		}
		if p != "control" && p != "conffiles" && !isScript {
			c.others = append(c.others, p)
			continue
		}
		if h.Typeflag != tar.TypeReg {
			return nil, facts.Defectf(facts.KindDeb, "%s member %q is not a regular file (tar type %q)", name, p, h.Typeflag)
		}
		want := h.Size
		if isScript && p != "triggers" {
			want = min(want, scriptHead) // only the #! line is wanted
		}
		b, err := readAll(tr, want)
		if err != nil {
			return nil, decodeError(name, err)
		}
		switch {
		case p == "control":
			if c.fields, c.order, err = parseControl(b); err != nil {
				return nil, facts.Defectf(facts.KindDeb, "%s: control file: %v", name, err)
			}
		case p == "conffiles":
			c.conffiles = parseConffiles(b)
		case p == "triggers":
			c.scripts[p] = triggersDetail(b)
		default:
			c.scripts[p] = interpreter(b)
		}
	}
	if c.fields == nil {
		return nil, facts.Defectf(facts.KindDeb, "%s has no control file", name)
	}
	for _, f := range []string{"Package", "Version"} {
		if c.fields[f] == "" {
			return nil, facts.Defectf(facts.KindDeb, "control file has no %s field", f)
		}
	}
	return c, nil
}

// memberPath normalises a tar member name ("./usr/bin/x" -> "usr/bin/x")
// and refuses one that escapes the root.
func memberPath(name string) (string, error) {
	p := strings.TrimPrefix(name, "./")
	p = strings.TrimLeft(p, "/")
	p = strings.TrimSuffix(p, "/")
	if strings.Contains("/"+p+"/", "/../") {
		return "", fmt.Errorf("member name %q escapes the package root", name)
	}
	if strings.ContainsRune(p, 0) {
		return "", fmt.Errorf("member name %q contains a NUL byte", name)
	}
	return p, nil
}

// readAll reads exactly n bytes of a tar member (n is checked by the
// caller against a limit).
func readAll(r io.Reader, n int64) ([]byte, error) {
	var b bytes.Buffer // grows with what arrives, not with what a header claims
	if _, err := io.CopyN(&b, r, n); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// foldedFields are the relationship fields of deb-control(5), whose
// continuation lines are folded into one line (whitespace in them is not
// significant), as dpkg does.
var foldedFields = map[string]bool{
	"Depends": true, "Pre-Depends": true, "Recommends": true, "Suggests": true, "Breaks": true,
	"Conflicts": true, "Provides": true, "Replaces": true, "Enhances": true, "Built-Using": true,
	"Static-Built-Using": true, "Uploaders": true,
}

// parseControl parses a binary package control file (deb-control(5)): one
// paragraph of "Field: value" lines, continuation lines starting with a
// space or tab. A folded field's continuation lines join its first with a
// space; any other multi-line value is its first line, then each
// continuation line as written, joined by newlines, as `dpkg-deb -f`
// prints it.
func parseControl(b []byte) (map[string]string, []string, error) {
	fields := map[string]string{}
	var order []string
	last := ""
	ended := false
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSuffix(line, "\r")
		n := i + 1
		if strings.TrimSpace(line) == "" {
			if len(fields) > 0 {
				ended = true
			}
			continue
		}
		if ended {
			return nil, nil, fmt.Errorf("line %d: more than one paragraph", n)
		}
		if line[0] == ' ' || line[0] == '\t' {
			if last == "" {
				return nil, nil, fmt.Errorf("line %d: continuation line before any field", n)
			}
			if foldedFields[last] {
				fields[last] = strings.TrimSpace(fields[last] + " " + strings.TrimSpace(line))
			} else {
				fields[last] += "\n" + line
			}
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok || k == "" || strings.ContainsAny(k, " \t") || k[0] == '#' || k[0] == '-' {
			return nil, nil, fmt.Errorf("line %d: %q is not a field", n, clip(line, 60))
		}
		if _, dup := fields[k]; dup {
			return nil, nil, fmt.Errorf("line %d: field %s twice", n, k)
		}
		fields[k] = strings.TrimSpace(v)
		order = append(order, k)
		last = k
	}
	if len(fields) == 0 {
		return nil, nil, fmt.Errorf("no fields")
	}
	return fields, order, nil
}

// parseConffiles reads conffiles: one absolute path a line, optionally
// after flags ("remove-on-upgrade /etc/foo").
func parseConffiles(b []byte) []string {
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		out = append(out, strings.TrimLeft(f[len(f)-1], "/"))
	}
	return out
}

// interpreter describes how a maintainer script runs: its #! line, or what
// it is when it has none.
func interpreter(b []byte) string {
	switch {
	case bytes.HasPrefix(b, []byte("#!")):
		line, _, _ := bytes.Cut(b[2:], []byte("\n"))
		return clip(strings.TrimSpace(string(line)), 200)
	case bytes.HasPrefix(b, []byte("\x7fELF")):
		return "ELF executable (no interpreter)"
	case len(b) == 0:
		return "empty file"
	}
	return "no #! line"
}

// triggersDetail lists the directives of a triggers file.
func triggersDetail(b []byte) string {
	var d []string
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		if len(d) == 8 {
			d = append(d, "...")
			break
		}
		d = append(d, clip(strings.Join(strings.Fields(line), " "), 120))
	}
	if len(d) == 0 {
		return "dpkg triggers: none declared"
	}
	return "dpkg triggers: " + strings.Join(d, "; ")
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// splitDepends splits a Depends-style field into its entries as written,
// with the whitespace of continuation lines collapsed.
func splitDepends(v string) []string {
	var out []string
	for _, e := range strings.Split(v, ",") {
		e = strings.Join(strings.Fields(e), " ")
		if e != "" {
			out = append(out, e)
		}
	}
	return out
}
