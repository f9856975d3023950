// Command synchelper supports bench/sync.sh: it explains what a hub bundle
// carries, object by object, against the APT publication it was cut from,
// and copies a bundle's objects out of the hub's content store so the
// tar+zstd baseline works on exactly the same payload.
//
//	synchelper freeport -n 2
//	synchelper explain -bundle DIR -data HUBDATA -prefix corp -dist DIST [-vars FILE] [-list N]
//	synchelper copyobjs -bundle DIR -data HUBDATA -out DIR
package main

import (
	"archive/tar"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/eucora/eucora/internal/cas"
	"github.com/eucora/eucora/internal/datadir"
	"github.com/eucora/eucora/internal/digest"
	"github.com/eucora/eucora/mirror"
	"github.com/eucora/eucora/transfer"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: synchelper freeport|explain|copyobjs [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "freeport":
		err = freeport(os.Args[2:])
	case "explain":
		err = explain(os.Args[2:])
	case "copyobjs":
		err = copyObjs(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "synchelper:", err)
		os.Exit(1)
	}
}

// freeport prints n distinct free TCP ports on 127.0.0.1, one a line.
func freeport(args []string) error {
	fs := flag.NewFlagSet("freeport", flag.ExitOnError)
	n := fs.Int("n", 1, "ports")
	fs.Parse(args)
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	for i := 0; i < *n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		lns = append(lns, l)
		fmt.Println(l.Addr().(*net.TCPAddr).Port)
	}
	return nil
}

// bundle is a bundle's manifest plus its volumes' files and tar entries.
type bundle struct {
	m       *transfer.Manifest
	envelop int64            // MANIFEST.dsse.json bytes (one copy per volume)
	files   []string         // volume files
	volume  int64            // sum of volume file sizes
	stored  map[string]int64 // entry digest (hex) -> bytes in the tar entry
	zst     map[string]bool  // entry stored zstd-compressed
}

func openBundle(dir string) (*bundle, error) {
	files, err := transfer.ExpandPaths([]string{dir})
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no volume files", dir)
	}
	v, err := transfer.InspectVolume(files[0])
	if err != nil {
		return nil, err
	}
	b := &bundle{m: v.Signed.Manifest, files: files, stored: map[string]int64{}, zst: map[string]bool{}}
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			return nil, err
		}
		b.volume += fi.Size()
		if err := b.readEntries(f); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
	}
	return b, nil
}

func (b *bundle) readEntries(file string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if h.Name == transfer.ManifestEntry {
			b.envelop += h.Size
			continue
		}
		name := strings.TrimPrefix(h.Name, "objects/")
		if strings.HasSuffix(name, ".zst") {
			name = strings.TrimSuffix(name, ".zst")
			b.zst[name] = true
		}
		b.stored[name] += h.Size
	}
}

// storedSize is the bytes an object takes in the volumes (all its parts).
func (b *bundle) storedSize(o transfer.Object) int64 {
	var n int64
	for _, p := range o.Parts {
		n += b.stored[p.Digest.Hex()]
	}
	return n
}

// publicationPaths maps each object of the publication at prefix/dist to
// the paths it is published under.
func publicationPaths(data, prefix, dist string) (map[digest.Digest][]string, digest.Digest, error) {
	repo, err := mirror.OpenDataDir(data)
	if err != nil {
		return nil, "", err
	}
	ps, err := repo.PrefixState(prefix)
	if err != nil {
		return nil, "", err
	}
	ds, ok := ps.Dists[dist]
	if !ok {
		return nil, "", fmt.Errorf("nothing published at %s %s", prefix, dist)
	}
	pub, err := repo.LoadPublication(ds.Publication)
	if err != nil {
		return nil, "", err
	}
	out := map[digest.Digest][]string{ds.Publication: {"publication.json"}}
	for _, f := range pub.Files {
		out[f.SHA256] = append(out[f.SHA256], f.Path)
	}
	return out, ds.Publication, nil
}

// category names what an object is, from the paths it is published under.
func category(paths []string) string {
	if len(paths) == 0 {
		return "other (not in the publication)"
	}
	p := paths[0]
	for _, q := range paths {
		if !strings.Contains(q, "/by-hash/") {
			p = q
			break
		}
	}
	switch base := path.Base(p); {
	case p == "publication.json":
		return "publication manifest (publication.json)"
	case strings.HasSuffix(p, ".deb") || strings.HasSuffix(p, ".udeb"):
		return "packages (.deb)"
	case strings.Contains(p, "/by-hash/"):
		return "by-hash copies (no plain path)"
	case base == "Release" || base == "InRelease" || base == "Release.gpg":
		return "release files (Release, InRelease, Release.gpg)"
	case strings.HasPrefix(base, "Packages") || strings.HasPrefix(base, "Sources") || strings.HasPrefix(base, "Contents"):
		return "package indices (Packages*, same bytes as by-hash)"
	default:
		return "other index files"
	}
}

