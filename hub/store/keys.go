package store

import (
	"encoding/binary"
	"fmt"

	"github.com/eucora/eucora/deploy"

	"github.com/eucora/eucora/internal/digest"
)

// Key layout of the FSM state in Pebble. Every key this package reads or
// writes is built in this file. Prefixes are one or two letters and a
// slash, so a scan of one record kind is a range; numbers are big-endian
// so they sort; \x00 separates the parts of a composite key. The bytes are
// the state format (FormatVersion): changing one is a new format, and the
// committed data directories under testdata must keep reading back.
//
// Values are JSON unless said otherwise. The owner is the handler table
// (see processor.go) whose commands write the key; "State" means the key is
// written outside the command processor.
//
//	key                                  value                                 owner
//	m/applied                            last applied Raft index (8 bytes BE)  State (FSM.ApplyBatch)
//	m/format                             state format version (decimal text)   State (openPebble)
//	m/cursor                             last event cursor (8 bytes BE)        events (every audited command)
//	m/identity                           Identity                              identity
//	m/chain-rule                         ChainRule (absent: rule 1)            events (events.chain-rule)
//	n/<id>                               Node                                  cluster
//	s/<name>                             Site                                  sites
//	pl/<name>                            Plane (credentials sealed, planes.go) planes
//	t/<id>                               Token                                 tokens
//	h/<sha256 hex>                       token id of a secret hash (text)      tokens
//	b/<sha256 hex>                       Blob                                  blobs
//	e/<cursor 8 bytes BE>                64 hex hash, then the Event JSON      events (every audited command)
//	c/<origin>                           chainHead of an origin                events (every audited command)
//	d/<origin>\x00<seq 8 bytes BE>       dedup marker (empty)                  events
//	z/<site>                             SiteSync                              sync (and audit.record)
//	x/<site>\x00<seq 8 bytes BE>         ExportRecord                          sync
//	y/<site>                             held digests ([]digest.Digest)        sync
//	ga/<app>                             AppRecord                             catalog
//	gv/<app>\x00<version>                VersionRecord                         catalog (and intents)
//	gr/<app>\x00<version>\x00<hex>       ArtifactRecord                        catalog
//	gq/<app>\x00<version>                artifact digests of a version         catalog
//	gs/<id>                              AssessmentRecord                      review
//	gp/<id>                              deploy.ApprovalRecord                 review
//	gw/<subject>                         ApprovalRequestRecord                 review, intents, catalog
//	gx/<id>                              deploy.Exception                      review
//	gj/<id>                              deploy.ElevationGrant                 review
//	gi/<id>                              IntentRecord                          intents
//	gk/<app>                             active intent ids of an app           intents
//	ge/<hex>                             EvidenceRecord                        intents
//	gd/<id>                              DecisionRecord                        every governance table
//	m/vuln-feed                          id of the current VulnFeed (text)     factory
//	vf/<id>                              VulnFeed                              factory
//	kr/<sha256 hex of the DER>           CodeSignRoot                          factory
//	sk/<key id>                          SigningKey                            factory
//	rt/<plane>\x00<ring>                  RingTargets                           rollout
//	ro/<intent id>                       Rollout                               rollout (and intents)
//	rv/<app>\x00<version>                RollbackValidation                    rollout
//	oi/<id>                              Incident                              rollout
//	df/<intent id>\x00<plane>             DriftSet                              rollout
//	m/drift-policy                       deploy.DriftPolicy                    rollout
//	rn/<app>\x00<version>                intents whose rollouts need it ([]string) rollout
//	so/<site>\x00<intent id>              transfer.Order                        execution
//	sx/<site>\x00<intent id>              SiteExecution                         execution (site.import)
const (
	prefixMeta            = "m/"
	prefixNode            = "n/"
	prefixSite            = "s/"
	prefixPlane           = "pl/"
	prefixToken           = "t/"
	prefixTokenHash       = "h/"
	prefixBlob            = "b/"
	prefixEvent           = "e/"
	prefixChain           = "c/"
	prefixDedup           = "d/"
	prefixSync            = "z/"
	prefixExport          = "x/"
	prefixHeld            = "y/"
	prefixApp             = "ga/"
	prefixVersion         = "gv/"
	prefixArtifact        = "gr/"
	prefixArtifactIndex   = "gq/"
	prefixAssessment      = "gs/"
	prefixApproval        = "gp/"
	prefixApprovalRequest = "gw/"
	prefixException       = "gx/"
	prefixGrant           = "gj/"
	prefixIntent          = "gi/"
	prefixActive          = "gk/"
	prefixEvidence        = "ge/"
	prefixDecision        = "gd/"
	prefixVulnFeed        = "vf/"
	prefixCodeSignRoot    = "kr/"
	prefixSigningKey      = "sk/"
	prefixRingTargets     = "rt/"
	prefixRollout         = "ro/"
	prefixValidation      = "rv/"
	prefixIncident        = "oi/"
	prefixDrift           = "df/"
	prefixNeeds           = "rn/"
	prefixSiteOrder       = "so/"
	prefixSiteExec        = "sx/"
	prefixSeen            = "rs/"

	// keySep separates the parts of a composite key.
	keySep = "\x00"
)

