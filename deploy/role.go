package deploy

import (
	"fmt"
	"sort"
	"strings"
)

// Role is one of the seven roles of the architecture document's RBAC model (section 5.5).
type Role string

// The roles. Their rights are decided by the rules in this package, never by
// string comparison elsewhere.
const (
	RolePlatformAdmin     Role = "platform-admin"
	RolePackagingEngineer Role = "packaging-engineer"
	RolePublisher         Role = "publisher"
	RoleCABApprover       Role = "cab-approver"
	RoleSecurityReviewer  Role = "security-reviewer"
	RoleEndpointOps       Role = "endpoint-ops"
	RoleAuditor           Role = "auditor"
)

// Roles lists every role in a stable order.
var Roles = []Role{
	RolePlatformAdmin, RolePackagingEngineer, RolePublisher, RoleCABApprover,
	RoleSecurityReviewer, RoleEndpointOps, RoleAuditor,
}

// ParseRole validates a role name.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	names := make([]string, len(Roles))
	for i, r := range Roles {
		names[i] = string(r)
	}
	sort.Strings(names)
	return "", fmt.Errorf("unknown role %q (want one of %s)", s, strings.Join(names, ", "))
}