type line struct {
	cat         string
	digest      string
	raw, stored int64
	zst         bool
	paths       []string
}

func explain(args []string) error {
	fs := flag.NewFlagSet("explain", flag.ExitOnError)
	dir := fs.String("bundle", "", "bundle directory (volume files)")
	data := fs.String("data", "", "hub data directory (for the publication's paths)")
	prefix := fs.String("prefix", "", "publication prefix")
	dist := fs.String("dist", "", "publication dist")
	vars := fs.String("vars", "", "also write shell variables (KEY=VALUE lines) to this file")
	list := fs.Int("list", 40, "list every object when the bundle has at most this many")
	heldDir := fs.String("held", "", "an earlier bundle the receiver applied: also explain the delta against its content objects")
	fs.Parse(args)
	b, err := openBundle(*dir)
	if err != nil {
		return err
	}
	held := map[digest.Digest]bool{}
	if *heldDir != "" {
		hb, err := openBundle(*heldDir)
		if err != nil {
			return err
		}
		// Records are applied and dropped by the edge (and always travel,
		// complete, in every hub bundle): only content objects are held.
		records := map[digest.Digest]bool{}
		for _, r := range hb.m.Records {
			records[r.Digest] = true
		}
		for _, o := range hb.m.Objects {
			if !records[o.Digest] {
				held[o.Digest] = true
			}
		}
	}
	paths := map[digest.Digest][]string{}
	if *data != "" {
		if paths, _, err = publicationPaths(*data, *prefix, *dist); err != nil {
			return err
		}
	}
	recType := map[digest.Digest]string{}
	for _, r := range b.m.Records {
		recType[r.Digest] = r.Type
	}
	var lines []line
	for _, o := range b.m.Objects {
		l := line{digest: o.Digest.Hex(), raw: o.Size, stored: b.storedSize(o), paths: paths[o.Digest]}
		for _, p := range o.Parts {
			l.zst = l.zst || b.zst[p.Digest.Hex()]
		}
		if t, ok := recType[o.Digest]; ok {
			l.cat = "record: " + t
		} else {
			l.cat = category(l.paths)
		}
		if held[o.Digest] {
			l.cat = "held already: " + l.cat
		}
		lines = append(lines, l)
	}
	sort.Slice(lines, func(i, j int) bool {
		if lines[i].cat != lines[j].cat {
			return lines[i].cat < lines[j].cat
		}
		return lines[i].raw > lines[j].raw
	})
	type agg struct {
		n           int
		raw, stored int64
	}
	cats := map[string]*agg{}
	var order []string
	var raw, stored, debRaw, debStored int64
	for _, l := range lines {
		a := cats[l.cat]
		if a == nil {
			a = &agg{}
			cats[l.cat] = a
			order = append(order, l.cat)
		}
		a.n++
		a.raw += l.raw
		a.stored += l.stored
		raw += l.raw
		stored += l.stored
		if l.cat == "packages (.deb)" {
			debRaw += l.raw
			debStored += l.stored
		}
	}
	framing := b.volume - stored - b.envelop
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "what\tobjects\traw bytes\tbytes in volumes\t\n")
	for _, c := range order {
		a := cats[c]
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t\n", c, a.n, a.raw, a.stored)
	}
	fmt.Fprintf(w, "signed manifest (MANIFEST.dsse.json x %d volume(s))\t\t\t%d\t\n", len(b.files), b.envelop)
	fmt.Fprintf(w, "tar headers, padding, end blocks\t\t\t%d\t\n", framing)
	fmt.Fprintf(w, "total\t%d\t%d\t%d\t\n", len(lines), raw, b.volume)
	w.Flush()
	if len(lines) <= *list {
		fmt.Println("objects:")
		for _, l := range lines {
			z := ""
			if l.zst {
				z = " zstd"
			}
			fmt.Printf("  %s %10d raw %10d stored%s  %s  %s\n", l.digest[:12], l.raw, l.stored, z, l.cat, strings.Join(l.paths, " "))
		}
	}
	// The bundle's size had it carried only what the receiver lacked: the
	// same entries minus the held ones, a manifest listing only those
	// (re-encoded here; the writer's encoding is compact JSON), and the
	// tar framing of docs/bundle-format.md. Checked against the real
	// bundle: the same computation over all objects must give its size.
	all, _, err := b.sizeWithout(nil)
	if err != nil {
		return err
	}
	if all != b.volume {
		return fmt.Errorf("size model is off: %d computed, %d on disk", all, b.volume)
	}
	delta, denv, err := b.sizeWithout(held)
	if err != nil {
		return err
	}
	var newN int
	var newRaw, newStored, newDeb int64
	for _, l := range lines {
		if !strings.HasPrefix(l.cat, "held already: ") {
			newN++
			newRaw += l.raw
			newStored += l.stored
			if l.cat == "packages (.deb)" {
				newDeb += l.raw
			}
		}
	}
	if *heldDir != "" {
		fmt.Printf("not held by the receiver: %d objects, raw %d, in volumes %d (%d of them .deb); as a delta bundle: %d bytes\n",
			newN, newRaw, newStored, newDeb, delta)
	}
	if *vars != "" {
		var s strings.Builder
		fmt.Fprintf(&s, "B_OBJECTS=%d\nB_PAYLOAD=%d\nB_STORED=%d\nB_VOLUME=%d\nB_MANIFEST=%d\nB_FRAMING=%d\nB_DEB_RAW=%d\nB_DEB_STORED=%d\nB_RECORDS=%d\n",
			len(lines), raw, stored, b.volume, b.envelop, framing, debRaw, debStored, len(b.m.Records))
		fmt.Fprintf(&s, "D_OBJECTS=%d\nD_RAW=%d\nD_STORED=%d\nD_DEB_RAW=%d\nD_VOLUME=%d\nD_MANIFEST=%d\nD_FRAMING=%d\n",
			newN, newRaw, newStored, newDeb, delta, denv, delta-newStored-denv)
		return os.WriteFile(*vars, []byte(s.String()), 0o644)
	}
	return nil
}

