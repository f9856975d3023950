package intunesim

import (
	"fmt"
	"net/http"
	"slices"
)

// groups answers the Entra group membership reads the connector makes to
// tell a ring's devices from the rest of an app's (Intune reports install
// state per app, not per assignment):
//
//	GET /{version}/groups/{id}/transitiveMembers/microsoft.graph.device
//	GET /{version}/groups/{id}/members
//
// Members are device objects: id (the directory object id, here the same
// as the device id), deviceId (the id Intune's device statuses carry) and
// displayName, paged like every collection. An unknown group answers 404
// Request_ResourceNotFound as Entra does.
func (s *Server) groupMembers(q *request, rest []string) {
	if q.r.Method != http.MethodGet {
		q.fail(http.StatusMethodNotAllowed, "Request_BadRequest", "The requested method is not allowed for the resource.")
		return
	}
	if len(rest) < 2 || !(len(rest) == 3 && rest[1] == "transitiveMembers" && rest[2] == "microsoft.graph.device" || len(rest) == 2 && rest[1] == "members") {
		q.fail(http.StatusBadRequest, "Request_BadRequest", fmt.Sprintf("Unsupported resource path for groups: %s", clipText(q.r.URL.Path)))
		return
	}
	var devs []Device
	var ok bool
	if s.fleet != nil {
		// A fleet's groups: its devices by their fleet ids.
		if ok = s.fleet.HasGroup(rest[0]); ok {
			for _, i := range s.fleet.Members(rest[0]) {
				d := s.fleet.Device(i)
				devs = append(devs, Device{ID: d.ID, Name: d.Name})
			}
		}
	} else {
		s.mu.Lock()
		devs, ok = s.groups[rest[0]]
		devs = slices.Clone(devs)
		ok = ok || s.groups == nil // without Groups every group exists, empty
		s.mu.Unlock()
	}
	if !ok {
		q.fail(http.StatusNotFound, "Request_ResourceNotFound", fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", clipText(rest[0])))
		return
	}
	items := make([]map[string]any, len(devs))
	for i, d := range devs {
		items[i] = map[string]any{"@odata.type": "#microsoft.graph.device", "id": d.ID, "deviceId": d.ID, "displayName": d.Name}
	}
	s.page(q, "directoryObjects", items)
}
