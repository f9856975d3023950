// Package connectors holds one adapter per execution plane (Intune, Jamf,
// SCCM, Landscape, AWX), each with a faithful simulator of the plane's HTTP
// API and a shared conformance suite.
package connectors
