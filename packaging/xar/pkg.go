package xar

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/eucora/eucora/packaging/facts"
	"github.com/eucora/eucora/packaging/internal/xmlplist"
)

// What InspectPkg always or often leaves unread, as Facts.NotInspected says it.
const (
	NotInspectedNoTicket = "notarization (no stapled ticket; online check not made)"
	NotInspectedTicket   = "notarization ticket's own Apple signature (a ticket is stapled; it was not verified)"
	NotInspectedBom      = "Bom files (the Payload's own cpio listing is read instead)"
	NotInspectedContents = "payload file contents (names, modes and sizes are read, and LaunchDaemon plists; nothing is scanned or run)"
	NotInspectedCMSOnly  = "signature: only a CMS signature (<x-signature>) is present and it was not verified"
)

// Inspect is the factory's reader for .pkg files: InspectPkg.
func Inspect(r io.ReaderAt, size int64, o facts.Options) (*facts.Facts, error) {
	return InspectPkg(r, size, o)
}

// InspectPkg reads a macOS flat installer package (a product archive or a
// component package) and returns its facts: identity from the
// Distribution's <product> and <title> or the first PackageInfo, one
// Component per component package, the xar RSA signature and chain,
// whether a notarization ticket is stapled, scripts (PackageInfo's and
// every member of each Scripts archive, and the Distribution's installer
// JavaScript), admin rights (auth="root"), LaunchDaemons (as Services),
// kernel, system and DriverKit extensions, setuid/setgid files and the
// payload's file list. Everything is read through r within o.Limits.
func InspectPkg(r io.ReaderAt, size int64, o facts.Options) (*facts.Facts, error) {
	lim := o.Limits.WithDefaults()
	a, err := Open(r, size, lim)
	if err != nil {
		return nil, err
	}
	in := &inspector{a: a, lim: lim, f: &facts.Facts{Kind: facts.KindPkg, Fields: map[string]string{}}, drivers: map[string]bool{}}
	if err := in.run(o); err != nil {
		return nil, err
	}
	return in.f, nil
}

type inspector struct {
	a       *Archive
	lim     facts.Limits
	f       *facts.Facts
	files   facts.FileSummary
	drivers map[string]bool
	notes   []string
}

// component is one component package in the archive.
type component struct {
	dir      *File // nil for a component package at the root
	label    string
	info     *node
	id, ver  string
	location string
}

func (c *component) prefix() string {
	if c.dir == nil {
		return ""
	}
	return c.dir.Path + "/"
}

func (in *inspector) note(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	if !slices.Contains(in.notes, s) {
		in.notes = append(in.notes, s)
	}
}

func (in *inspector) run(o facts.Options) error {
	a, f := in.a, in.f
	sig, err := a.VerifySignature(o)
	if err != nil {
		return err
	}
	f.Signature = sig
	if sig == nil {
		in.note(NotInspectedCMSOnly)
	}
	if n, ok, err := a.Ticket(); err != nil {
		return err
	} else if ok {
		if sig != nil {
			sig.Notarized = true
			sig.Detail += fmt.Sprintf("; a notarization ticket (%d bytes) is stapled", n)
		}
		in.note(NotInspectedTicket)
	} else {
		in.note(NotInspectedNoTicket)
	}
	if a.Checksum.Style != "" && a.Checksum.Style != "none" {
		f.Fields["toc checksum"] = fmt.Sprintf("%s:%x", a.Checksum.Style, a.Checksum.Value)
	}
	if a.CreationTime != "" {
		f.Fields["creation-time"] = a.CreationTime
	}

	var dist *node
	if df := a.Lookup("Distribution"); df != nil && df.Data != nil {
		b, err := in.readSmall(df)
		if err != nil {
			return err
		}
		if dist, err = parseTree(b, in.lim.MaxEntries); err != nil {
			return defect("Distribution: %v", err)
		}
		if dist.Name != "installer-gui-script" && dist.Name != "installer-script" {
			return defect("Distribution's root element is <%s>, not <installer-gui-script>", dist.Name)
		}
	}
	comps, err := in.components()
	if err != nil {
		return err
	}
	if dist == nil && len(comps) == 0 {
		return defect("a xar archive, but not an installer package: no Distribution and no PackageInfo")
	}
	if dist != nil {
		in.distribution(dist, comps)
	}
	for _, c := range comps {
		if err := in.component(c); err != nil {
			return err
		}
	}
	in.identity(dist, comps)

	if in.files.Count > 0 || len(in.files.Sample) > 0 {
		sort.Strings(in.files.Sample)
		fs := in.files
		f.Files = &fs
	}
	if len(comps) > 0 {
		in.note(NotInspectedBom)
		in.note(NotInspectedContents)
	}
	f.NotInspected = in.notes
	if len(f.Fields) == 0 {
		f.Fields = nil
	}
	return nil
}

