package deb

import (
	"archive/tar"
	"bufio"
	"bytes"
	"fmt"
	"io"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/eucora/eucora/packaging/facts"
)

// unitDirs are the system unit directories a package ships units in.
var unitDirs = []string{"lib/systemd/system/", "usr/lib/systemd/system/", "etc/systemd/system/"}

// unitSuffixes are systemd unit types (systemd.unit(5)).
var unitSuffixes = []string{".service", ".socket", ".timer", ".path", ".mount", ".automount", ".swap", ".target", ".slice", ".scope", ".device"}

// kernelModule matches a kernel module under a modules tree.
var kernelModule = regexp.MustCompile(`^(usr/)?lib/modules/.+\.ko(\.(gz|xz|zst|bz2))?$`)

// dkmsConf matches a DKMS source tree's configuration.
var dkmsConf = regexp.MustCompile(`^usr/src/[^/]+/dkms\.conf$`)

const (
	sampleSize = 100 // FileSummary.Sample
	maxReasons = 100 // files named per kind of reason before "and N more" (a kernel image ships thousands of modules)
	initHead   = 64 << 10
)

// dataSummary is what data.tar's headers (and unit files) show.
type dataSummary struct {
	count     int
	bytes     int64
	sample    []string
	units     []string
	services  []facts.Service
	listeners []string
	setuid    []string
	reasons   map[string][]string // kind -> paths
	kinds     []string            // reason kinds in first-seen order
}

func (d *dataSummary) reason(kind, p string) {
	if d.reasons == nil {
		d.reasons = map[string][]string{}
	}
	if _, ok := d.reasons[kind]; !ok {
		d.kinds = append(d.kinds, kind)
	}
	d.reasons[kind] = append(d.reasons[kind], p)
}

// reasonLines renders the reasons, at most maxReasons per kind.
func (d *dataSummary) reasonLines() []string {
	var out []string
	for _, k := range d.kinds {
		ps := d.reasons[k]
		for i, p := range ps {
			if i == maxReasons {
				out = append(out, fmt.Sprintf("and %d more %s", len(ps)-i, k))
				break
			}
			out = append(out, k+" "+p)
		}
	}
	return out
}

// walkData reads data.tar's headers once, in order, and the systemd unit
// and init.d files within MaxMetadata.
func walkData(tr *tar.Reader, name string, lim facts.Limits) (*dataSummary, error) {
	d := &dataSummary{}
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
		if h.Typeflag == tar.TypeDir || h.Typeflag == tar.TypeXGlobalHeader || p == "" {
			continue
		}
		d.count++
		if len(d.sample) < sampleSize {
			d.sample = append(d.sample, p)
		}
		reg := h.Typeflag == tar.TypeReg
		if !reg {
			if isUnit(p) && h.Typeflag == tar.TypeSymlink {
				d.units = append(d.units, p)
			}
			continue
		}
		if h.Size < 0 {
			return nil, facts.Defectf(facts.KindDeb, "%s: member %q has a negative size", name, p)
		}
		d.bytes += h.Size
		if h.Mode&0o6000 != 0 {
			d.setuid = append(d.setuid, p)
			what := "setuid"
			switch {
			case h.Mode&0o6000 == 0o6000:
				what = "setuid and setgid"
			case h.Mode&0o2000 != 0:
				what = "setgid"
			}
			d.reason(what+" file", fmt.Sprintf("%s (mode %04o)", p, h.Mode&0o7777))
		}
		switch {
		case isUnit(p):
			d.units = append(d.units, p)
			if err := d.unit(tr, h, p, name, lim); err != nil {
				return nil, err
			}
		case strings.HasPrefix(p, "etc/init.d/") && !strings.Contains(p[len("etc/init.d/"):], "/"):
			if err := d.initScript(tr, h, p, name); err != nil {
				return nil, err
			}
		case kernelModule.MatchString(p):
			d.reason("kernel module", p)
		case dkmsConf.MatchString(p):
			d.reason("DKMS module source", path.Dir(p))
		}
	}
	sort.Strings(d.sample)
	return d, nil
}