// sizeWithout computes the size of a one-volume bundle with the same
// records and objects minus skip: a 512-byte header and data padded to 512
// bytes per entry, the manifest entry last, then two zero blocks. It also
// returns the manifest's (envelope's) size.
func (b *bundle) sizeWithout(skip map[digest.Digest]bool) (int64, int64, error) {
	if len(b.files) != 1 {
		return 0, 0, fmt.Errorf("size model covers one-volume bundles; this one has %d", len(b.files))
	}
	pad := func(n int64) int64 { return 512 + (n+511)/512*512 }
	m := *b.m
	m.Objects = nil
	var n int64
	for _, o := range b.m.Objects {
		if skip[o.Digest] {
			continue
		}
		m.Objects = append(m.Objects, o)
		for _, p := range o.Parts {
			n += pad(b.stored[p.Digest.Hex()])
		}
	}
	full, err := json.Marshal(b.m)
	if err != nil {
		return 0, 0, err
	}
	part, err := json.Marshal(&m)
	if err != nil {
		return 0, 0, err
	}
	b64 := func(n int) int64 { return int64(base64.StdEncoding.EncodedLen(n)) }
	env := b.envelop - b64(len(full)) + b64(len(part))
	return n + pad(env) + 1024, env, nil
}

// copyObjs writes each object of the bundle, raw, from the hub's content
// store to OUT/<hex>: the same payload the edge import stores.
func copyObjs(args []string) error {
	fs := flag.NewFlagSet("copyobjs", flag.ExitOnError)
	dir := fs.String("bundle", "", "bundle directory (volume files)")
	data := fs.String("data", "", "hub data directory")
	out := fs.String("out", "", "directory to write the objects to")
	fs.Parse(args)
	b, err := openBundle(*dir)
	if err != nil {
		return err
	}
	d, err := datadir.Create(*data)
	if err != nil {
		return err
	}
	st, err := cas.Open(d.CAS())
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	for _, o := range b.m.Objects {
		if err := copyOne(st, o.Digest, filepath.Join(*out, o.Digest.Hex())); err != nil {
			return err
		}
	}
	return nil
}

func copyOne(st *cas.Store, d digest.Digest, dst string) error {
	src, err := st.Open(d)
	if err != nil {
		return err
	}
	defer src.Close()
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, src); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
