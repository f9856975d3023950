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
	"github.com/eucora/eucora/mirror/mirrortest"
)

// TestBadUpstreamRefused feeds a synced mirror every kind of bad upstream
// input. Each must be refused with a precise error naming the file, leave
// the mirror's state byte-identical, and leave the published snapshot
// served as before.
func TestBadUpstreamRefused(t *testing.T) {
	g := mirrortest.NewGPG(t, "Upstream <up@example.invalid>")
	stranger := mirrortest.NewGPG(t, "Stranger <x@example.invalid>")

	base := mirrortest.NewUpstream(t)
	base.AddDeb(mirrortest.DebSpec{Name: "alpha", Version: "1.0"})
	base.AddDeb(mirrortest.DebSpec{Name: "beta", Version: "1.0"})
	goodDate := time.Now().Add(-time.Hour)
	base.Index(mirrortest.IndexOpts{Signer: g, Date: goodDate})
	srv := mirrortest.NewFaultServer(t, base.Dir)

	repo := testRepo(t)
	if err := repo.CreateMirror(&Mirror{Name: "up", URL: srv.URL, Dist: "test"}, g.Pub); err != nil {
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
	variant := func(t *testing.T, extra []mirrortest.DebSpec, opts mirrortest.IndexOpts, mutate func(u *mirrortest.Upstream)) *mirrortest.Upstream {
		u := mirrortest.NewUpstream(t)
		for p, b := range base.Debs {
			os.MkdirAll(filepath.Dir(u.Path(p)), 0o755)
			os.WriteFile(u.Path(p), b, 0o644)
			u.Debs[p] = b
		}
		for _, s := range extra {
			u.AddDeb(s)
		}
		if opts.Signer == nil {
			opts.Signer = g
		}
		if opts.Date.IsZero() {
			opts.Date = time.Now().Add(-time.Minute)
		}
		u.Index(opts)
		if mutate != nil {
			mutate(u)
		}
		return u
	}
	newPkg := []mirrortest.DebSpec{{Name: "gamma", Version: "1.0", Payload: 64 << 10}}
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
		build  func(t *testing.T) *mirrortest.Upstream
		faults map[string]http.HandlerFunc
		is     error  // sentinel the error must match
		as     any    // or a typed error it must be
		names  string // what the message must name
	}{
		{
			name: "InRelease bad signature",
			build: func(t *testing.T) *mirrortest.Upstream {
				return variant(t, nil, mirrortest.IndexOpts{}, func(u *mirrortest.Upstream) {
					p := u.Path("dists/test/InRelease")
					b, _ := os.ReadFile(p)
					os.WriteFile(p, bytes.Replace(b, []byte("Label: Upstream"), []byte("Label: Upstreax"), 1), 0o644)
				})
			},
			is: ErrBadSignature, names: "dists/test/InRelease",
		},
		{
			name: "Release.gpg bad signature",
			build: func(t *testing.T) *mirrortest.Upstream {
				return variant(t, nil, mirrortest.IndexOpts{NoInRelease: true}, func(u *mirrortest.Upstream) {
					p := u.Path("dists/test/Release")
					b, _ := os.ReadFile(p)
					os.WriteFile(p, bytes.Replace(b, []byte("Origin: Upstream"), []byte("Origin: Upstreax"), 1), 0o644)
				})
			},
			is: ErrBadSignature, names: "dists/test/Release.gpg",
		},
		{
			name: "unknown key",
			build: func(t *testing.T) *mirrortest.Upstream {
				return variant(t, nil, mirrortest.IndexOpts{Signer: stranger}, nil)
			},
			is: ErrUnknownKey, names: "dists/test/InRelease",
		},
		{
			name: "unsigned repository",
			build: func(t *testing.T) *mirrortest.Upstream {
				return variant(t, nil, mirrortest.IndexOpts{NoInRelease: true}, func(u *mirrortest.Upstream) { os.Remove(u.Path("dists/test/Release.gpg")) })
			},
			is: ErrBadSignature, names: "unsigned",
		},
		{
			name: "expired Valid-Until",
			build: func(t *testing.T) *mirrortest.Upstream {
				return variant(t, nil, mirrortest.IndexOpts{ValidUntil: time.Now().Add(-time.Minute)}, nil)
			},
			is: ErrExpired, names: "Valid-Until",
		},
		{
			name: "replayed older Release",
			build: func(t *testing.T) *mirrortest.Upstream {
				return variant(t, nil, mirrortest.IndexOpts{Date: goodDate.Add(-24 * time.Hour)}, nil)
			},
			is: ErrRollback, names: "dists/test/InRelease",
		},
		{
			name: "Packages hash mismatch",
			build: func(t *testing.T) *mirrortest.Upstream {
				return variant(t, nil, mirrortest.IndexOpts{}, func(u *mirrortest.Upstream) {
					// Same size, different bytes, in every compression.
					for _, n := range []string{"Packages", "Packages.gz", "Packages.xz"} {
						flip(u.Path("dists/test/main/binary-amd64/"+n), -2)
					}
				})
			},
			as: new(*digest.MismatchError), names: "main/binary-amd64/Packages.gz",
		},
		{
			name: "by-hash index hash mismatch",
			build: func(t *testing.T) *mirrortest.Upstream {
				return variant(t, nil, mirrortest.IndexOpts{ByHash: true}, func(u *mirrortest.Upstream) {
					ents, _ := os.ReadDir(u.Path("dists/test/main/binary-amd64/by-hash/SHA256"))
					for _, e := range ents {
						flip(u.Path("dists/test/main/binary-amd64/by-hash/SHA256/"+e.Name()), 10)
					}
				})
			},
			as: new(*digest.MismatchError), names: "main/binary-amd64/Packages.gz",
		},
		{
			name: ".deb hash mismatch",
			build: func(t *testing.T) *mirrortest.Upstream {
				return variant(t, newPkg, mirrortest.IndexOpts{}, func(u *mirrortest.Upstream) { flip(u.Path(gammaURL[1:]), -100) })
			},
			as: new(*digest.MismatchError), names: "gamma_1.0_amd64.deb",
		},
		{
			name: ".deb size mismatch",
			build: func(t *testing.T) *mirrortest.Upstream {
				return variant(t, newPkg, mirrortest.IndexOpts{}, func(u *mirrortest.Upstream) {
					f, _ := os.OpenFile(u.Path(gammaURL[1:]), os.O_APPEND|os.O_WRONLY, 0)
					f.Write([]byte("trailing garbage"))
					f.Close()
				})
			},
			as: new(*digest.MismatchError), names: "gamma_1.0_amd64.deb",
		},
		{
			name:  "truncated download",
			build: func(t *testing.T) *mirrortest.Upstream { return variant(t, newPkg, mirrortest.IndexOpts{}, nil) },
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
			build: func(t *testing.T) *mirrortest.Upstream {
				return variant(t, nil, mirrortest.IndexOpts{}, func(u *mirrortest.Upstream) {
					for _, n := range []string{"Packages", "Packages.gz", "Packages.xz"} {
						os.Remove(u.Path("dists/test/main/binary-amd64/" + n))
					}
				})
			},
			is: ErrMissingIndex, names: "main/binary-amd64/Packages.xz",
		},
		{
			name: "HTTP 404 on the Release",
			build: func(t *testing.T) *mirrortest.Upstream {
				return variant(t, nil, mirrortest.IndexOpts{}, func(u *mirrortest.Upstream) { os.RemoveAll(u.Path("dists")) })
			},
			is: ErrFetch, names: "HTTP 404",
		},
		{
			name:  "HTTP 500 on InRelease",
			build: func(t *testing.T) *mirrortest.Upstream { return variant(t, nil, mirrortest.IndexOpts{}, nil) },
			faults: map[string]http.HandlerFunc{"/dists/test/InRelease": func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "boom", 500)
			}},
			is: ErrFetch, names: "HTTP 500",
		},
		{
			name:  "HTTP 500 on a package",
			build: func(t *testing.T) *mirrortest.Upstream { return variant(t, newPkg, mirrortest.IndexOpts{}, nil) },
			faults: map[string]http.HandlerFunc{gammaURL: func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "boom", 500)
			}},
			is: ErrFetch, names: gammaURL + ": HTTP 500",
		},
		{
			name:  "stalled server",
			build: func(t *testing.T) *mirrortest.Upstream { return variant(t, newPkg, mirrortest.IndexOpts{}, nil) },
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
			build: func(t *testing.T) *mirrortest.Upstream { return variant(t, nil, mirrortest.IndexOpts{}, nil) },
			faults: map[string]http.HandlerFunc{"/dists/test/InRelease": func(w http.ResponseWriter, r *http.Request) {
				<-r.Context().Done()
			}},
			is: ErrStalled, names: "dists/test/InRelease",
		},
		{
			name: "malformed Packages",
			build: func(t *testing.T) *mirrortest.Upstream {
				return variant(t, nil, mirrortest.IndexOpts{}, func(u *mirrortest.Upstream) {})
			},
			faults: nil,
			is:     nil, names: "",
		},
	}
	// The last entry is replaced: a syntactically bad but correctly hashed
	// and signed Packages index.
	cases[len(cases)-1] = struct {
		name   string
		build  func(t *testing.T) *mirrortest.Upstream
		faults map[string]http.HandlerFunc
		is     error
		as     any
		names  string
	}{
		name: "malformed but signed Packages",
		build: func(t *testing.T) *mirrortest.Upstream {
			u := variant(t, nil, mirrortest.IndexOpts{}, nil)
			bin := u.Path("dists/test/main/binary-amd64")
			p, _ := os.ReadFile(filepath.Join(bin, "Packages"))
			p = bytes.Replace(p, []byte("Filename: pool/"), []byte("Filename: ../../etc/"), 1)
			os.WriteFile(filepath.Join(bin, "Packages"), p, 0o644)
			os.Remove(filepath.Join(bin, "Packages.gz"))
			os.Remove(filepath.Join(bin, "Packages.xz"))
			mirrortest.Run(t, bin, nil, "sh", "-c", "gzip -9nk Packages && xz -k Packages")
			dd := u.Path("dists/test")
			rel := mirrortest.Run(t, dd, nil, "apt-ftparchive", "-o", "APT::FTPArchive::Release::Codename=test", "release", ".")
			rel = strings.Replace(rel, "Codename: test\n", "Codename: test\nDate: "+time.Now().UTC().Format(time.RFC1123)+"\n", 1)
			lines := []string{}
			for _, l := range strings.Split(rel, "\n") {
				if !strings.HasPrefix(l, "Date:") || strings.HasSuffix(l, "UTC") {
					lines = append(lines, l)
				}
			}
			os.WriteFile(filepath.Join(dd, "Release"), []byte(strings.Join(lines, "\n")), 0o644)
			os.Remove(filepath.Join(dd, "InRelease"))
			mirrortest.Run(t, dd, g.Env(), "gpg", "--batch", "--yes", "--clearsign", "-o", "InRelease", "Release")
			return u
		},
		is: ErrInvalid, names: "unsafe or missing Filename",
	}

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u := c.build(t)
			srv.SetRoot(u.Dir)
			for p, f := range c.faults {
				srv.SetFault(p, f)
			}
			defer func() {
				for p := range c.faults {
					srv.SetFault(p, nil)
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
	srv.SetRoot(base.Dir)
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
	g := mirrortest.NewGPG(t, "Upstream <up@example.invalid>")
	u := mirrortest.NewUpstream(t)
	rel := u.AddDeb(mirrortest.DebSpec{Name: "big", Version: "1.0", Payload: 256 << 10})
	u.Index(mirrortest.IndexOpts{Signer: g})
	srv := mirrortest.NewFaultServer(t, u.Dir)
	full := u.Debs[rel]
	var ranges []string
	srv.SetFault("/"+rel, func(w http.ResponseWriter, r *http.Request) {
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
	if err := repo.CreateMirror(&Mirror{Name: "up", URL: srv.URL, Dist: "test"}, g.Pub); err != nil {
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
