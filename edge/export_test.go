package edge

// ErrStalled exposes the stall error to the external tests (package
// edge_test) without making it part of the package's API.
var ErrStalled = errStalled
