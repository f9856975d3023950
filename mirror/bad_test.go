package mirror

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eucora/eucora/internal/digest"
)

// TestBadUpstreamRefused feeds a synced mirror every kind of bad upstream
// input. Each must be refused with a precise error naming the file, leave
// the mirror's state byte-identical, and leave the published snapshot
// served as before.
func TestBadUpstreamRefused(t *testing.T) {
	g := newGPG(t, "Upstream <up@example.invalid>")
	stranger := newGPG(t, "Stranger <x@example.invalid>")

	base := newUpstream(t)
	base.addDeb(debSpec{name: "alpha", version: "1.0"})
	base.addDeb(debSpec{name: "beta", version: "1.0"})
	goodDate := time.Now().Add(-time.Hour)
	base.index(indexOpts{signer: g, date: goodDate})
	srv := newFaultServer(t, base.dir)

	repo := testRepo(t)
	if err := repo.CreateMirror(&Mirror{Name: "up", URL: srv.URL, Dist: "test"}, g.pub); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := repo.Sync(ctx, "up", SyncOptions{Fetcher: fastFetcher()}); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.CreateSnapshot("up", "good"); err != nil {
		t.Fatal(err)
	}
	signer, _ := testSigner(t)
	if _, err := repo.Publish(ctx, "good", PublishOptions{Prefix: "p", Signer: signer}); err != nil {
		t.Fatal(err)
	}
	h := NewHandler(repo, nil)
	servedBefore := httpGet(t, h, "/p/dists/test/InRelease", nil).Body.String()
	stateBefore, err := os.ReadFile(repo.mirrorPath("up"))
	if err != nil {
		t.Fatal(err)
	}

	// variant builds a new upstream from base's packages plus extra ones,
	// indexed with opts, and lets mutate damage it.
	variant := func(t *testing.T, extra []debSpec, opts indexOpts, mutate func(u *upstream)) *upstream {
		u := newUpstream(t)
		for p, b := range base.debs {
			os.MkdirAll(filepath.Dir(u.path(p)), 0o755)
			os.WriteFile(u.path(p), b, 0o644)
			u.debs[p] = b
		}
		for _, s := range extra {
			u.addDeb(s)
		}
		if opts.signer == nil {
			opts.signer = g
		}
		if opts.date.IsZero() {
			opts.date = time.Now().Add(-time.Minute)
		}
		u.index(opts)
		if mutate != nil {
			mutate(u)
		}
		return u
	}
	newPkg := []debSpec{{name: "gamma", version: "1.0", payload: 64 << 10}}
	gammaURL := "/pool/main/g/gamma/gamma_1.0_amd64.deb"
	flip := func(path string, at int) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if at < 0 {
			at = len(b) + at
		}
		b[at] ^= 0x20
		os.WriteFile(path, b, 0o644)
	}

	cases := []struct {
		name   string
		build  func(t *testing.T) *upstream
		faults map[string]http.HandlerFunc
		is     error  // sentinel the error must match
		as     any    // or a typed error it must be
		names  string // what the message must name
	}{
		{
			name: "InRelease bad signature",
			build: func(t *testing.T) *upstream {
				return variant(t, nil, indexOpts{}, func(u *upstream) {
					p := u.path("dists/test/InRelease")
					b, _ := os.ReadFile(p)
					os.WriteFile(p, bytes.Replace(b, []byte("Label: Upstream"), []byte("Label: Upstreax"), 1), 0o644)
				})
			},
			is: ErrBadSignature, names: "dists/test/InRelease",
		},
		{
			name: "Release.gpg bad signature",
			build: func(t *testing.T) *upstream {
				return variant(t, nil, indexOpts{noInRel: true}, func(u *upstream) {
					p := u.path("dists/test/Release")
					b, _ := os.ReadFile(p)
					os.WriteFile(p, bytes.Replace(b, []byte("Origin: Upstream"), []byte("Origin: Upstreax"), 1), 0o644)
				})
			},
			is: ErrBadSignature, names: "dists/test/Release.gpg",
		},
		{
			name:  "unknown key",
			build: func(t *testing.T) *upstream { return variant(t, nil, indexOpts{signer: stranger}, nil) },
			is:    ErrUnknownKey, names: "dists/test/InRelease",
		},
		{
			name: "unsigned repository",
			build: func(t *testing.T) *upstream {
				return variant(t, nil, indexOpts{noInRel: true}, func(u *upstream) { os.Remove(u.path("dists/test/Release.gpg")) })
			},
			is: ErrBadSignature, names: "unsigned",
		},
		{
			name: "expired Valid-Until",
			build: func(t *testing.T) *upstream {
				return variant(t, nil, indexOpts{validUntil: time.Now().Add(-time.Minute)}, nil)
			},
			is: ErrExpired, names: "Valid-Until",
		},
		{
			name: "replayed older Release",
			build: func(t *testing.T) *upstream {
				return variant(t, nil, indexOpts{date: goodDate.Add(-24 * time.Hour)}, nil)
			},
			is: ErrRollback, names: "dists/test/InRelease",
		},
		{
			name: "Packages hash mismatch",
			build: func(t *testing.T) *upstream {
				return variant(t, nil, indexOpts{}, func(u *upstream) {
					// Same size, different bytes, in every compression.
					for _, n := range []string{"Packages", "Packages.gz", "Packages.xz"} {
						flip(u.path("dists/test/main/binary-amd64/"+n), -2)
					}
				})
			},
			as: new(*digest.MismatchError), names: "main/binary-amd64/Packages.gz",
		},
		{
			name: "by-hash index hash mismatch",
			build: func(t *testing.T) *upstream {
				return variant(t, nil, indexOpts{byHash: true}, func(u *upstream) {
					ents, _ := os.ReadDir(u.path("dists/test/main/binary-amd64/by-hash/SHA256"))
					for _, e := range ents {
						flip(u.path("dists/test/main/binary-amd64/by-hash/SHA256/"+e.Name()), 10)
					}
				})
			},
			as: new(*digest.MismatchError), names: "main/binary-amd64/Packages.gz",
		},
		{
			name: ".deb hash mismatch",
			build: func(t *testing.T) *upstream {
				return variant(t, newPkg, indexOpts{}, func(u *upstream) { flip(u.path(gammaURL[1:]), -100) })
			},
			as: new(*digest.MismatchError), names: "gamma_1.0_amd64.deb",
		},
		{
			name: ".deb size mismatch",
			build: func(t *testing.T) *upstream {
				return variant(t, newPkg, indexOpts{}, func(u *upstream) {
					f, _ := os.OpenFile(u.path(gammaURL[1:]), os.O_APPEND|os.O_WRONLY, 0)
					f.Write([]byte("trailing garbage"))
					f.Close()
				})
			},
			as: new(*digest.MismatchError), names: "gamma_1.0_amd64.deb",
		},
		{
			name:  "truncated download",
			build: func(t *testing.T) *upstream { return variant(t, newPkg, indexOpts{}, nil) },
			faults: map[string]http.HandlerFunc{gammaURL: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "70000")
				w.WriteHeader(200)
				w.Write(make([]byte, 1000))
				// Returning early with a short body makes net/http close the connection.
			}},
			is: io.ErrUnexpectedEOF, names: gammaURL,
		},
		{
			name: "Release names missing files",
			build: func(t *testing.T) *upstream {
				return variant(t, nil, indexOpts{}, func(u *upstream) {
					for _, n := range []string{"Packages", "Packages.gz", "Packages.xz"} {
						os.Remove(u.path("dists/test/main/binary-amd64/" + n))
					}
				})
			},
			is: ErrMissingIndex, names: "main/binary-amd64/Packages.xz",
		},
		{
			name: "HTTP 404 on the Release",
			build: func(t *testing.T) *upstream {
				return variant(t, nil, indexOpts{}, func(u *upstream) { os.RemoveAll(u.path("dists")) })
			},
			is: ErrFetch, names: "HTTP 404",
		},
		{
			name:  "HTTP 500 on InRelease",
			build: func(t *testing.T) *upstream { return variant(t, nil, indexOpts{}, nil) },
			faults: map[string]http.HandlerFunc{"/dists/test/InRelease": func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "boom", 500)
			}},
			is: ErrFetch, names: "HTTP 500",
		},
		{
			name:  "HTTP 500 on a package",
			build: func(t *testing.T) *upstream { return variant(t, newPkg, indexOpts{}, nil) },
			faults: map[string]http.HandlerFunc{gammaURL: func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "boom", 500)
			}},
			is: ErrFetch, names: gammaURL + ": HTTP 500",
		},
		{
			name:  "stalled server",
			build: func(t *testing.T) *upstream { return variant(t, newPkg, indexOpts{}, nil) },
			faults: map[string]http.HandlerFunc{gammaURL: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "70000")
				w.WriteHeader(200)
				w.Write(make([]byte, 100))
				w.(http.Flusher).Flush()
				<-r.Context().Done() // send nothing more
			}},
			is: ErrStalled, names: gammaURL,
		},
		{
			name:  "stalled before headers",
			build: func(t *testing.T) *upstream { return variant(t, nil, indexOpts{}, nil) },
			faults: map[string]http.HandlerFunc{"/dists/test/InRelease": func(w http.ResponseWriter, r *http.Request) {
				<-r.Context().Done()
			}},
			is: ErrStalled, names: "dists/test/InRelease",
		},
		{
			name: "malformed Packages",
			build: func(t *testing.T) *upstream {
				return variant(t, nil, indexOpts{}, func(u *upstream) {})
			},
			faults: nil,
			is:     nil, names: "",
		},
	}
	// The last entry is replaced: a syntactically bad but correctly hashed
	// and signed Packages index.
	cases[len(cases)-1] = struct {
		name   string
		build  func(t *testing.T) *upstream
		faults map[string]http.HandlerFunc
		is     error
		as     any
		names  string
	}{
		name: "malformed but signed Packages",
		build: func(t *testing.T) *upstream {
			u := variant(t, nil, indexOpts{}, nil)
			bin := u.path("dists/test/main/binary-amd64")
			p, _ := os.ReadFile(filepath.Join(bin, "Packages"))
			p = bytes.Replace(p, []byte("Filename: pool/"), []byte("Filename: ../../etc/"), 1)
			os.WriteFile(filepath.Join(bin, "Packages"), p, 0o644)
			os.Remove(filepath.Join(bin, "Packages.gz"))
			os.Remove(filepath.Join(bin, "Packages.xz"))
			run(t, bin, nil, "sh", "-c", "gzip -9nk Packages && xz -k Packages")
			dd := u.path("dists/test")
			rel := run(t, dd, nil, "apt-ftparchive", "-o", "APT::FTPArchive::Release::Codename=test", "release", ".")
			rel = strings.Replace(rel, "Codename: test\n", "Codename: test\nDate: "+time.Now().UTC().Format(time.RFC1123)+"\n", 1)
			lines := []string{}
			for _, l := range strings.Split(rel, "\n") {
				if !strings.HasPrefix(l, "Date:") || strings.HasSuffix(l, "UTC") {
					lines = append(lines, l)
				}
			}
			os.WriteFile(filepath.Join(dd, "Release"), []byte(strings.Join(lines, "\n")), 0o644)
			os.Remove(filepath.Join(dd, "InRelease"))
			run(t, dd, g.env(), "gpg", "--batch", "--yes", "--clearsign", "-o", "InRelease", "Release")
			return u
		},
		is: ErrInvalid, names: "unsafe or missing Filename",
	}

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u := c.build(t)
			srv.setRoot(u.dir)
			for p, f := range c.faults {
				srv.setFault(p, f)
			}
			defer func() {
				for p := range c.faults {
					srv.setFault(p, nil)
				}
			}()
			_, err := repo.Sync(ctx, "up", SyncOptions{Fetcher: fastFetcher(), Workers: 2})
			if err == nil {
				t.Fatal("sync succeeded; want a refusal")
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("error %q does not match %v", err, c.is)
			}
			if c.as != nil {
				var me *digest.MismatchError
				if !errors.As(err, &me) {
					t.Errorf("error %q is not a hash/size mismatch", err)
				} else if me.Want == "" || me.Got == "" {
					t.Errorf("mismatch error lacks expected/actual values: %+v", me)
				}
			}
			if !strings.Contains(err.Error(), c.names) {
				t.Errorf("error %q does not name %q", err, c.names)
			}
			t.Logf("refused: %v", err)
			after, _ := os.ReadFile(repo.mirrorPath("up"))
			if !bytes.Equal(after, stateBefore) {
				t.Errorf("mirror state changed by a failed sync:\n%s", after)
			}
			if got := httpGet(t, h, "/p/dists/test/InRelease", nil).Body.String(); got != servedBefore {
				t.Error("served publication changed")
			}
			if r := httpGet(t, h, "/p/dists/test/main/binary-amd64/Packages", nil); r.Code != 200 || !strings.Contains(r.Body.String(), "Package: alpha") {
				t.Errorf("served Packages after a failed sync: %d", r.Code)
			}
		})
	}
	// After all that, the good upstream still syncs, and a snapshot of it
	// equals the first one (nothing half-done leaked into the content).
	srv.setRoot(base.dir)
	res, err := repo.Sync(ctx, "up", SyncOptions{Fetcher: fastFetcher()})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := repo.Snapshot("good")
	if res.Manifest != s.ID {
		t.Fatalf("resync of the good upstream: manifest %s, want %s", res.Manifest, s.ID)
	}
	_ = strconv.Itoa
}

