package api

import "github.com/eucora/eucora/transfer"

// Error is the body of every non-2xx answer.
type Error struct {
	Error string `json:"error"`
	// Code is a machine-readable refusal code where the hub gives one: a
	// bundle refusal (transfer.RefusalCode) or a request refusal below.
	Code string `json:"code,omitempty"`
	// Decision is the stored policy decision of a 403 refusal by policy.
	Decision *Decision `json:"decision,omitempty"`
}

// Request refusal codes of answers that are not about a bundle.
const (
	// CodeUnknownPublication: site assign named an APT publication this
	// hub node does not hold.
	CodeUnknownPublication = "unknown_publication"
	// CodeDefectivePackage: package intake read a file that is not what
	// it claims, is truncated, malformed or hostile; nothing was stored.
	CodeDefectivePackage = "defective_package"
)

// ImportRefusalCode is the code of a bundle refusal answer; false when
// code is not a bundle refusal.
func ImportRefusalCode(code string) (transfer.RefusalCode, bool) {
	c := transfer.RefusalCode(code)
	return c, c.Known()
}
