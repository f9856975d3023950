package main

import (
	"encoding/gob"
	"os"
	"sync"
	"time"

	"github.com/eucora/eucora/connectors"
)

// answer is what the plane answered one reconciliation of an intent: the
// Query of its release key and the Find of its correlation id, read by
// the real Intune connector from the simulator. Its device states are
// kept without pointers (indexes into the process's tables) so that the
// captured estate, millions of device states, costs the garbage
// collector nothing in the passes: the hub's connector decodes a fresh
// answer per read, garbage after the pass, and never holds them all.
type answer struct {
	Status   connectors.Status // Devices nil: see Dev..Code
	Objects  []connectors.Object
	Requests int   // Graph requests the two reads took
	Bytes    int64 // and the bytes of Graph's answers

	Dev    []int32 // into deviceTable
	State  []uint8 // into states
	At     []int64 // Unix nanoseconds
	Detail []uint16
	Code   []int64
}

// answers are captured answers by intent id.
type answers map[string]*answer

var states = []connectors.InstallState{connectors.StateInstalled, connectors.StateFailed, connectors.StatePending,
	connectors.StateNotInstalled, connectors.StateNotApplicable, connectors.StateUnknown}

// tables intern the strings of every answer's devices.
type tables struct {
	mu      sync.Mutex
	Names   []string // device display names
	IDs     []string // device ids
	Details []string
	dev     map[string]int32
	detail  map[string]uint16
}

var interned = &tables{}

func (t *tables) device(name, id string) int32 {
	if t.dev == nil {
		t.dev, t.detail = map[string]int32{}, map[string]uint16{}
		for i, id := range t.IDs {
			t.dev[id] = int32(i)
		}
		for i, d := range t.Details {
			t.detail[d] = uint16(i)
		}
	}
	if i, ok := t.dev[id]; ok {
		return i
	}
	t.Names, t.IDs = append(t.Names, name), append(t.IDs, id)
	t.dev[id] = int32(len(t.IDs) - 1)
	return int32(len(t.IDs) - 1)
}

func (t *tables) detailOf(d string) uint16 {
	if i, ok := t.detail[d]; ok {
		return i
	}
	t.Details = append(t.Details, d)
	t.detail[d] = uint16(len(t.Details) - 1)
	return uint16(len(t.Details) - 1)
}

// newAnswer keeps what the connector read.
func newAnswer(st connectors.Status, objs []connectors.Object, requests int, bytes int64) *answer {
	a := &answer{Objects: objs, Requests: requests, Bytes: bytes}
	n := len(st.Devices)
	a.Dev, a.State, a.At, a.Detail, a.Code = make([]int32, n), make([]uint8, n), make([]int64, n), make([]uint16, n), make([]int64, n)
	interned.mu.Lock()
	for i, d := range st.Devices {
		a.Dev[i] = interned.device(d.Device, d.DeviceID)
		a.Detail[i] = interned.detailOf(d.Detail)
		for s, x := range states {
			if x == d.State {
				a.State[i] = uint8(s)
			}
		}
		a.At[i], a.Code[i] = d.At.UnixNano(), d.ErrorCode
	}
	interned.mu.Unlock()
	st.Devices = nil
	a.Status = st
	return a
}

// devices returns the number of device states.
func (a *answer) devices() int { return len(a.Dev) }

// status builds the Status the connector returned, its device states
// afresh (as decoding Graph's answer would).
func (a *answer) status() connectors.Status {
	st := a.Status
	st.Devices = make([]connectors.DeviceState, len(a.Dev))
	for i, d := range a.Dev {
		st.Devices[i] = connectors.DeviceState{Device: interned.Names[d], DeviceID: interned.IDs[d], State: states[a.State[i]],
			Detail: interned.Details[a.Detail[i]], ErrorCode: a.Code[i], At: time.Unix(0, a.At[i]).UTC()}
	}
	return st
}

// captured is what -answers keeps of one size's capture.
type captured struct {
	Tables  *tables
	A       answers // at rest
	Drifted answers // the answers that changed after the drift
}

func saveCaptured(path string, c captured) error {
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return err
	}
	if err := gob.NewEncoder(f).Encode(c); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}

func loadCaptured(path string) (captured, error) {
	var c captured
	f, err := os.Open(path)
	if err != nil {
		return c, err
	}
	defer f.Close()
	err = gob.NewDecoder(f).Decode(&c)
	return c, err
}