// readSmall reads a metadata file whole within MaxMetadata.
func (in *inspector) readSmall(f *File) ([]byte, error) {
	b, err := in.a.ReadFile(f, in.lim.MaxMetadata)
	if errors.Is(err, ErrEncoding) {
		return nil, defect("%s: %v", f.Path, err)
	}
	return b, err
}

// components finds the component packages: PackageInfo at the root, or in
// a directory at the root (a product archive's foo.pkg/).
func (in *inspector) components() ([]*component, error) {
	var out []*component
	add := func(dir *File, pi *File) error {
		b, err := in.readSmall(pi)
		if err != nil {
			return err
		}
		n, err := parseTree(b, in.lim.MaxEntries)
		if err != nil {
			return defect("%s: %v", pi.Path, err)
		}
		if n.Name != "pkg-info" {
			return defect("%s: root element <%s>, not <pkg-info>", pi.Path, n.Name)
		}
		c := &component{dir: dir, info: n, id: n.attr("identifier"), ver: n.attr("version"), location: n.attr("install-location")}
		c.label = c.id
		if dir != nil {
			c.label = dir.Name
		}
		if c.label == "" {
			c.label = "the component package"
		}
		out = append(out, c)
		return nil
	}
	if pi := in.a.Lookup("PackageInfo"); pi != nil && pi.Data != nil {
		if err := add(nil, pi); err != nil {
			return nil, err
		}
	}
	for _, d := range in.a.Children(nil) {
		if d.Type != "directory" {
			continue
		}
		if pi := in.a.Lookup(d.Path + "/PackageInfo"); pi != nil && pi.Data != nil {
			if err := add(d, pi); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func (in *inspector) distribution(d *node, comps []*component) {
	f := in.f
	if v := d.attr("minSpecVersion"); v != "" {
		f.Fields["minSpecVersion"] = v
	}
	inArchive := map[string]bool{}
	for _, c := range comps {
		if c.dir != nil {
			inArchive[c.dir.Name] = true
		}
	}
	seenRef := map[string]bool{}
	d.walk(func(n *node) {
		switch n.Name {
		case "title":
			if t := strings.TrimSpace(n.Text); t != "" && f.Fields["title"] == "" {
				f.Fields["title"] = t
			}
		case "product":
			if v := n.attr("id"); v != "" {
				f.Fields["product id"] = v
			}
			if v := n.attr("version"); v != "" {
				f.Fields["product version"] = v
			}
		case "options":
			if v := n.attr("hostArchitectures"); v != "" {
				f.Fields["hostArchitectures"] = v
			}
		case "os-version":
			if v := n.attr("min"); v != "" {
				dep := "macOS >= " + v
				if !slices.Contains(f.Depends, dep) {
					f.Depends = append(f.Depends, dep)
				}
			}
		case "script":
			if strings.TrimSpace(n.Text) == "" {
				return
			}
			detail := "JavaScript that Installer evaluates before and during the install"
			if strings.Contains(n.Text, "system.run") {
				detail += "; it calls system.run (runs programs)"
			}
			f.Scripts = append(f.Scripts, facts.Script{Name: "Distribution installer JavaScript", Kind: "pkg-script", Detail: detail})
		case "pkg-ref":
			id := n.attr("id")
			if strings.EqualFold(n.attr("auth"), "root") {
				in.admin(fmt.Sprintf("Distribution pkg-ref %s auth=%s", id, n.attr("auth")))
			}
			ref := strings.TrimSpace(n.Text)
			if ref == "" || seenRef[ref] {
				return
			}
			seenRef[ref] = true
			name, ok := strings.CutPrefix(ref, "#")
			if u, err := url.PathUnescape(name); err == nil {
				name = u
			}
			if !ok || !inArchive[name] {
				in.note("component package %s (%s) is outside the archive and was not read", id, ref)
			}
		}
	})
}

func (in *inspector) admin(reason string) {
	p := &in.f.Privilege
	p.RequiresAdmin = true
	if !slices.Contains(p.Reasons, reason) {
		p.Reasons = append(p.Reasons, reason)
	}
}

func (in *inspector) reason(reason string) {
	p := &in.f.Privilege
	if !slices.Contains(p.Reasons, reason) {
		p.Reasons = append(p.Reasons, reason)
	}
}

func (in *inspector) component(c *component) error {
	f, a := in.f, in.a
	pre := ""
	if c.dir != nil {
		pre = c.dir.Name + " "
	}
	for _, k := range []string{"identifier", "version", "install-location", "auth", "format-version"} {
		if v := c.info.attr(k); v != "" {
			f.Fields[pre+k] = v
		}
	}
	if p := c.info.child("payload"); p != nil {
		for _, k := range []string{"numberOfFiles", "installKBytes"} {
			if v := p.attr(k); v != "" {
				f.Fields[pre+"payload "+k] = v
			}
		}
	}
	f.Components = append(f.Components, facts.Component{Name: c.id, Version: c.ver})
	if strings.EqualFold(c.info.attr("auth"), "root") {
		in.admin(fmt.Sprintf("PackageInfo of %s: auth=%s", c.label, c.info.attr("auth")))
	}

	// Scripts PackageInfo names, then every member of the Scripts archive.
	named := map[string]string{} // member path -> "preinstall"
	if s := c.info.child("scripts"); s != nil {
		for _, e := range s.Children {
			if file := e.attr("file"); file != "" {
				named[cleanMember(file)] = e.Name
			}
		}
	}
	found := map[string]bool{}
	if sf := a.Lookup(c.prefix() + "Scripts"); sf != nil {
		err := in.cpioFile(sf, c, func(cr *cpioReader, e *cpioEntry, rel string) error {
			if e.Mode&cpioTypeMask != cpioRegular {
				return nil
			}
			found[rel] = true
			detail := c.label + " Scripts archive"
			if role := named[rel]; role != "" {
				detail += "; PackageInfo " + role
			}
			head := make([]byte, 128)
			n, err := io.ReadFull(cr, head)
			if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
				return err
			}
			if line, _, _ := bytes.Cut(head[:n], []byte("\n")); bytes.HasPrefix(line, []byte("#!")) {
				detail += "; " + strings.TrimSpace(string(line))
			}
			f.Scripts = append(f.Scripts, facts.Script{Name: rel, Kind: "pkg-script", Detail: detail})
			return nil
		})
		if err != nil {
			return err
		}
	}
	roles := make([]string, 0, len(named))
	for rel := range named {
		roles = append(roles, rel)
	}
	sort.Strings(roles)
	for _, rel := range roles {
		if !found[rel] {
			f.Scripts = append(f.Scripts, facts.Script{Name: named[rel], Kind: "pkg-script",
				Detail: fmt.Sprintf("named in PackageInfo of %s as %s, not found in its Scripts archive", c.label, rel)})
		}
	}

	if pf := a.Lookup(c.prefix() + "Payload"); pf != nil {
		return in.cpioFile(pf, c, func(cr *cpioReader, e *cpioEntry, rel string) error {
			return in.payloadEntry(cr, e, rel, c)
		})
	}
	return nil
}

// cpioFile reads the cpio archive stored in xar file xf (gzip, bzip2,
// pbzx raw chunks or plain), calling fn for each member with its path
// relative to the package root ("" members and "." skipped).
func (in *inspector) cpioFile(xf *File, c *component, fn func(*cpioReader, *cpioEntry, string) error) error {
	what := fmt.Sprintf("%s of %s", xf.Name, c.label)
	if xf.Type == "directory" {
		in.note("%s is an expanded directory, not an archive; not read", what)
		return nil
	}
	rd, err := in.a.Open(xf)
	if errors.Is(err, ErrEncoding) {
		in.note("%s: %v", what, err)
		return nil
	}
	if err != nil {
		return err
	}
	counted := &countReader{r: rd}
	br := bufio.NewReaderSize(counted, 64<<10)
	head, _ := br.Peek(6)
	var src io.Reader
	switch {
	case len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b:
		gz, err := gzip.NewReader(br)
		if err != nil {
			return defect("%s: gzip: %v", what, err)
		}
		src = in.a.meter(gz, counted, what)
	case bytes.HasPrefix(head, []byte("BZh")):
		src = in.a.meter(bzip2.NewReader(br), counted, what)
	case bytes.HasPrefix(head, []byte("pbzx")):
		pz, err := newPbzxReader(br)
		if err != nil {
			return defect("%s: %v", what, err)
		}
		src = pz
	case bytes.HasPrefix(head, []byte("0707")):
		src = br
	case len(head) == 0:
		return nil // an empty Payload: a payload-free package
	default:
		in.note("%s: not gzip, bzip2, pbzx or cpio data (starts with %x); not read", what, head)
		return nil
	}
	cr := newCpioReader(src, what)
	members := 0
	for {
		e, err := cr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return in.cpioErr(what, err)
		}
		members++
		if members > in.lim.MaxEntries {
			return defect("%s has more than %d members, limit %d", what, in.lim.MaxEntries, in.lim.MaxEntries)
		}
		rel, ok := memberPath(e.Name)
		if !ok {
			return defect("%s: member %q escapes the install location", what, e.Name)
		}
		if rel == "" {
			continue
		}
		if err := fn(cr, e, rel); err != nil {
			return in.cpioErr(what, err)
		}
	}
	// The rest of the stream: the decoders' own checks (gzip CRC, xar
	// checksums) run at its end.
	if _, err := io.Copy(io.Discard, src); err != nil {
		return in.cpioErr(what, err)
	}
	if _, err := io.Copy(io.Discard, br); err != nil {
		return in.cpioErr(what, err)
	}
	return nil
}

func (in *inspector) cpioErr(what string, err error) error {
	var de *facts.DefectError
	switch {
	case errors.As(err, &de):
		return err
	case errors.Is(err, errPbzxCompressed):
		in.note("%s: pbzx-compressed payload (LZMA/LZFSE) not expanded", what)
		return nil
	case errors.Is(err, errNotCpio):
		return defect("%v", err)
	}
	if strings.HasPrefix(err.Error(), what) {
		return defect("%v", err)
	}
	return defect("%s: %v", what, err)
}

// memberPath turns a cpio member name ("./usr/bin/x") into a clean
// relative path; ok is false when it climbs out with "..".
func memberPath(name string) (string, bool) {
	name = strings.TrimLeft(strings.TrimPrefix(name, "./"), "/")
	for _, el := range strings.Split(name, "/") {
		if el == ".." {
			return "", false
		}
	}
	p := path.Clean("/" + name)
	return strings.TrimPrefix(p, "/"), true
}

func cleanMember(name string) string {
	rel, _ := memberPath(name)
	return rel
}

// launchd daemon directories.
var daemonDirs = []string{"/Library/LaunchDaemons", "/System/Library/LaunchDaemons"}

func (in *inspector) payloadEntry(cr *cpioReader, e *cpioEntry, rel string, c *component) error {
	full := path.Join("/", c.location, rel)
	typ := e.Mode & cpioTypeMask
	if typ != cpioDir {
		in.files.Count++
		if len(in.files.Sample) < 100 {
			in.files.Sample = append(in.files.Sample, full)
		}
	}
	if typ == cpioRegular {
		in.files.Bytes += e.Size
		if e.Mode&(cpioSetuid|cpioSetgid) != 0 {
			kind := "setuid"
			if e.Mode&cpioSetuid == 0 {
				kind = "setgid"
			} else if e.Mode&cpioSetgid != 0 {
				kind = "setuid and setgid"
			}
			in.f.Privilege.Setuid = append(in.f.Privilege.Setuid, full)
			in.reason(fmt.Sprintf("%s file %s (mode %o) in %s", kind, full, e.Mode&0o7777, c.label))
		}
	}
	in.driver(full, c)
	if typ == cpioRegular && slices.Contains(daemonDirs, path.Dir(full)) && strings.HasSuffix(full, ".plist") {
		return in.daemon(cr, e, full, c)
	}
	return nil
}

// driver flags kernel extensions, system extensions and DriverKit
// extensions, once per bundle.
func (in *inspector) driver(full string, c *component) {
	els := strings.Split(strings.TrimPrefix(full, "/"), "/")
	for i, el := range els {
		kind := ""
		switch {
		case strings.HasSuffix(el, ".kext"):
			kind = "kernel extension"
		case strings.HasSuffix(el, ".systemextension"):
			kind = "system extension"
		case strings.HasSuffix(el, ".dext"):
			kind = "DriverKit extension"
		case i > 0 && el == "SystemExtensions" && els[i-1] == "Library" && i+1 < len(els):
			kind = "system extension"
			i++
		}
		if kind == "" {
			continue
		}
		bundle := "/" + strings.Join(els[:i+1], "/")
		if in.drivers[bundle] {
			return
		}
		in.drivers[bundle] = true
		in.f.Privilege.InstallsDriver = true
		in.reason(fmt.Sprintf("payload of %s installs %s %s", c.label, kind, bundle))
		return
	}
}

func (in *inspector) daemon(cr *cpioReader, e *cpioEntry, full string, c *component) error {
	f := in.f
	f.Privilege.InstallsService = true
	svc := facts.Service{Name: strings.TrimSuffix(path.Base(full), ".plist"), Account: "root", Start: "on demand", Source: full}
	defer func() {
		f.Services = append(f.Services, svc)
		in.reason(fmt.Sprintf("LaunchDaemon %s (%s in %s, runs as %s)", svc.Name, full, c.label, svc.Account))
	}()
	limit := min(in.lim.MaxMetadata, xmlplist.DefaultLimits.MaxBytes)
	if e.Size > limit {
		in.note("LaunchDaemon plist %s is %d bytes, over %d; its keys were not read", full, e.Size, limit)
		return nil
	}
	var b bytes.Buffer
	if _, err := io.Copy(&b, cr); err != nil {
		return err
	}
	pl, err := xmlplist.ParseBytes(b.Bytes(), xmlplist.Limits{MaxBytes: limit, MaxValues: in.lim.MaxEntries})
	if errors.Is(err, xmlplist.ErrBinary) {
		in.note("LaunchDaemon %s is a binary plist; its Label, UserName and Sockets were not read", full)
		return nil
	}
	if err != nil {
		in.note("LaunchDaemon %s does not parse as a plist (%v); its keys were not read", full, err)
		return nil
	}
	if l := pl.Str("Label"); l != "" {
		svc.Name = l
	}
	if u := pl.Str("UserName"); u != "" {
		svc.Account = u
	}
	var start []string
	if pl.True("RunAtLoad") {
		start = append(start, "RunAtLoad")
	}
	if ka := pl.Get("KeepAlive"); ka != nil && (ka.Kind == xmlplist.Dict || ka.Bool) {
		start = append(start, "KeepAlive")
	}
	if len(start) > 0 {
		svc.Start = strings.Join(start, ", ")
	}
	if socks := pl.Get("Sockets"); socks != nil && socks.Kind == xmlplist.Dict {
		for _, k := range socks.Keys {
			v := socks.Dict[k]
			list := []*xmlplist.Value{v}
			if v.Kind == xmlplist.Array {
				list = v.Items
			}
			for _, s := range list {
				f.Listeners = append(f.Listeners, listener(svc.Name, k, s))
			}
		}
	}
	return nil
}

// listener describes one launchd socket.
func listener(label, key string, s *xmlplist.Value) string {
	if s == nil || s.Kind != xmlplist.Dict {
		return fmt.Sprintf("launchd socket %s/%s", label, key)
	}
	if p := s.Str("SockPathName"); p != "" {
		return fmt.Sprintf("launchd socket %s/%s: unix %s", label, key, p)
	}
	proto := "tcp"
	if strings.EqualFold(s.Str("SockType"), "dgram") {
		proto = "udp"
	}
	svc := s.Str("SockServiceName")
	if v := s.Get("SockServiceName"); v != nil && v.Kind == xmlplist.Integer {
		svc = v.Text
	}
	node := s.Str("SockNodeName")
	if node == "" {
		node = "*"
	}
	return fmt.Sprintf("launchd socket %s/%s: %s %s:%s", label, key, proto, node, svc)
}

func (in *inspector) identity(dist *node, comps []*component) {
	f := in.f
	id := &f.Identity
	if v := f.Fields["product id"]; v != "" {
		id.ID, id.Version = v, f.Fields["product version"]
	} else if len(comps) > 0 {
		id.ID, id.Version = comps[0].id, comps[0].ver
	}
	id.Name = f.Fields["title"]
	if id.Name == "" || strings.HasPrefix(id.Name, "SU_") {
		id.Name = id.ID
	}
	if dist != nil && id.Version == "" {
		// A product archive without <product version>: the first pkg-ref's.
		dist.walk(func(n *node) {
			if id.Version == "" && n.Name == "pkg-ref" && n.attr("version") != "" {
				id.Version = n.attr("version")
			}
		})
	}
	id.Arch = arch(f.Fields["hostArchitectures"])
}

// arch maps Installer's hostArchitectures to the facts' names.
func arch(host string) string {
	if host == "" {
		return ""
	}
	var out []string
	for _, a := range strings.Split(host, ",") {
		switch a = strings.TrimSpace(a); a {
		case "x86_64":
			a = "amd64"
		case "i386":
			a = "x86"
		}
		if a != "" && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	if len(out) > 1 {
		return "universal"
	}
	if len(out) == 1 {
		return out[0]
	}
	return ""
}

// meter bounds a decompressor reading from in: the archive's total
// budget and the ratio limit.
func (a *Archive) meter(r io.Reader, in *countReader, what string) io.Reader {
	return &meterReader{a: a, r: r, in: in, what: what}
}

type meterReader struct {
	a    *Archive
	r    io.Reader
	in   *countReader
	out  int64
	what string
}

func (m *meterReader) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	m.out += int64(n)
	m.a.used += int64(n)
	if m.a.used > m.a.lim.MaxUncompressed {
		return 0, defect("%s: the package decompresses past %d bytes in total (bomb?)", m.what, m.a.lim.MaxUncompressed)
	}
	if m.out > 1<<20 && m.out/max(m.in.n, 1) > m.a.lim.MaxRatio {
		return 0, defect("%s expands more than %d times (bomb?)", m.what, m.a.lim.MaxRatio)
	}
	if err != nil && err != io.EOF {
		var de *facts.DefectError
		if errors.As(err, &de) {
			return n, err
		}
		return n, defect("%s: %v", m.what, err)
	}
	return n, err
}
