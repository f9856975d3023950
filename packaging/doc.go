// Package packaging is the factory's intake (EUCORA-architecture.md
// section 7): one file at a time it streams a package into the content
// store, computing its SHA-256 and size, and reads its facts natively with
// the reader of its type (packaging/deb, packaging/msi, packaging/pe,
// packaging/msix, packaging/xar, packaging/dmg, packaging/mobile,
// packaging/intunewin), so risk, SBOM, vulnerability policy and evidence
// start from what EUCORA read itself. A file that claims one type and is
// another, is truncated or hostile is refused with a *facts.DefectError
// naming the file and the defect, and nothing is stored.
package packaging
