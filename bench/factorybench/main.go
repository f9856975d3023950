// Command factorybench measures package intake (stream into a content
// store computing SHA-256, read the facts, commit durably) of the files
// named on the command line against sha256sum of the same files, run in
// the same process's turn, and reports the ratio and the peak RSS of the
// intake. It is `make bench-factory`'s measuring tool, not a test.
//
// Several files are taken in as one packaging.IntakeBatch (one durability
// point for all of them, as a process taking many files in does); one
// file, or -perfile, uses packaging.Intake per file (as the hub does per
// request).
//
//	factorybench -label "2 GiB deb" FILE...
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync"
	"syscall"
	"time"

	"github.com/eucora/eucora/internal/cas"
	"github.com/eucora/eucora/packaging"
	"github.com/eucora/eucora/packaging/facts"
)

func main() {
	label := flag.String("label", "files", "what the files are, for the report")
	store := flag.String("store", "", "content store directory (default: a temporary one beside the first file)")
	noSync := flag.Bool("nosync", false, "skip the fsyncs (shows what durability costs; intake always syncs)")
	perFile := flag.Bool("perfile", false, "take each file in with its own durability point (packaging.Intake), not as one batch")
	workers := flag.Int("workers", runtime.GOMAXPROCS(0), "files taken in at once (batch only)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the intake to this file")
	flag.Parse()
	files := flag.Args()
	if len(files) == 0 {
		fmt.Fprintln(os.Stderr, "usage: factorybench [-label TEXT] FILE...")
		os.Exit(2)
	}
	dir := *store
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp(filepath.Dir(files[0]), "factorybench-cas-"); err != nil {
			fail(err)
		}
		defer os.RemoveAll(dir)
	}
	st, err := cas.OpenWith(dir, cas.Options{NoSync: *noSync})
	if err != nil {
		fail(err)
	}
	var bytes int64
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			fail(err)
		}
		bytes += fi.Size()
	}
	sum := func() time.Duration {
		start := time.Now()
		// sha256sum takes many files per call, as a person would run it.
		for i := 0; i < len(files); i += 500 {
			j := min(i+500, len(files))
			cmd := exec.Command("sha256sum", files[i:j]...)
			if out, err := cmd.CombinedOutput(); err != nil {
				fail(fmt.Errorf("sha256sum: %v: %s", err, out))
			}
		}
		return time.Since(start)
	}
	base := min(sum(), sum()) // the second run has the files cached, as intake will
	if *cpuProfile != "" {
		pf, err := os.Create(*cpuProfile)
		if err != nil {
			fail(err)
		}
		if err := pprof.StartCPUProfile(pf); err != nil {
			fail(err)
		}
		defer pf.Close()
	}
	start := time.Now()
	kinds := map[facts.Kind]int{}
	mode := "batch"
	var commit time.Duration // the batch's durability point
	if *perFile || len(files) == 1 {
		mode = "per file"
		for _, f := range files {
			got, err := intakeFile(f, func(ctx context.Context, r io.Reader, name string, size int64) (*facts.Facts, error) {
				return packaging.Intake(ctx, st, r, name, size, facts.Options{}, nil)
			})
			if err != nil {
				fail(err)
			}
			kinds[got.Kind]++
		}
	} else {
		if *workers > 1 {
			mode = fmt.Sprintf("batch, %d workers", *workers)
		}
		ib := packaging.NewIntakeBatch(st)
		var mu sync.Mutex
		next := make(chan string)
		var wg sync.WaitGroup
		for range max(*workers, 1) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for f := range next {
					got, err := intakeFile(f, func(ctx context.Context, r io.Reader, name string, size int64) (*facts.Facts, error) {
						return ib.Add(ctx, r, name, size, facts.Options{}, nil)
					})
					if err != nil {
						fail(err)
					}
					mu.Lock()
					kinds[got.Kind]++
					mu.Unlock()
				}
			}()
		}
		for _, f := range files {
			next <- f
		}
		close(next)
		wg.Wait()
		commitStart := time.Now()
		if err := ib.Commit(); err != nil {
			fail(err)
		}
		commit = time.Since(commitStart)
	}
	took := time.Since(start)
	pprof.StopCPUProfile()
	*label += " (" + mode
	if *noSync {
		*label += ", no fsync"
	}
	if commit > 0 {
		*label += fmt.Sprintf(", commit %.2f s", commit.Seconds())
	}
	*label += ")"
	base = min(base, sum())
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	fmt.Printf("%-52s %6d files %9.1f MiB  intake %8.2f s  sha256sum %8.2f s  ratio %5.2f (target <= 1.2)  peak RSS %6.1f MiB (target < 64)  %v\n",
		*label, len(files), float64(bytes)/(1<<20), took.Seconds(), base.Seconds(), took.Seconds()/base.Seconds(), float64(ru.Maxrss)/1024, kinds)
}

// intakeFile opens file f and takes it in with in.
func intakeFile(f string, in func(ctx context.Context, r io.Reader, name string, size int64) (*facts.Facts, error)) (*facts.Facts, error) {
	fh, err := os.Open(f)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	return in(context.Background(), fh, filepath.Base(f), fi.Size())
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "factorybench:", err)
	os.Exit(1)
}
