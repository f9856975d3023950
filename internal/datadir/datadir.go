// Package datadir is the one layout of a EUCORA data directory, shared by
// the hub, the edge and the mirror commands (default ./eucora-data):
//
//	cas/      content-addressed objects (package cas)
//	hub/      hub state: Raft log and snapshots, Pebble FSM, keys
//	edge/     edge state: Pebble, keys, import ledger
//	mirror/   APT mirror definitions, snapshots and published trees
//	keys/     keys this node owns
//
// Only the commands that make state create a data directory (Create): hub
// serve on its first start, hub restore, edge init, mirror apt create.
// Every other command opens an existing one (Open) and creates nothing, so
// a command run from the wrong directory leaves nothing behind. A command
// that created a directory and then failed removes it again (Discard).
package datadir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Default is the data directory used when --data is not given.
const Default = "eucora-data"

// Sentinel errors.
var (
	// ErrNotInitialised: the data directory does not exist
	// (*NotInitialisedError names it and the command that creates one).
	ErrNotInitialised = errors.New("data directory not initialised")
	// ErrBusy: another process holds a lock of the data directory
	// (*BusyError names the lock file and, when known, the holder's pid).
	ErrBusy = errors.New("data directory in use by another process")
)

// NotInitialisedError is Open on a data directory that does not exist.
type NotInitialisedError struct {
	Path string // the data directory looked for
	Init string // the command that creates one ("" if none is known)
}

func (e *NotInitialisedError) Error() string {
	msg := fmt.Sprintf("data directory %s does not exist (give it with --data DIR or EUCORA_DATA, or run from the directory that holds %s)",
		e.Path, filepath.Base(e.Path))
	if e.Init != "" {
		msg += "; to create one, run '" + e.Init + "'"
	}
	return msg
}

func (e *NotInitialisedError) Unwrap() error { return ErrNotInitialised }

// Dir is a data directory.
type Dir struct {
	Root string

	created bool // Create made Root
}

// Open returns the existing data directory at root ("" is Default). It
// creates nothing: if root does not exist the error is a
// *NotInitialisedError naming root and init, the command that creates a
// data directory of the caller's kind (may be empty).
func Open(root, init string) (Dir, error) {
	if root == "" {
		root = Default
	}
	st, err := os.Stat(root)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return Dir{}, &NotInitialisedError{Path: root, Init: init}
	case err != nil:
		return Dir{}, fmt.Errorf("data directory %s: %w", root, err)
	case !st.IsDir():
		return Dir{}, fmt.Errorf("data directory %s is not a directory", root)
	}
	return Dir{Root: root}, nil
}

// Create returns the data directory at root ("" is Default), creating it
// (mode 0750, with its parents) if it does not exist. Only commands that
// make state call it; Discard undoes it when such a command fails.
func Create(root string) (Dir, error) {
	if root == "" {
		root = Default
	}
	d, err := Open(root, "")
	if err == nil {
		return d, nil
	}
	if !errors.Is(err, ErrNotInitialised) {
		return Dir{}, err
	}
	if err := os.MkdirAll(root, 0o750); err != nil {
		return Dir{}, fmt.Errorf("data directory %s: %w", root, err)
	}
	return Dir{Root: root, created: true}, nil
}

// Created reports whether Create made the directory (it did not exist).
func (d Dir) Created() bool { return d.created }

// layout is what EUCORA writes at the top of a data directory.
var layout = map[string]bool{
	"cas": true, "hub": true, "edge": true, "mirror": true, "keys": true,
	"edge.pub": true, "bootstrap.token": true,
}

// Discard removes the data directory after the command that created it
// failed: only if Create made it (in this process, moments ago) and it
// holds nothing but EUCORA's own layout, so nothing of value is lost. A
// directory that existed before is never touched. It reports what it kept
// and why, for a log line.
func (d Dir) Discard() error {
	if !d.created {
		return nil
	}
	ents, err := os.ReadDir(d.Root)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !layout[e.Name()] {
			return fmt.Errorf("kept %s: it holds %s, which EUCORA did not write", d.Root, e.Name())
		}
	}
	return os.RemoveAll(d.Root)
}

// RemoveEmpty removes the directory tree at root if it holds no files at
// all, only (empty) directories: what a command that created a data
// directory and failed before writing anything leaves. It reports whether
// it removed root.
func RemoveEmpty(root string) bool {
	empty := true
	err := filepath.WalkDir(root, func(_ string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !e.IsDir() {
			empty = false
			return fs.SkipAll
		}
		return nil
	})
	if err != nil || !empty {
		return false
	}
	return os.RemoveAll(root) == nil
}

// CAS is the content store's directory.
func (d Dir) CAS() string { return filepath.Join(d.Root, "cas") }

// Hub is the hub state directory.
func (d Dir) Hub() string { return filepath.Join(d.Root, "hub") }

// Edge is the edge state directory.
func (d Dir) Edge() string { return filepath.Join(d.Root, "edge") }

// Mirror is the APT mirror state directory.
func (d Dir) Mirror() string { return filepath.Join(d.Root, "mirror") }

// Keys is the directory of keys this node owns.
func (d Dir) Keys() string { return filepath.Join(d.Root, "keys") }

// BusyError is a lock held by another process.
type BusyError struct {
	File string // the lock file
	PID  int    // the holder's process id as it wrote it (0: unknown)
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("%v: %s is locked by %s", ErrBusy, e.File, e.Holder())
}

// Holder is "pid N" or, when the file does not say, "another process".
func (e *BusyError) Holder() string {
	if e.PID > 0 {
		return "pid " + strconv.Itoa(e.PID)
	}
	return "another process"
}

func (e *BusyError) Unwrap() error { return ErrBusy }

// Lock takes an exclusive lock on file (created if missing, mode 0600)
// without waiting, and writes this process's id into it so that a second
// process can say who holds it. If another process holds it the error is a
// *BusyError. The lock lasts until release is called or the process ends
// (a killed process leaves no stale lock: the kernel drops it).
func Lock(file string) (release func(), err error) {
	f, err := os.OpenFile(file, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) || errors.Is(err, syscall.EAGAIN) {
			b := make([]byte, 32)
			n, _ := f.ReadAt(b, 0)
			pid, _ := strconv.Atoi(strings.TrimSpace(string(b[:n])))
			return nil, &BusyError{File: file, PID: pid}
		}
		return nil, fmt.Errorf("lock %s: %w", file, err)
	}
	if f.Truncate(0) == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() {
		f.Truncate(0)
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// IsLockHeld reports whether err is a file-lock refusal (EAGAIN or
// EWOULDBLOCK from flock), as Pebble and bolt return when another process
// has the database open.
func IsLockHeld(err error) bool {
	return errors.Is(err, syscall.EWOULDBLOCK) || errors.Is(err, syscall.EAGAIN)
}
