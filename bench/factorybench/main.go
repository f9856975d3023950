// Command factorybench measures package intake (packaging.Intake: stream
// into a content store computing SHA-256, read the facts, commit) of the
// files named on the command line against sha256sum of the same files,
// run in the same process's turn, and reports the ratio and the peak RSS
// of the intake. It is `make bench-factory`'s measuring tool, not a test.
//
//	factorybench -label "2 GiB deb" FILE...
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/eucora/eucora/internal/cas"
	"github.com/eucora/eucora/packaging"
	"github.com/eucora/eucora/packaging/facts"
)

func main() {
	label := flag.String("label", "files", "what the files are, for the report")
	store := flag.String("store", "", "content store directory (default: a temporary one beside the first file)")
	noSync := flag.Bool("nosync", false, "skip the per-object fsync (shows what durability costs; intake always syncs)")
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
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			fail(err)
		}
		fi, _ := fh.Stat()
		got, err := packaging.Intake(context.Background(), st, fh, filepath.Base(f), fi.Size(), facts.Options{}, nil)
		fh.Close()
		if err != nil {
			fail(err)
		}
		kinds[got.Kind]++
	}
	took := time.Since(start)
	pprof.StopCPUProfile()
	if *noSync {
		*label += " (no fsync)"
	}
	base = min(base, sum())
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	fmt.Printf("%-22s %6d files %9.1f MiB  intake %8.2f s  sha256sum %8.2f s  ratio %5.2f (target <= 1.2)  peak RSS %6.1f MiB (target < 64)  %v\n",
		*label, len(files), float64(bytes)/(1<<20), took.Seconds(), base.Seconds(), took.Seconds()/base.Seconds(), float64(ru.Maxrss)/1024, kinds)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "factorybench:", err)
	os.Exit(1)
}