// keyPrefixes lists every prefix, for the test that no prefix is the start
// of another (a scan of one kind would read the other).
var keyPrefixes = []string{
	prefixMeta, prefixNode, prefixSite, prefixPlane, prefixToken, prefixTokenHash, prefixBlob, prefixEvent, prefixChain,
	prefixDedup, prefixSync, prefixExport, prefixHeld, prefixApp, prefixVersion, prefixArtifact,
	prefixArtifactIndex, prefixAssessment, prefixApproval, prefixApprovalRequest, prefixException,
	prefixGrant, prefixIntent, prefixActive, prefixEvidence, prefixDecision,
	prefixVulnFeed, prefixCodeSignRoot, prefixSigningKey,
	prefixRingTargets, prefixRollout, prefixValidation, prefixIncident, prefixDrift, prefixNeeds,
	prefixSiteOrder, prefixSiteExec, prefixSeen,
}

// Single keys.
var (
	keyApplied  = []byte(prefixMeta + "applied")
	keyCursor   = []byte(prefixMeta + "cursor")
	keyIdentity = []byte(prefixMeta + "identity")
	keyFormat   = []byte(prefixMeta + "format")
	// keyChainRule is the event hash rule of new events (chain.go).
	keyChainRule = []byte(prefixMeta + "chain-rule")
	// keyVulnFeed is the id of the feed intake matches against.
	keyVulnFeed = []byte(prefixMeta + "vuln-feed")
	// keyDriftPolicy is the hub's drift policy (rollout.go).
	keyDriftPolicy = []byte(prefixMeta + "drift-policy")
)

// prefixEnd is the exclusive upper bound of the keys starting with prefix
// (its last byte incremented: "n/" -> "n0").
func prefixEnd(prefix string) []byte {
	end := []byte(prefix)
	end[len(end)-1]++
	return end
}

func ringTargetsKey(plane string, r deploy.Ring) []byte {
	return []byte(fmt.Sprintf("%s%s%s%d", prefixRingTargets, plane, keySep, int(r)))
}
func rolloutKey(intent string) []byte { return []byte(prefixRollout + intent) }
func validationKey(app, version string) []byte {
	return []byte(prefixValidation + app + keySep + version)
}
func needsKey(app, version string) []byte {
	return []byte(prefixNeeds + app + keySep + version)
}
func siteOrderKey(site, intent string) []byte {
	return []byte(prefixSiteOrder + site + keySep + intent)
}
func siteExecKey(site, intent string) []byte { return []byte(prefixSiteExec + site + keySep + intent) }
func incidentKey(id string) []byte           { return []byte(prefixIncident + id) }
func driftKey(intent, plane string) []byte   { return []byte(prefixDrift + intent + keySep + plane) }
func seenKey(intent string) []byte           { return []byte(prefixSeen + intent) }
func nodeKey(id string) []byte               { return []byte(prefixNode + id) }
func siteKey(name string) []byte             { return []byte(prefixSite + name) }
func planeKey(name string) []byte            { return []byte(prefixPlane + name) }
func vulnFeedKey(id string) []byte           { return []byte(prefixVulnFeed + id) }
func codeSignRootKey(fp string) []byte       { return []byte(prefixCodeSignRoot + fp) }
func signingKeyKey(id string) []byte         { return []byte(prefixSigningKey + id) }
func tokenKey(id string) []byte              { return []byte(prefixToken + id) }
func hashKey(h string) []byte                { return []byte(prefixTokenHash + h) }
func blobKey(hex string) []byte              { return []byte(prefixBlob + hex) }

// Audit log.
func eventKey(c uint64) []byte { return binary.BigEndian.AppendUint64([]byte(prefixEvent), c) }
func chainKey(o string) []byte { return []byte(prefixChain + o) }
func dedupKey(o string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte(prefixDedup+o+keySep), seq)
}

// eventCursor returns the cursor an event key holds, false when key is not
// one.
func eventCursor(key []byte) (uint64, bool) {
	if len(key) != len(prefixEvent)+8 || string(key[:len(prefixEvent)]) != prefixEvent {
		return 0, false
	}
	return binary.BigEndian.Uint64(key[len(prefixEvent):]), true
}

// Site sync.
func syncKey(site string) []byte { return []byte(prefixSync + site) }
func exportKey(site string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte(prefixExport+site+keySep), seq)
}
func heldKey(site string) []byte { return []byte(prefixHeld + site) }

// Governance.
func appKey(id string) []byte         { return []byte(prefixApp + id) }
func versionKey(app, v string) []byte { return []byte(versionPrefix(app) + v) }
func versionPrefix(app string) string { return prefixVersion + app + keySep }
func artifactPrefix(app, v string) string {
	return prefixArtifact + app + keySep + v + keySep
}
func artifactKey(app, v string, d digest.Digest) []byte { return artifactHexKey(app, v, d.Hex()) }
func artifactHexKey(app, v, hex string) []byte          { return []byte(artifactPrefix(app, v) + hex) }

// artifactIndexKey lists a version's artifact digests: the Batch interface
// has no iteration, so applies read a version's artifacts through it.
func artifactIndexKey(app, v string) []byte { return []byte(prefixArtifactIndex + app + keySep + v) }
func assessmentKey(id string) []byte        { return []byte(prefixAssessment + id) }
func approvalKey(id string) []byte          { return []byte(prefixApproval + id) }

// approvalRequestKey holds the latest recorded request for a CAB approval
// of subject (see ApprovalRequestRecord).
func approvalRequestKey(subject string) []byte { return []byte(prefixApprovalRequest + subject) }
func exceptionKey(id string) []byte            { return []byte(prefixException + id) }
func grantKey(id string) []byte                { return []byte(prefixGrant + id) }
func intentKey(id string) []byte               { return []byte(prefixIntent + id) }
func activeKey(app string) []byte              { return []byte(prefixActive + app) }
func evidenceKey(hex string) []byte            { return []byte(prefixEvidence + hex) }
func decisionKey(id string) []byte             { return []byte(prefixDecision + id) }
