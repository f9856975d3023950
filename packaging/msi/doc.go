// Package msi reads Windows Installer packages (.msi) natively: the
// Compound File Binary (CFB) container, the database inside it (string
// pool, _Tables, _Columns, column-major table streams) and the summary
// information property set, and turns them into facts.Facts.
//
// Layers:
//
//   - container: the CFB file, read with github.com/richardlehane/mscfb
//     after a bounded pre-validation of everything mscfb would follow
//     (header, DIFAT, FAT, directory chain and tree, mini FAT, mini stream,
//     and each stream's sector chain before it is read), so that a loop, a
//     pointer past the end of the file, a directory over Limits.MaxEntries
//     or a declared size larger than the file is a *facts.DefectError and
//     never a hang or a large allocation;
//   - Database (Open): stream names decoded from their packed form, the
//     string pool, the table catalogue, and tables read on demand, each
//     stream bounded by Limits.MaxMetadata and each table by Limits.MaxRows;
//   - Inspect: the facts the factory derives from an MSI (identity,
//     properties, privilege, services, drivers, custom actions, files,
//     signature presence) and DetectionCandidates for detection rules.
//
// The Authenticode signature (\005DigitalSignature) is only detected here;
// packaging/authenticode verifies it. Nothing in an MSI is ever run, and
// embedded cabinets and Binary payloads are not unpacked.
package msi
