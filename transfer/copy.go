package transfer

import (
	"context"
	"io"
	"sync"

	"github.com/klauspost/compress/zstd"

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

// frameSize is the raw size of each independently compressed zstd frame.
// Independent frames let both cores compress one object; a reader sees an
// ordinary multi-frame zstd stream.
const frameSize = 1 << 20

type frameJob struct {
	in   []byte
	out  []byte
	done chan struct{}
}

// compressCopy reads src in frameSize blocks, hashes them in order on the
// reading goroutine, compresses each into its own zstd frame on the
// encoder pool, and writes the frames to dst in order. It returns the raw
// bytes read. Memory: about 2*(4*workers+2) blocks of frameSize.
func compressCopy(ctx context.Context, dst io.Writer, src io.Reader, h io.Writer, encs []*zstd.Encoder, prog progress.Func) (int64, error) {
	workers := len(encs)
	depth := 4*workers + 2 // lets compression run ahead while the writer is in write(2)
	free := make(chan *frameJob, depth)
	for i := 0; i < depth; i++ {
		free <- &frameJob{in: make([]byte, frameSize), done: make(chan struct{}, 1)}
	}
	work := make(chan *frameJob, depth)
	order := make(chan *frameJob, depth)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, enc := range encs {
		wg.Add(1)
		go func(enc *zstd.Encoder) {
			defer wg.Done()
			for j := range work {
				j.out = enc.EncodeAll(j.in, j.out[:0])
				j.done <- struct{}{}
			}
		}(enc)
	}
	var readN int64
	readErr := make(chan error, 1)
	go func() {
		defer close(order)
		defer close(work)
		for {
			var j *frameJob
			select {
			case j = <-free:
			case <-stop:
				readErr <- nil
				return
			}
			if err := ctx.Err(); err != nil {
				readErr <- err
				return
			}
			k, err := io.ReadFull(src, j.in[:cap(j.in)])
			if k > 0 {
				j.in = j.in[:k]
				h.Write(j.in)
				readN += int64(k)
				work <- j
				order <- j
			}
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				readErr <- nil
				return
			}
			if err != nil {
				readErr <- err
				return
			}
		}
	}()
	var werr error
	for j := range order {
		<-j.done
		if werr == nil {
			if _, err := dst.Write(j.out); err != nil {
				werr = err
				close(stop)
			} else if prog != nil {
				prog(int64(len(j.in)))
			}
		}
		j.in = j.in[:cap(j.in)]
		select {
		case free <- j:
		default:
		}
	}
	wg.Wait()
	rerr := <-readErr
	if werr != nil {
		return readN, werr
	}
	return readN, rerr
}
