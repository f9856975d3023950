package awx

import _ "embed"

//go:embed playbook/eucora-apt.yml
var playbook []byte

// PlaybookName is the file name the job template's project holds
// Playbook under.
const PlaybookName = "eucora-apt.yml"

// Playbook returns EUCORA's APT release playbook: the project file the job
// template runs. It is fixed; each job's release comes in its extra_vars
// (Vars: package, version, pin, state, repository), so one template serves
// every release. It installs the release's version from the EUCORA APT
// repository and pins it (apt preferences, Pin-Priority 1001, which also
// lets a rollback downgrade), or removes the package and its pin. A host's
// eucora_root variable makes it act on a throwaway root instead of "/":
// apt reads only that root's configuration and dpkg installs into it.
func Playbook() []byte { return append([]byte(nil), playbook...) }
