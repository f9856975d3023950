package mirror

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"hash/crc64"
	"runtime"
	"sync"

	"github.com/ulikunitz/xz/lzma"
)

// xzBytes compresses data into one .xz stream (CRC-64 checks, LZMA2) made of
// independent blocks compressed in parallel, as `xz -T0` does: a Packages
// index of a few MiB compresses in a fraction of the time one block takes.
// Blocks are at least xzMinBlock bytes, so a small index stays one block.
// Every xz decoder (liblzma, which apt uses; ulikunitz/xz) reads multi-block
// streams: the format defines them (https://tukaani.org/xz/xz-file-format.txt).
func xzBytes(data []byte) ([]byte, error) {
	n := len(data) / xzMinBlock
	if p := runtime.GOMAXPROCS(0); n > p {
		n = p
	}
	if n < 1 {
		n = 1
	}
	type block struct {
		raw  []byte // uncompressed
		comp []byte // LZMA2 chunks, end marker included
		dict int
		err  error
	}
	blocks := make([]block, n)
	per := (len(data) + n - 1) / n
	var wg sync.WaitGroup
	for i := range blocks {
		lo, hi := min(i*per, len(data)), min((i+1)*per, len(data))
		b := &blocks[i]
		b.raw = data[lo:hi]
		// A dictionary no larger than the input compresses the same and
		// saves allocating (and clearing) the default 8 MiB window; see
		// xzDictMax for the cap.
		b.dict = 1 << 16
		for b.dict < len(b.raw) && b.dict < xzDictMax {
			b.dict <<= 1
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out bytes.Buffer
			w, err := lzma.Writer2Config{DictCap: b.dict}.NewWriter2(&out)
			if err == nil {
				_, err = w.Write(b.raw)
			}
			if err == nil {
				err = w.Close()
			}
			b.comp, b.err = out.Bytes(), err
		}()
	}
	wg.Wait()

	out := make([]byte, 0, 64+len(data)/4)
	flags := []byte{0x00, 0x04} // check type CRC-64
	out = append(out, 0xFD, '7', 'z', 'X', 'Z', 0x00)
	out = append(out, flags...)
	out = binary.LittleEndian.AppendUint32(out, crc32.ChecksumIEEE(flags))
	var index []byte
	index = append(index, 0x00) // index indicator
	index = binary.AppendUvarint(index, uint64(len(blocks)))
	for _, b := range blocks {
		if b.err != nil {
			return nil, b.err
		}
		// Block header: size, flags (one filter, no optional sizes), the
		// LZMA2 filter with its dictionary size, padding, CRC-32.
		hdr := []byte{0, 0x00, 0x21, 0x01, lzma.EncodeDictCap(int64(b.dict))}
		for (len(hdr)+4)%4 != 0 {
			hdr = append(hdr, 0)
		}
		hdr[0] = byte((len(hdr)+4)/4 - 1)
		hdr = binary.LittleEndian.AppendUint32(hdr, crc32.ChecksumIEEE(hdr))
		out = append(out, hdr...)
		out = append(out, b.comp...)
		for i := len(b.comp); i%4 != 0; i++ {
			out = append(out, 0) // block padding
		}
		out = binary.LittleEndian.AppendUint64(out, crc64.Checksum(b.raw, crc64ECMA))
		unpadded := len(hdr) + len(b.comp) + 8
		index = binary.AppendUvarint(index, uint64(unpadded))
		index = binary.AppendUvarint(index, uint64(len(b.raw)))
	}
	for len(index)%4 != 0 {
		index = append(index, 0)
	}
	index = binary.LittleEndian.AppendUint32(index, crc32.ChecksumIEEE(index))
	out = append(out, index...)
	// Stream footer: CRC-32 of backward size and flags, backward size
	// (index size / 4 - 1), flags, magic.
	foot := binary.LittleEndian.AppendUint32(nil, uint32(len(index)/4-1))
	foot = append(foot, flags...)
	out = binary.LittleEndian.AppendUint32(out, crc32.ChecksumIEEE(foot))
	out = append(out, foot...)
	out = append(out, 'Y', 'Z')
	return out, nil
}

// xzDictMax caps each block's LZMA2 dictionary. A Packages index repeats
// itself at short range (field names, maintainers, dependency lists), and
// ulikunitz/xz's match finder slows down with the window: on Debian
// bookworm-security's Packages (2.4 MiB) a 128 KiB window gives 472,940
// bytes in 97 ms, 8 MiB gives 475,800 bytes in 232 ms (dpkg's status file:
// 143,320 against 139,068 bytes, 30 against 49 ms).
const xzDictMax = 128 << 10

// xzMinBlock is the smallest block xzBytes splits off.
const xzMinBlock = 256 << 10

var crc64ECMA = crc64.MakeTable(crc64.ECMA)
