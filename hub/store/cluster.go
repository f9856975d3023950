package store

import "fmt"

// clusterHandlers apply the membership records: the addresses of each
// node. Raft's own configuration is the membership; these records only say
// how to reach a member.
var clusterHandlers = map[string]handler{
	CmdNodeUpsert: withBody(applyNodeUpsert),
	CmdNodeRemove: withBody(applyNodeRemove),
}

func applyNodeUpsert(b Batch, n Node) (any, error) {
	if n.ID == "" || n.RaftAddr == "" || n.HTTPAddr == "" {
		return nil, fmt.Errorf("%w: node needs id, raft_addr and http_addr", ErrInvalid)
	}
	return nil, setJSON(b, nodeKey(n.ID), n)
}

func applyNodeRemove(b Batch, n NodeRemoveBody) (any, error) {
	// Deletion of a node record is an overwrite with a tombstone-free
	// delete; membership history lives in the event log.
	return nil, b.Delete(nodeKey(n.ID))
}