func isUnit(p string) bool {
	dir, base := path.Split(p)
	if base == "" {
		return false
	}
	ok := false
	for _, u := range unitDirs {
		ok = ok || dir == u
	}
	if !ok {
		return false
	}
	for _, s := range unitSuffixes {
		if strings.HasSuffix(base, s) && len(base) > len(s) {
			return true
		}
	}
	return false
}

// unit reads a .service or .socket unit file.
func (d *dataSummary) unit(tr *tar.Reader, h *tar.Header, p, name string, lim facts.Limits) error {
	base := path.Base(p)
	isService, isSocket := strings.HasSuffix(base, ".service"), strings.HasSuffix(base, ".socket")
	if !isService && !isSocket {
		return nil
	}
	if h.Size > lim.MaxMetadata {
		return facts.Defectf(facts.KindDeb, "%s: unit file %q is %d bytes, over MaxMetadata (%d)", name, p, h.Size, lim.MaxMetadata)
	}
	b, err := readAll(tr, h.Size)
	if err != nil {
		return decodeError(name, err)
	}
	u := parseUnit(b)
	if isService {
		start := strings.Join(u.wantedBy, " ")
		if start == "" && len(u.requiredBy) > 0 {
			start = "required by " + strings.Join(u.requiredBy, " ")
		}
		d.services = append(d.services, facts.Service{Name: base, Start: start, Account: u.user, Source: p})
		d.reason("systemd service", p)
	}
	for _, l := range u.listen {
		d.listeners = append(d.listeners, fmt.Sprintf("%s (%s)", l, p))
	}
	return nil
}

// initScript records a SysV init script; its LSB header gives the
// runlevels it starts in.
func (d *dataSummary) initScript(tr *tar.Reader, h *tar.Header, p, name string) error {
	b, err := readAll(tr, min(h.Size, initHead))
	if err != nil {
		return decodeError(name, err)
	}
	start := ""
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, initHead)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if v, ok := strings.CutPrefix(line, "# Default-Start:"); ok {
			if f := strings.Fields(v); len(f) > 0 {
				start = "runlevels " + strings.Join(f, " ")
			}
			break
		}
		if strings.HasPrefix(line, "### END INIT INFO") {
			break
		}
	}
	d.services = append(d.services, facts.Service{Name: path.Base(p), Start: start, Account: "root", Source: p})
	d.reason("init script", p)
	return nil
}

// unitFile is what a unit file says about starting, its account and its
// sockets.
type unitFile struct {
	wantedBy, requiredBy []string
	user                 string
	listen               []string // "ListenStream=0.0.0.0:80"
}

// parseUnit reads the keys it needs from a systemd unit file
// (systemd.syntax(7)): sections, key=value, comments, backslash
// continuation, and an empty list assignment resetting the list.
func parseUnit(b []byte) unitFile {
	var u unitFile
	section := ""
	lines := strings.Split(string(b), "\n")
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(strings.TrimSuffix(lines[i], "\r"))
		for strings.HasSuffix(line, "\\") && i+1 < len(lines) {
			i++
			line = strings.TrimSuffix(line, "\\") + " " + strings.TrimSpace(lines[i])
		}
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' && strings.HasSuffix(line, "]") {
			section = line[1 : len(line)-1]
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		list := func(l *[]string) {
			if v == "" {
				*l = nil
				return
			}
			*l = append(*l, strings.Fields(v)...)
		}
		switch section + "." + k {
		case "Install.WantedBy":
			list(&u.wantedBy)
		case "Install.RequiredBy":
			list(&u.requiredBy)
		case "Service.User":
			u.user = v
		case "Service.DynamicUser":
			if u.user == "" && (v == "yes" || v == "true" || v == "1" || v == "on") {
				u.user = "dynamic user"
			}
		case "Socket.ListenStream", "Socket.ListenDatagram", "Socket.ListenSequentialPacket":
			if v == "" {
				u.listen = nil
				continue
			}
			u.listen = append(u.listen, k+"="+v)
		}
	}
	return u
}
