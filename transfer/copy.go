package transfer

import (
	"context"
	"io"

	"github.com/eucora/eucora/internal/progress"
)

const copyBlock = 1 << 20

// hashCopy copies src to dst while h hashes the same bytes on another
// goroutine, so hashing overlaps reading, compressing and writing. It
// returns the bytes copied. Memory: three blocks.
func hashCopy(ctx context.Context, dst io.Writer, src io.Reader, h io.Writer, prog progress.Func) (int64, error) {
	free := make(chan []byte, 3)
	for i := 0; i < 3; i++ {
		free <- make([]byte, copyBlock)
	}
	toHash := make(chan []byte, 3)
	hashed := make(chan struct{})
	go func() {
		defer close(hashed)
		for b := range toHash {
			h.Write(b)
			free <- b[:cap(b)]
		}
	}()
	var n int64
	var err error
	for {
		if err = ctx.Err(); err != nil {
			break
		}
		buf := <-free
		k, rerr := io.ReadFull(src, buf)
		if k > 0 {
			toHash <- buf[:k]
			if _, werr := dst.Write(buf[:k]); werr != nil {
				err = werr
				break
			}
			n += int64(k)
			if prog != nil {
				prog(int64(k))
			}
		} else {
			free <- buf
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			err = rerr
			break
		}
	}
	close(toHash)
	<-hashed
	return n, err
}
