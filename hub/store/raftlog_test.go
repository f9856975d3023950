package store

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestRaftLogLevels(t *testing.T) {
	for _, c := range []struct{ line, level string }{
		// Normal on every start: no leader heard of since the node started.
		{"[WARN]  raft: heartbeat timeout reached, starting election: last-leader-addr= last-leader-id=", "INFO"},
		{"[WARN]  raft: no known peers, aborting election", "INFO"},
		// A node that lost its leader: a real warning in a cluster.
		{"[WARN]  raft: heartbeat timeout reached, starting election: last-leader-addr=127.0.0.1:8441 last-leader-id=n2", "WARN"},
		{"[WARN]  raft: Election timeout reached, restarting election", "WARN"},
		{"[WARN]  raft: failed to contact: server-id=n2 time=2.5s", "WARN"},
		{"[ERROR] raft: failed to make requestVote RPC: target=n2 error=\"dial tcp: connection refused\"", "ERROR"},
		{"[INFO]  raft: entering leader state", "INFO"},
	} {
		var buf bytes.Buffer
		w := slogWriter{slog.New(slog.NewTextHandler(&buf, nil))}
		w.Write([]byte(c.line + "\n"))
		got := buf.String()
		_, msg := splitHclog(c.line)
		if !strings.Contains(got, "level="+c.level+" ") || !strings.Contains(got, strings.SplitN(msg, ":", 3)[1]) || strings.Contains(got, "[WARN]") {
			t.Errorf("%q logged as %q, want level %s and the message without its hclog prefix", c.line, got, c.level)
		}
	}
}
