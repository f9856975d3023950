package msi

import (
	"encoding/binary"
	"fmt"
	"unicode/utf16"
)

// A compound file writer for the tests: what no tool here writes (a
// .doc-like CFB, version 4 files, MSIs with mutated streams, hostile
// layouts) is built with it, faithfully to [MS-CFB]: header, FAT,
// directory of 128-byte entries, mini FAT and mini stream for streams
// under 4096 bytes, regular sectors for the rest.

type cfbStream struct {
	raw     []uint16
	data    []byte
	storage bool // an empty storage instead of a stream
}

func u16(s string) []uint16 { return utf16.Encode([]rune(s)) }

// cfbFile is a written compound file with its layout, so tests can patch it.
type cfbFile struct {
	b            []byte
	ss           int
	nFAT         int
	nDIF         int    // DIFAT sectors (after the FAT sectors)
	difStart     uint32 // first DIFAT sector
	dirStart     uint32
	nDir         int // directory sectors
	miniFatStart uint32
	nMiniFat     int
	miniStart    uint32   // first sector of the mini stream
	start        []uint32 // per entry (index 0 = root): start sector, or mini sector for mini streams
	mini         []bool
}

func (f *cfbFile) sectorOff(s uint32) int { return (int(s) + 1) * f.ss }

// fatOff is the byte offset of sector s's FAT entry (FAT sectors are 0..nFAT-1).
func (f *cfbFile) fatOff(s uint32) int {
	per := uint32(f.ss / 4)
	return f.sectorOff(s/per) + int(s%per)*4
}

func (f *cfbFile) setFAT(s, v uint32) { binary.LittleEndian.PutUint32(f.b[f.fatOff(s):], v) }

// miniFatOff is the byte offset of mini sector m's mini FAT entry (the
// mini FAT sectors are contiguous).
func (f *cfbFile) miniFatOff(m uint32) int {
	per := uint32(f.ss / 4)
	return f.sectorOff(f.miniFatStart+m/per) + int(m%per)*4
}

// entryOff is the byte offset of directory entry i (the directory is contiguous).
func (f *cfbFile) entryOff(i int) int {
	per := f.ss / dirEntSize
	return f.sectorOff(f.dirStart+uint32(i/per)) + (i%per)*dirEntSize
}

func (f *cfbFile) setEntry32(i, field int, v uint32) {
	binary.LittleEndian.PutUint32(f.b[f.entryOff(i)+field:], v)
}

func (f *cfbFile) setHeader32(off int, v uint32) { binary.LittleEndian.PutUint32(f.b[off:], v) }

func (f *cfbFile) bytes() []byte { return append([]byte(nil), f.b...) }

// Directory entry field offsets.
const (
	deLeft  = 68
	deRight = 72
	deChild = 76
	deStart = 116
	deSize  = 120
)

var msiCLSID = [16]byte{0x84, 0x10, 0x0C, 0x00, 0x00, 0x00, 0x00, 0x00, 0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46}

