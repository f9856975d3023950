package pe_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/eucora/eucora/packaging/authenticode"
	"github.com/eucora/eucora/packaging/facts"
	"github.com/eucora/eucora/packaging/internal/signtest"
	"github.com/eucora/eucora/packaging/pe"
)

func isDefect(err error) bool {
	var d *facts.DefectError
	return errors.As(err, &d) && errors.Is(err, facts.ErrDefect)
}

// resourceLayout finds, in a fixture with resources, the file offsets of
// the resource root directory and of the first data entry under it.
func resourceLayout(t *testing.T, b []byte) (root, dataEntry, langEntry int64) {
	t.Helper()
	h, err := authenticode.ParsePEHeaders(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	d := h.Dir(authenticode.DirResource)
	root, ok := h.RVAToOffset(d.VirtualAddress, 16)
	if !ok {
		t.Fatal("no resource directory")
	}
	le := binary.LittleEndian
	off := int64(0)
	for level := 0; level < 3; level++ {
		langEntry = root + off + 16 // first entry of this directory
		off = int64(le.Uint32(b[langEntry+4:]) &^ (1 << 31))
	}
	return root, root + off, langEntry
}

func TestInspectHostile(t *testing.T) {
	exe, err := os.ReadFile(signtest.BuildPE(t, "amd64", signtest.ResourceObject("amd64", fixtureResources())))
	if err != nil {
		t.Fatal(err)
	}
	root, de, le := resourceLayout(t, exe)
	h, _ := authenticode.ParsePEHeaders(bytes.NewReader(exe), int64(len(exe)))
	lfanew := int(binary.LittleEndian.Uint32(exe[0x3c:]))
	resDir := lfanew + 24 + 112 + 8*authenticode.DirResource
	set32 := func(off int64, v uint32) []byte {
		b := append([]byte(nil), exe...)
		binary.LittleEndian.PutUint32(b[off:], v)
		return b
	}
	set16 := func(off int64, v uint16) []byte {
		b := append([]byte(nil), exe...)
		binary.LittleEndian.PutUint16(b[off:], v)
		return b
	}
	defects := []struct {
		name, want string
		b          []byte
	}{
		{"empty", "truncated", nil},
		{"text file", "no MZ signature", []byte("#!/bin/sh\necho not a program\n")},
		{"MSI named .exe", "no MZ signature", append([]byte("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"), make([]byte, 1024)...)},
		{"zip named .exe", "no MZ signature", []byte("PK\x03\x04" + strings.Repeat("\x00", 100))},
		{"DOS stub only", "outside the file", []byte("MZ" + strings.Repeat("\x00", 62))},
		{"resource directory in no section", "in no section", set32(int64(resDir), 0x7FFF0000)},
		{"65535 resource types", "more than 4096 entries", set16(root+14, 0xFFFF)},
		{"resource subdirectory outside the section", "outside the resource section", set32(root+16+4, 1<<31|0x7FFFFFF0)},
		{"resource data entry outside the section", "outside the resource section", set32(le+4, 0x7FFFFFF0)},
		{"resource of 4 GiB", "limit", set32(de+4, 0xFFFFFFF0)},
		{"resource data in no section", "in no section", set32(de, 0x7FFF0000)},
		{"truncated in the sections", "", exe[:int(h.Sections[0].PointerToRawData)+100]},
	}
	for _, c := range defects {
		t.Run(c.name, func(t *testing.T) {
			f, err := pe.Inspect(bytes.NewReader(c.b), int64(len(c.b)), facts.Options{})
			if !isDefect(err) {
				t.Fatalf("got %+v, %v; want a DefectError", f, err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not say %q", err, c.want)
			}
		})
	}
	// Broken resource contents are not read, and say so.
	verKey := bytes.Index(exe, []byte("V\x00S\x00_\x00V\x00E\x00R\x00S\x00I\x00O\x00N\x00"))
	man := bytes.Index(exe, []byte("<?xml"))
	notRead := []struct {
		name, want string
		b          []byte
	}{
		{"VERSIONINFO with another key", "version resource (resource key", set16(int64(verKey), 'X')},
		{"VERSIONINFO with a block longer than the resource", "version resource (block length", set16(int64(verKey-6), 0xFFFF)},
		{"manifest not XML", "manifest (XML", set32(int64(man), 0x3c3c3c3c)},
	}
	for _, c := range notRead {
		t.Run(c.name, func(t *testing.T) {
			f, err := pe.Inspect(bytes.NewReader(c.b), int64(len(c.b)), facts.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.ContainsFunc(f.NotInspected, func(s string) bool { return strings.HasPrefix(s, c.want) }) {
				t.Errorf("not inspected %q does not say %q", f.NotInspected, c.want)
			}
		})
	}
	t.Logf("%d malformed PE files refused as defects, %d with unreadable resources", len(defects), len(notRead))
}

func FuzzInspect(f *testing.F) {
	exe, err := os.ReadFile(signtest.BuildPE(f, "amd64", signtest.ResourceObject("amd64", fixtureResources())))
	if err != nil {
		f.Fatal(err)
	}
	// The headers and the resource section, cut from the program (the
	// whole program is a slow seed).
	f.Add(exe[:4096])
	f.Add(exe)
	f.Add(signtest.VersionInfo([4]uint16{1, 2, 3, 4}, map[string]string{"ProductName": "x"}))
	f.Fuzz(func(t *testing.T, b []byte) {
		facts, err := pe.Inspect(bytes.NewReader(b), int64(len(b)), facts.Options{})
		if err != nil && !isDefect(err) {
			t.Fatalf("error is not a DefectError: %v", err)
		}
		if err == nil && facts.Signature == nil {
			t.Fatal("no signature verdict")
		}
	})
}
