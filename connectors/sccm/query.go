package sccm

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/eucora/eucora/connectors"
)

type smsAssetDetails struct {
	AssignmentID              int64     `json:"AssignmentID"`
	MachineID                 int64     `json:"MachineID"`
	MachineName               string    `json:"MachineName"`
	AppStatusType             int       `json:"AppStatusType"`
	EnforcementState          int       `json:"EnforcementState"`
	ErrorCode                 int64     `json:"ErrorCode"`
	LastComplianceMessageTime time.Time `json:"LastComplianceMessageTime"`
}

// enforcementText says what an EnforcementState means (the values of the
// site's deployment monitoring).
var enforcementText = map[int]string{
	1000: "success", 1001: "already compliant", 1002: "simulate success",
	2000: "in progress", 2001: "waiting for content", 2002: "installing", 2003: "waiting for a restart",
	2004: "waiting for a maintenance window", 2005: "waiting for the schedule", 2006: "downloading dependent content",
	2007: "installing dependent content", 2008: "restart to complete", 2009: "content downloaded", 2010: "waiting for an update",
	2011: "waiting for the user session", 2012: "waiting for all users to log off", 2013: "waiting for the user to log on",
	2014: "waiting to retry", 2015: "waiting for presentation mode", 2016: "waiting for the Orchestration",
	2017: "waiting for the network", 2018: "pending App-V virtual environment", 2019: "updating App-V virtual environment",
	3000: "requirements not met", 3001: "host platform not applicable",
	4000: "unknown",
	5000: "deployment failed", 5001: "evaluation failed", 5002: "deployment failed", 5003: "failed to locate content",
	5004: "dependency installation failed", 5005: "failed to download dependent content", 5006: "conflicts with another deployment",
	5007: "waiting to retry", 5008: "failed to uninstall the superseded deployment type", 5009: "failed to download the superseded deployment type",
	5010: "failed to update the App-V virtual environment",
}

// InstallState maps a device's AppStatusType (1 success, 2 in progress,
// 3 requirements not met, 4 unknown, 5 error) and EnforcementState (the
// same classes in thousands) for a deployment onto EUCORA's states. For an
// uninstall deployment success means the application is gone.
func InstallState(appStatusType, enforcementState int, uninstall bool) connectors.InstallState {
	class := appStatusType
	if class < 1 || class > 5 {
		class = enforcementState / 1000
	}
	switch class {
	case 1:
		if uninstall {
			return connectors.StateNotInstalled
		}
		return connectors.StateInstalled
	case 2:
		return connectors.StatePending
	case 3:
		return connectors.StateNotApplicable
	case 5:
		return connectors.StateFailed
	}
	return connectors.StateUnknown
}

func deviceState(d smsAssetDetails, uninstall bool) connectors.DeviceState {
	st := InstallState(d.AppStatusType, d.EnforcementState, uninstall)
	detail := enforcementText[d.EnforcementState]
	if detail == "" {
		detail = "enforcement state " + strconv.Itoa(d.EnforcementState)
	}
	if uninstall {
		detail = "uninstall: " + detail
	}
	return connectors.DeviceState{Device: d.MachineName, DeviceID: strconv.FormatInt(d.MachineID, 10), State: st,
		Detail: detail, ErrorCode: d.ErrorCode, At: d.LastComplianceMessageTime}
}

// distributionState names a DP group distribution's MessageState.
func distributionState(ms int) string {
	switch ms {
	case 1:
		return "success"
	case 2:
		return "in-progress"
	case 3, 4:
		return "failed"
	}
	return "unknown"
}