// writeCFB lays out streams under the root: FAT sectors first, then the
// directory, the mini FAT, the mini stream and the large streams. The
// root's children form a balanced binary tree (all black), built from the
// streams in the order given.
func writeCFB(streams []cfbStream, ss int, clsid [16]byte) *cfbFile {
	if ss != 512 && ss != 4096 {
		panic("sector size")
	}
	f := &cfbFile{ss: ss}
	n := len(streams) + 1
	f.start = make([]uint32, n)
	f.mini = make([]bool, n)
	// Mini stream.
	var ministream []byte
	var miniChains [][2]uint32 // first mini sector, count
	for i, s := range streams {
		if s.storage || len(s.data) == 0 || len(s.data) >= miniCutoff {
			continue
		}
		m := uint32(len(ministream) / miniSector)
		cnt := uint32((len(s.data) + miniSector - 1) / miniSector)
		f.start[i+1], f.mini[i+1] = m, true
		miniChains = append(miniChains, [2]uint32{m, cnt})
		ministream = append(ministream, s.data...)
		for len(ministream)%miniSector != 0 {
			ministream = append(ministream, 0)
		}
	}
	nMini := len(ministream) / miniSector
	sectors := func(nbytes int) int { return (nbytes + ss - 1) / ss }
	f.nDir = sectors(n * dirEntSize)
	f.nMiniFat = sectors(nMini * 4)
	nMiniStream := sectors(len(ministream))
	big := 0
	for _, s := range streams {
		if !s.storage && len(s.data) >= miniCutoff {
			big += sectors(len(s.data))
		}
	}
	rest := f.nDir + f.nMiniFat + nMiniStream + big
	per := ss / 4
	difPer := per - 1
	nDIF := func(nFAT int) int {
		if nFAT <= 109 {
			return 0
		}
		return (nFAT - 109 + difPer - 1) / difPer
	}
	for f.nFAT = 1; f.nFAT*per < rest+f.nFAT+nDIF(f.nFAT); f.nFAT++ {
	}
	f.nDIF = nDIF(f.nFAT)
	total := f.nFAT + f.nDIF + rest
	fat := make([]uint32, f.nFAT*per)
	for i := range fat {
		fat[i] = secFree
	}
	next := uint32(0)
	for i := 0; i < f.nFAT; i++ {
		fat[next] = secFAT
		next++
	}
	f.difStart = next
	for i := 0; i < f.nDIF; i++ {
		fat[next] = secDIFAT
		next++
	}
	alloc := func(cnt int) uint32 {
		if cnt == 0 {
			return secEnd
		}
		first := next
		for k := 0; k < cnt; k++ {
			if k == cnt-1 {
				fat[next] = secEnd
			} else {
				fat[next] = next + 1
			}
			next++
		}
		return first
	}
	f.dirStart = alloc(f.nDir)
	f.miniFatStart = alloc(f.nMiniFat)
	f.miniStart = alloc(nMiniStream)
	for i, s := range streams {
		if !s.storage && len(s.data) >= miniCutoff {
			f.start[i+1] = alloc(sectors(len(s.data)))
		}
	}
	f.b = make([]byte, (total+1)*ss)
	// Header.
	h := f.b
	copy(h, cfbMagic)
	binary.LittleEndian.PutUint16(h[24:], 0x3E)
	major := uint16(3)
	shift := uint16(9)
	if ss == 4096 {
		major, shift = 4, 12
		binary.LittleEndian.PutUint32(h[40:], uint32(f.nDir))
	}
	binary.LittleEndian.PutUint16(h[26:], major)
	binary.LittleEndian.PutUint16(h[28:], 0xFFFE)
	binary.LittleEndian.PutUint16(h[30:], shift)
	binary.LittleEndian.PutUint16(h[32:], 6)
	binary.LittleEndian.PutUint32(h[44:], uint32(f.nFAT))
	binary.LittleEndian.PutUint32(h[48:], f.dirStart)
	binary.LittleEndian.PutUint32(h[56:], miniCutoff)
	mfs := f.miniFatStart
	binary.LittleEndian.PutUint32(h[60:], mfs)
	binary.LittleEndian.PutUint32(h[64:], uint32(f.nMiniFat))
	binary.LittleEndian.PutUint32(h[68:], secEnd)
	if f.nDIF > 0 {
		binary.LittleEndian.PutUint32(h[68:], f.difStart)
	}
	binary.LittleEndian.PutUint32(h[72:], uint32(f.nDIF))
	for i := 0; i < 109; i++ {
		v := uint32(secFree)
		if i < f.nFAT {
			v = uint32(i)
		}
		binary.LittleEndian.PutUint32(h[76+4*i:], v)
	}
	// DIFAT sectors: the locations of FAT sectors 109 on, the last entry
	// linking to the next DIFAT sector.
	for d := 0; d < f.nDIF; d++ {
		o := f.sectorOff(f.difStart + uint32(d))
		for j := 0; j < difPer; j++ {
			v := uint32(secFree)
			if k := 109 + d*difPer + j; k < f.nFAT {
				v = uint32(k)
			}
			binary.LittleEndian.PutUint32(f.b[o+4*j:], v)
		}
		link := uint32(secEnd)
		if d+1 < f.nDIF {
			link = f.difStart + uint32(d) + 1
		}
		binary.LittleEndian.PutUint32(f.b[o+4*difPer:], link)
	}
	// FAT.
	for i, v := range fat {
		binary.LittleEndian.PutUint32(f.b[f.sectorOff(uint32(i/per))+(i%per)*4:], v)
	}
	// Mini FAT.
	if f.nMiniFat > 0 {
		mf := make([]uint32, f.nMiniFat*per)
		for i := range mf {
			mf[i] = secFree
		}
		for _, c := range miniChains {
			for k := uint32(0); k < c[1]; k++ {
				if k == c[1]-1 {
					mf[c[0]+k] = secEnd
				} else {
					mf[c[0]+k] = c[0] + k + 1
				}
			}
		}
		for i, v := range mf {
			binary.LittleEndian.PutUint32(f.b[f.miniFatOff(uint32(i)):], v)
		}
	}
	// Mini stream and large streams.
	for k := 0; k < nMiniStream; k++ {
		end := min((k+1)*ss, len(ministream))
		copy(f.b[f.sectorOff(f.miniStart+uint32(k)):], ministream[k*ss:end])
	}
	for i, s := range streams {
		if !s.storage && len(s.data) >= miniCutoff {
			for k := 0; k*ss < len(s.data); k++ {
				copy(f.b[f.sectorOff(f.start[i+1]+uint32(k)):], s.data[k*ss:min((k+1)*ss, len(s.data))])
			}
		}
	}
	// Directory: root, then the streams as a balanced tree.
	for i := 0; i < f.nDir*ss/dirEntSize; i++ {
		o := f.entryOff(i)
		binary.LittleEndian.PutUint32(f.b[o+deLeft:], noStream)
		binary.LittleEndian.PutUint32(f.b[o+deRight:], noStream)
		binary.LittleEndian.PutUint32(f.b[o+deChild:], noStream)
	}
	putEntry := func(i int, raw []uint16, typ uint8, start uint32, size uint64) {
		o := f.entryOff(i)
		if len(raw) > 31 {
			panic(fmt.Sprintf("name too long: %d", len(raw)))
		}
		for k, c := range raw {
			binary.LittleEndian.PutUint16(f.b[o+2*k:], c)
		}
		binary.LittleEndian.PutUint16(f.b[o+64:], uint16(2*len(raw)+2))
		f.b[o+66] = typ
		f.b[o+67] = 1 // black
		binary.LittleEndian.PutUint32(f.b[o+deStart:], start)
		binary.LittleEndian.PutUint64(f.b[o+deSize:], size)
	}
	rootStart := uint32(secEnd)
	if nMiniStream > 0 {
		rootStart = f.miniStart
	}
	putEntry(0, u16("Root Entry"), objRoot, rootStart, uint64(len(ministream)))
	copy(f.b[f.entryOff(0)+80:], clsid[:])
	for i, s := range streams {
		switch {
		case s.storage:
			putEntry(i+1, s.raw, objStorage, 0, 0)
		case len(s.data) == 0:
			putEntry(i+1, s.raw, objStream, secEnd, 0)
		default:
			putEntry(i+1, s.raw, objStream, f.start[i+1], uint64(len(s.data)))
		}
	}
	var build func(lo, hi int) uint32
	build = func(lo, hi int) uint32 {
		if lo > hi {
			return noStream
		}
		mid := (lo + hi) / 2
		f.setEntry32(mid, deLeft, build(lo, mid-1))
		f.setEntry32(mid, deRight, build(mid+1, hi))
		return uint32(mid)
	}
	f.setEntry32(0, deChild, build(1, n-1))
	f.start[0] = rootStart
	return f
}
