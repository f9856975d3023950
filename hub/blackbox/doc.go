// Package blackbox holds black-box tests of the hub: they build the eucora
// binary, run several `eucora hub serve` processes on loopback, SIGKILL
// them and check what clients observed (porcupine linearizability, blob
// durability, exactly-once event ingest). It has no non-test code.
package blackbox