// Query implements connectors.Connector: the release's application, its
// content package and distribution per DP group (objects of kind
// "distribution" named "GROUP: STATE"), its collection and deployments,
// and the state of every device of the deployment.
func (c *connector) Query(ctx context.Context, k connectors.ReleaseKey) (connectors.Status, error) {
	const op = "query"
	st := connectors.Status{Key: k, Assigned: []string{}}
	if k.App == "" || k.Version == "" || !k.Ring.Valid() {
		return st, badInput(op, fmt.Errorf("release key %s: an app, a version and a ring 0-4 are required", k))
	}
	scope, err := c.authoringScope(ctx)
	if err != nil {
		return st, err
	}
	found, err := c.findApp(ctx, op, scope, k)
	if err != nil {
		return st, err
	}
	if found == nil {
		return st, &connectors.Error{Plane: connectors.SCCM, Op: op, Class: connectors.Permanent, NotFound: true,
			Message: fmt.Sprintf("the site holds no application %s for %s", modelName(scope, k), k)}
	}
	a := app{smsApplication: *found}
	st.Objects = append(st.Objects, a.object())
	pkgs, err := list[smsContentPackage](ctx, c.c, op, "SMS_ContentPackage",
		selecting(filter("SecurityKey eq "+quote(a.ModelName)), "PackageID", "Name", "SecurityKey"))
	if err != nil {
		return st, err
	}
	for _, p := range pkgs {
		st.Objects = append(st.Objects, connectors.Object{Kind: "package", ID: p.PackageID, Name: p.Name})
	}
	if len(pkgs) > 0 {
		sts, err := list[smsDPGroupStatus](ctx, c.c, op, "SMS_DPGroupDistributionStatusDetails",
			selecting(filter("ObjectID eq "+quote(a.ModelName)), "GroupID", "PackageID", "MessageState"))
		if err != nil {
			return st, err
		}
		for _, s := range sts {
			st.Objects = append(st.Objects, connectors.Object{Kind: "distribution", ID: s.PackageID + "@" + s.GroupID,
				Name: s.GroupID + ": " + distributionState(s.MessageState)})
		}
	}
	colRef, err := c.findCollection(ctx, op, k)
	if err != nil || colRef == nil {
		return st, err
	}
	col, err := getVisible[smsCollection](ctx, c, op, "SMS_Collection("+quote(colRef.CollectionID)+")")
	if err != nil {
		return st, err
	}
	st.Objects = append(st.Objects, collectionObject(col))
	asgs, err := list[smsAssignment](ctx, c.c, op, "SMS_ApplicationAssignment",
		selecting(filter("TargetCollectionID eq "+quote(col.CollectionID)), assignmentFields...))
	if err != nil {
		return st, err
	}
	install, uninstall := assignmentName(k, k, actionInstall), assignmentName(k, k, actionUninstall)
	for _, asg := range asgs {
		if asg.AssignmentName != install && asg.AssignmentName != uninstall {
			continue
		}
		st.Objects = append(st.Objects, assignmentObject(asg))
		un := asg.DesiredConfigType == 2
		if !un && asg.Enabled {
			st.Assigned = append(st.Assigned, targetsOfRules(col.CollectionRules)...)
		}
		details, err := list[smsAssetDetails](ctx, c.c, op, "SMS_AppDeploymentAssetDetails",
			selecting(filter("AssignmentID eq "+strconv.FormatInt(asg.AssignmentID, 10)),
				"AssignmentID", "MachineID", "MachineName", "AppStatusType", "EnforcementState", "ErrorCode", "LastComplianceMessageTime"))
		if err != nil {
			return st, err
		}
		for _, d := range details {
			ds := deviceState(d, un)
			st.Devices = append(st.Devices, ds)
			st.Summary.Add(ds.State)
		}
	}
	return st, nil
}

// Find implements connectors.Connector: every application, collection and
// deployment whose comment carries the correlation marker. The site has
// no text search on these classes that EUCORA can rely on, so it reads
// them page by page with only the fields it needs.
func (c *connector) Find(ctx context.Context, correlationID string) ([]connectors.Object, error) {
	const op = "find"
	if correlationID == "" || strings.ContainsAny(correlationID, " \t\r\n") {
		return nil, badInput(op, fmt.Errorf("correlation id %q: want a non-empty id without spaces", correlationID))
	}
	out := []connectors.Object{}
	apps, err := list[smsApplication](ctx, c.c, op, "SMS_Application",
		selecting(filter("IsLatest eq true"), "CI_ID", "ModelName", "LocalizedDisplayName", "LocalizedDescription"))
	if err != nil {
		return nil, err
	}
	for _, a := range apps {
		if o := (app{smsApplication: a}).object(); o.CorrelationID == correlationID {
			out = append(out, o)
		}
	}
	cols, err := list[smsCollection](ctx, c.c, op, "SMS_Collection", selecting(url.Values{}, "CollectionID", "Name", "Comment"))
	if err != nil {
		return nil, err
	}
	for _, col := range cols {
		if o := collectionObject(col); o.CorrelationID == correlationID {
			out = append(out, o)
		}
	}
	asgs, err := list[smsAssignment](ctx, c.c, op, "SMS_ApplicationAssignment",
		selecting(url.Values{}, "AssignmentID", "AssignmentName", "AssignmentDescription"))
	if err != nil {
		return nil, err
	}
	for _, a := range asgs {
		if o := assignmentObject(a); o.CorrelationID == correlationID {
			out = append(out, o)
		}
	}
	return out, nil
}
