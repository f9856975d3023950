// Command corpusgen writes a deterministic mixed corpus for the transfer
// benchmark: half incompressible bytes (like packages), half compressible
// text (like indexes, logs and manifests), in files of varied sizes.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
)

func main() {
	out := flag.String("out", "corpus", "directory to create")
	size := flag.Int64("size", 2<<30, "total bytes")
	flag.Parse()
	if err := run(*out, *size); err != nil {
		fmt.Fprintln(os.Stderr, "corpusgen:", err)
		os.Exit(1)
	}
}

var words = []string{"package", "version", "depends", "libc6", "amd64", "install", "configure", "service",
	"restart", "error", "warning", "info", "deployment", "ring", "canary", "approval", "evidence", "site",
	"bundle", "volume", "digest", "sha256", "intent", "publish", "2026-11-28T16:00:00Z", "ok", "failed",
	"component", "main", "contrib", "priority", "optional", "section", "admin", "utils", "description"}

func run(out string, total int64) error {
	rng := rand.New(rand.NewSource(42))
	var written int64
	for i := 0; written < total; i++ {
		// Sizes from 16 KiB to 64 MiB, log-uniform.
		n := int64(16<<10) << uint(rng.Intn(13))
		n += rng.Int63n(n)
		if n > total-written {
			n = total - written
		}
		text := i%2 == 1
		ext := ".deb"
		if text {
			ext = ".txt"
		}
		p := filepath.Join(out, fmt.Sprintf("d%02d", i%17), fmt.Sprintf("f%05d%s", i, ext))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := writeFile(p, n, text, rng); err != nil {
			return err
		}
		written += n
	}
	return nil
}

func writeFile(p string, n int64, text bool, rng *rand.Rand) error {
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	buf := make([]byte, 64<<10)
	var line []byte
	for left := n; left > 0; {
		if text {
			// Structured text like APT indexes and service logs: field
			// names repeat, values vary, digests are random.
			line = line[:0]
			if rng.Intn(2) == 0 {
				line = fmt.Appendf(line, "Package: %s-%s%d\nVersion: %d.%d.%d-%d\nArchitecture: amd64\nSection: %s\nPriority: optional\nSize: %d\nSHA256: %x\nDescription: %s %s %s\n\n",
					words[rng.Intn(len(words))], words[rng.Intn(len(words))], rng.Intn(100), rng.Intn(10), rng.Intn(30), rng.Intn(200), rng.Intn(9)+1,
					words[rng.Intn(len(words))], rng.Intn(1<<24), rng.Uint64(), words[rng.Intn(len(words))], words[rng.Intn(len(words))], words[rng.Intn(len(words))])
			} else {
				line = fmt.Appendf(line, "2026-11-%02dT%02d:%02d:%02d.%03dZ edge-%03d eucora[%d]: level=%s msg=\"%s %s\" site=site-%03d seq=%d bytes=%d\n",
					rng.Intn(28)+1, rng.Intn(24), rng.Intn(60), rng.Intn(60), rng.Intn(1000), rng.Intn(50), 1000+rng.Intn(50),
					[]string{"info", "info", "info", "warn", "error"}[rng.Intn(5)], words[rng.Intn(len(words))], words[rng.Intn(len(words))],
					rng.Intn(500), rng.Intn(100000), rng.Intn(1<<30))
			}
			if int64(len(line)) > left {
				line = line[:left]
			}
			w.Write(line)
			left -= int64(len(line))
			continue
		}
		k := min(int64(len(buf)), left)
		rng.Read(buf[:k])
		w.Write(buf[:k])
		left -= k
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}
