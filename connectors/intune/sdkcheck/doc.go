// Package sdkcheck judges the Intune simulator by a real client: its test
// points the official Microsoft Graph Go SDK (msgraph-sdk-go) at
// connectors/intune/intunesim with a custom base URL and a static token,
// unchanged, and creates, lists and reads through it. It is its own
// module because the SDK takes minutes and gigabytes to build: `make
// sdk-check` runs it; `make test` does not.
package sdkcheck