// TestResumeAfterTruncation: a download cut short is resumed with an HTTP
// Range request from the bytes already held, not restarted.
func TestResumeAfterTruncation(t *testing.T) {
	g := newGPG(t, "Upstream <up@example.invalid>")
	u := newUpstream(t)
	rel := u.addDeb(debSpec{name: "big", version: "1.0", payload: 256 << 10})
	u.index(indexOpts{signer: g})
	srv := newFaultServer(t, u.dir)
	full := u.debs[rel]
	var ranges []string
	srv.setFault("/"+rel, func(w http.ResponseWriter, r *http.Request) {
		ranges = append(ranges, r.Header.Get("Range"))
		if len(ranges) == 1 {
			w.Header().Set("Content-Length", strconv.Itoa(len(full)))
			w.WriteHeader(200)
			w.Write(full[:len(full)/2])
			return
		}
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(full))
	})
	repo := testRepo(t)
	if err := repo.CreateMirror(&Mirror{Name: "up", URL: srv.URL, Dist: "test"}, g.pub); err != nil {
		t.Fatal(err)
	}
	res, err := repo.Sync(context.Background(), "up", SyncOptions{Fetcher: fastFetcher()})
	if err != nil {
		t.Fatal(err)
	}
	if len(ranges) != 2 || ranges[0] != "" || ranges[1] != "bytes="+strconv.Itoa(len(full)/2)+"-" {
		t.Fatalf("requests' Range headers = %q, want a resume from %d", ranges, len(full)/2)
	}
	if res.Downloaded != 1 {
		t.Fatalf("result %+v", res)
	}
	if err := repo.Store.Verify(digest.FromBytes(full)); err != nil {
		t.Fatal(err)
	}
}
