package sccm

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/eucora/eucora/connectors"
)

// The XML namespaces of an application's SDM package (the AppMgmtDigest
// that SMS_Application.SDMPackageXML holds).
const (
	nsDigest = "http://schemas.microsoft.com/SystemCenterConfigurationManager/2009/AppMgmtDigest"
	nsRules  = "http://schemas.microsoft.com/SystemsCenterConfigurationManager/2009/06/14/Rules"
	nsDCM    = "http://schemas.microsoft.com/SystemsCenterConfigurationManager/2009/07/10/DesiredConfiguration"
)

// xmlHeader is the declaration the site writes: the text is UTF-16 inside
// WMI, and the declaration stays when it is carried in a JSON string.
const xmlHeader = `<?xml version="1.0" encoding="utf-16"?>` + "\n"

type digestXML struct {
	XMLName         xml.Name            `xml:"http://schemas.microsoft.com/SystemCenterConfigurationManager/2009/AppMgmtDigest AppMgmtDigest"`
	Application     applicationXML      `xml:"Application"`
	DeploymentTypes []deploymentTypeXML `xml:"DeploymentType"`
}

type ciRef struct {
	AuthoringScopeID string `xml:"AuthoringScopeId,attr"`
	LogicalName      string `xml:"LogicalName,attr"`
	Version          string `xml:"Version,attr,omitempty"`
}

type resText struct {
	ResourceID string `xml:"ResourceId,attr,omitempty"`
	Text       string `xml:",chardata"`
}

type infoXML struct {
	Language    string `xml:"Language,attr"`
	Title       string `xml:"Title"`
	Publisher   string `xml:"Publisher"`
	Version     string `xml:"Version"`
	Description string `xml:"Description,omitempty"`
}

type applicationXML struct {
	ciRef
	DisplayInfo struct {
		DefaultLanguage string    `xml:"DefaultLanguage,attr"`
		Info            []infoXML `xml:"Info"`
	} `xml:"DisplayInfo"`
	DeploymentTypeRefs []ciRef `xml:"DeploymentTypes>DeploymentType"`
	Title              resText `xml:"Title"`
	Description        resText `xml:"Description"`
	Publisher          resText `xml:"Publisher"`
	SoftwareVersion    resText `xml:"SoftwareVersion"`
	CustomID           resText `xml:"CustomId"`
}

type deploymentTypeXML struct {
	ciRef
	Title                resText        `xml:"Title"`
	Description          resText        `xml:"Description"`
	DeploymentTechnology string         `xml:"DeploymentTechnology"`
	Technology           string         `xml:"Technology"`
	Hosting              string         `xml:"Hosting"`
	Installer            installerXML   `xml:"Installer"`
	Supersedes           *supersedesXML `xml:"Supersedes,omitempty"`
}

type installerXML struct {
	Technology       string        `xml:"Technology,attr"`
	ExecutionContext string        `xml:"ExecutionContext"`
	Contents         []contentXML  `xml:"Contents>Content"`
	DetectAction     actionXML     `xml:"DetectAction"`
	InstallAction    actionXML     `xml:"InstallAction"`
	UninstallAction  *actionXML    `xml:"UninstallAction,omitempty"`
	CustomData       customDataXML `xml:"CustomData"`
}

type contentXML struct {
	ContentID     string    `xml:"ContentId,attr"`
	Version       string    `xml:"Version,attr,omitempty"`
	Files         []fileXML `xml:"File"`
	Location      string    `xml:"Location"`
	PeerCache     bool      `xml:"PeerCache"`
	OnFastNetwork string    `xml:"OnFastNetwork"`
	OnSlowNetwork string    `xml:"OnSlowNetwork"`
}

type fileXML struct {
	Name string `xml:"Name,attr"`
	Size int64  `xml:"Size,attr"`
}

type actionXML struct {
	Provider string   `xml:"Provider"`
	Args     []argXML `xml:"Args>Arg"`
}

type argXML struct {
	Name  string   `xml:"Name,attr"`
	Type  string   `xml:"Type,attr"`
	Value string   `xml:",chardata"`
	Items []string `xml:"Item,omitempty"`
}

type customDataXML struct {
	DetectionMethod         string        `xml:"DetectionMethod"`
	EnhancedDetectionMethod *edmXML       `xml:"EnhancedDetectionMethod,omitempty"`
	InstallCommandLine      string        `xml:"InstallCommandLine"`
	UninstallSetting        string        `xml:"UninstallSetting"`
	InstallFolder           string        `xml:"InstallFolder"`
	UninstallCommandLine    string        `xml:"UninstallCommandLine"`
	UninstallFolder         string        `xml:"UninstallFolder"`
	MaxExecuteTime          int           `xml:"MaxExecuteTime"`
	ExitCodes               []exitCodeXML `xml:"ExitCodes>ExitCode"`
	UserInteractionMode     string        `xml:"UserInteractionMode"`
	AllowUninstall          bool          `xml:"AllowUninstall"`
}

type exitCodeXML struct {
	Code  int    `xml:"Code,attr"`
	Class string `xml:"Class,attr"`
}

// edmXML is an EnhancedDetectionMethod: one setting and the rule over it.
type edmXML struct {
	XMLName  xml.Name `xml:"http://schemas.microsoft.com/SystemCenterConfigurationManager/2009/AppMgmtDigest EnhancedDetectionMethod"`
	Settings struct {
		MSI           *msiSettingXML    `xml:"http://schemas.microsoft.com/SystemsCenterConfigurationManager/2009/07/10/DesiredConfiguration MSI,omitempty"`
		SimpleSetting *simpleSettingXML `xml:"http://schemas.microsoft.com/SystemsCenterConfigurationManager/2009/07/10/DesiredConfiguration SimpleSetting,omitempty"`
		File          *fileSettingXML   `xml:"http://schemas.microsoft.com/SystemsCenterConfigurationManager/2009/07/10/DesiredConfiguration File,omitempty"`
	} `xml:"http://schemas.microsoft.com/SystemCenterConfigurationManager/2009/AppMgmtDigest Settings"`
	Rule ruleXML `xml:"http://schemas.microsoft.com/SystemsCenterConfigurationManager/2009/06/14/Rules Rule"`
}

type annotationXML struct {
	DisplayName struct {
		Text string `xml:"Text,attr"`
	} `xml:"DisplayName"`
	Description struct {
		Text string `xml:"Text,attr"`
	} `xml:"Description"`
}

type msiSettingXML struct {
	AuthoringScopeID string        `xml:"AuthoringScopeId,attr"`
	LogicalName      string        `xml:"LogicalName,attr"`
	Version          string        `xml:"Version,attr,omitempty"`
	Annotation       annotationXML `xml:"http://schemas.microsoft.com/SystemsCenterConfigurationManager/2009/06/14/Rules Annotation"`
	ProductCode      string        `xml:"ProductCode"`
}

type simpleSettingXML struct {
	LogicalName string        `xml:"LogicalName,attr"`
	DataType    string        `xml:"DataType,attr"`
	Annotation  annotationXML `xml:"http://schemas.microsoft.com/SystemsCenterConfigurationManager/2009/06/14/Rules Annotation"`
	Registry    struct {
		Hive              string `xml:"Hive,attr"`
		Depth             string `xml:"Depth,attr"`
		Is64Bit           bool   `xml:"Is64Bit,attr"`
		CreateMissingPath bool   `xml:"CreateMissingPath,attr"`
		Key               string `xml:"Key"`
		ValueName         string `xml:"ValueName"`
	} `xml:"RegistryDiscoverySource"`
}

type fileSettingXML struct {
	Is64Bit     bool          `xml:"Is64Bit,attr"`
	LogicalName string        `xml:"LogicalName,attr"`
	Annotation  annotationXML `xml:"http://schemas.microsoft.com/SystemsCenterConfigurationManager/2009/06/14/Rules Annotation"`
	Path        string        `xml:"Path"`
	Filter      string        `xml:"Filter"`
}

type ruleXML struct {
	ID                                string        `xml:"id,attr"`
	Severity                          string        `xml:"Severity,attr"`
	NonCompliantWhenSettingIsNotFound bool          `xml:"NonCompliantWhenSettingIsNotFound,attr"`
	Annotation                        annotationXML `xml:"Annotation"`
	Expression                        struct {
		Operator string `xml:"Operator"`
		Operands struct {
			SettingReference struct {
				AuthoringScopeID   string `xml:"AuthoringScopeId,attr"`
				LogicalName        string `xml:"LogicalName,attr"`
				Version            string `xml:"Version,attr,omitempty"`
				DataType           string `xml:"DataType,attr"`
				SettingLogicalName string `xml:"SettingLogicalName,attr"`
				SettingSourceType  string `xml:"SettingSourceType,attr"`
				Method             string `xml:"Method,attr"`
				PropertyPath       string `xml:"PropertyPath,attr,omitempty"`
				Changeable         bool   `xml:"Changeable,attr"`
			} `xml:"SettingReference"`
			ConstantValue struct {
				Value    string `xml:"Value,attr"`
				DataType string `xml:"DataType,attr"`
			} `xml:"ConstantValue"`
		} `xml:"Operands"`
	} `xml:"Expression"`
}

type supersedesXML struct {
	Rules []supersedenceRuleXML `xml:"http://schemas.microsoft.com/SystemsCenterConfigurationManager/2009/06/14/Rules DeploymentTypeRule"`
}

type supersedenceRuleXML struct {
	ID                                string        `xml:"Id,attr"`
	Severity                          string        `xml:"Severity,attr"`
	NonCompliantWhenSettingIsNotFound bool          `xml:"NonCompliantWhenSettingIsNotFound,attr"`
	Annotation                        annotationXML `xml:"Annotation"`
	Intent                            struct {
		DesiredState string `xml:"DesiredState,attr"`
		Reference    struct {
			Application    refXML `xml:"ApplicationReference"`
			DeploymentType refXML `xml:"DeploymentTypeReference"`
		} `xml:"DeploymentTypeApplicabilityReference"`
	} `xml:"DeploymentTypeIntentExpression"`
}

type refXML struct {
	AuthoringScopeID string `xml:"AuthoringScopeId,attr"`
	LogicalName      string `xml:"LogicalName,attr"`
	Version          string `xml:"Version,attr,omitempty"`
	Changeable       bool   `xml:"Changeable,attr"`
}

// Package is what EUCORA reads back from an application's SDMPackageXML:
// the facts a new revision would change. Two packages with equal Specs
// need no revision.
type Package struct {
	AuthoringScopeID string
	LogicalName      string // Application_<GUID>
	Version          string // the revision the XML says
	Title            string
	Description      string // the administrator comment (carries the correlation marker)
	Spec             Spec
	// Supersedes are the supersedence rules' references in full.
	Supersedes []Superseded
}

// Superseded is a deployment type an application supersedes, with its
// application and that application's revision.
type Superseded struct {
	Application    string // Application_<GUID>
	Version        string
	DeploymentType string // DeploymentType_<GUID>
}

// Spec is the part of an application that decides what devices do.
type Spec struct {
	Publisher        string
	SoftwareVersion  string
	DeploymentType   string // LogicalName of the deployment type
	InstallCommand   string
	UninstallCommand string
	ExecutionContext string // System or User
	PostInstall      string
	MaxExecuteTime   int
	ExitCodes        string // "0:Success,3010:SoftReboot,..."
	Detection        string // one line: "msi {code} version", "registry HIVE\key value", "file path name"
	ContentLocation  string
	Files            string // "name:size,..."
	// Supersedes lists the LogicalNames of the deployment types this one
	// supersedes, sorted.
	Supersedes []string
}

// Equal reports whether s and o make devices do the same.
func (s Spec) Equal(o Spec) bool {
	return reflect.DeepEqual(s.comparable(), o.comparable())
}

func (s Spec) comparable() Spec {
	if len(s.Supersedes) == 0 {
		s.Supersedes = nil
	}
	return s
}

// ParseSDMPackageXML reads an SDMPackageXML as the site returns it (a
// UTF-16 declaration over text that JSON already decoded). It fails on
// anything that is not an AppMgmtDigest with one application and its
// deployment type.
func ParseSDMPackageXML(s string) (Package, error) {
	var d digestXML
	if err := decodeXML(s, &d); err != nil {
		return Package{}, fmt.Errorf("SDMPackageXML: %w", err)
	}
	a := d.Application
	if a.LogicalName == "" || a.AuthoringScopeID == "" {
		return Package{}, errors.New("SDMPackageXML: the Application has no LogicalName or AuthoringScopeId")
	}
	p := Package{AuthoringScopeID: a.AuthoringScopeID, LogicalName: a.LogicalName, Version: a.Version,
		Title: strings.TrimSpace(a.Title.Text), Description: a.Description.Text}
	p.Spec.Publisher = strings.TrimSpace(a.Publisher.Text)
	p.Spec.SoftwareVersion = strings.TrimSpace(a.SoftwareVersion.Text)
	if p.Title == "" {
		for _, in := range a.DisplayInfo.Info {
			if t := strings.TrimSpace(in.Title); t != "" {
				p.Title = t
				break
			}
		}
	}
	if len(a.DeploymentTypeRefs) != 1 || len(d.DeploymentTypes) != 1 {
		return Package{}, fmt.Errorf("SDMPackageXML: %d deployment type references and %d deployment types, want one of each", len(a.DeploymentTypeRefs), len(d.DeploymentTypes))
	}
	dt := d.DeploymentTypes[0]
	if dt.LogicalName != a.DeploymentTypeRefs[0].LogicalName {
		return Package{}, fmt.Errorf("SDMPackageXML: the application references deployment type %q but holds %q", a.DeploymentTypeRefs[0].LogicalName, dt.LogicalName)
	}
	in := dt.Installer
	sp := &p.Spec
	sp.DeploymentType = dt.LogicalName
	sp.ExecutionContext = in.ExecutionContext
	sp.InstallCommand = argValue(in.InstallAction, "InstallCommandLine")
	if sp.InstallCommand == "" {
		sp.InstallCommand = strings.TrimSpace(in.CustomData.InstallCommandLine)
	}
	if sp.InstallCommand == "" {
		return Package{}, errors.New("SDMPackageXML: the deployment type has no install command line")
	}
	if in.UninstallAction != nil {
		sp.UninstallCommand = argValue(*in.UninstallAction, "InstallCommandLine")
	}
	if sp.UninstallCommand == "" {
		sp.UninstallCommand = strings.TrimSpace(in.CustomData.UninstallCommandLine)
	}
	sp.PostInstall = argValue(in.InstallAction, "PostInstallBehavior")
	sp.MaxExecuteTime = in.CustomData.MaxExecuteTime
	var codes []string
	for _, c := range in.CustomData.ExitCodes {
		codes = append(codes, strconv.Itoa(c.Code)+":"+c.Class)
	}
	sp.ExitCodes = strings.Join(codes, ",")
	edm := in.CustomData.EnhancedDetectionMethod
	if edm == nil {
		body := argValue(in.DetectAction, "MethodBody")
		if body == "" {
			return Package{}, errors.New("SDMPackageXML: the deployment type has no detection method")
		}
		edm = new(edmXML)
		if err := decodeXML(body, edm); err != nil {
			return Package{}, fmt.Errorf("SDMPackageXML: detection method: %w", err)
		}
	}
	det, err := detectionLine(edm)
	if err != nil {
		return Package{}, fmt.Errorf("SDMPackageXML: %w", err)
	}
	sp.Detection = det
	if len(in.Contents) > 0 {
		c := in.Contents[0]
		sp.ContentLocation = strings.TrimSpace(c.Location)
		var files []string
		for _, f := range c.Files {
			files = append(files, f.Name+":"+strconv.FormatInt(f.Size, 10))
		}
		sp.Files = strings.Join(files, ",")
	}
	if dt.Supersedes != nil {
		for _, r := range dt.Supersedes.Rules {
			ref := r.Intent.Reference
			if n := ref.DeploymentType.LogicalName; n != "" {
				sp.Supersedes = append(sp.Supersedes, n)
				p.Supersedes = append(p.Supersedes, Superseded{Application: ref.Application.LogicalName, Version: ref.Application.Version, DeploymentType: n})
			}
		}
		slices.Sort(sp.Supersedes)
		sp.Supersedes = slices.Compact(sp.Supersedes)
	}
	return p, nil
}

// decodeXML decodes s into v, taking a declared UTF-16 (or other)
// encoding for the text as it is: JSON has already decoded it.
func decodeXML(s string, v any) error {
	dec := xml.NewDecoder(strings.NewReader(s))
	dec.CharsetReader = func(label string, in io.Reader) (io.Reader, error) {
		switch strings.ToLower(label) {
		case "utf-16", "utf-16le", "utf-16be", "unicode", "utf-8", "us-ascii":
			return in, nil
		}
		return nil, fmt.Errorf("unsupported encoding %q", label)
	}
	if err := dec.Decode(v); err != nil {
		return err
	}
	// Nothing but white space, comments and processing instructions may
	// follow the root element.
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return errors.New("text after the root element")
			}
		case xml.Comment, xml.ProcInst:
		default:
			return errors.New("a second root element")
		}
	}
}

func argValue(a actionXML, name string) string {
	for _, arg := range a.Args {
		if arg.Name == name {
			return strings.TrimSpace(arg.Value)
		}
	}
	return ""
}

func detectionLine(e *edmXML) (string, error) {
	op := e.Rule.Expression.Operator
	c := e.Rule.Expression.Operands.ConstantValue
	switch s := e.Settings; {
	case s.MSI != nil:
		line := "msi " + strings.ToUpper(strings.TrimSpace(s.MSI.ProductCode))
		if e.Rule.Expression.Operands.SettingReference.PropertyPath == "ProductVersion" {
			line += " " + op + " " + c.Value
		}
		return line, nil
	case s.SimpleSetting != nil:
		r := s.SimpleSetting.Registry
		return "registry " + r.Hive + `\` + r.Key + " " + r.ValueName, nil
	case s.File != nil:
		return "file " + s.File.Path + " " + s.File.Filter, nil
	}
	return "", errors.New("the detection method holds no MSI, registry or file setting")
}

// buildInput is everything an application's XML is made from.
type buildInput struct {
	Scope   string // ScopeId_<site GUID>
	Key     connectors.ReleaseKey
	Release connectors.Release
	Marker  string // the administrator comment
	// ContentLocation is the UNC folder the site copies the content from.
	ContentLocation string
	// Supersedes are the deployment types (LogicalName and the
	// application's LogicalName and revision) the new one supersedes.
	Supersedes []Superseded
}

// BuildSDMPackageXML writes an application's AppMgmtDigest: the
// application, its script deployment type with install and uninstall
// commands, exit codes, the detection method of Release.Install.Detection,
// the content location, and the supersedence rules.
func buildSDMPackageXML(in buildInput) (string, Spec, error) {
	k, r := in.Key.AppKey(), in.Release
	ins := r.Install
	if strings.TrimSpace(ins.InstallCommand) == "" {
		return "", Spec{}, errors.New("the release has no install command")
	}
	edm, err := buildDetection(in.Scope, k, ins.Detection)
	if err != nil {
		return "", Spec{}, err
	}
	ctx := "User"
	if ins.RunAsSystem {
		ctx = "System"
	}
	post := map[string]string{"": "BasedOnExitCode", "basedOnReturnCode": "BasedOnExitCode", "allow": "ProgramReboot",
		"suppress": "NoAction", "force": "ForceReboot"}[ins.RebootBehavior]
	if post == "" {
		return "", Spec{}, fmt.Errorf("reboot behavior %q: want basedOnReturnCode, allow, suppress or force", ins.RebootBehavior)
	}
	maxMin := int(ins.MaxRunTime.Minutes())
	if maxMin <= 0 {
		maxMin = 120
	}
	codes, err := exitCodes(ins.ReturnCodes)
	if err != nil {
		return "", Spec{}, err
	}
	dtName := dtLogicalName(k)
	title := appDisplayName(k)
	display := r.DisplayName
	if display == "" {
		display = r.Key.App
	}

	var d digestXML
	a := &d.Application
	a.ciRef = ciRef{AuthoringScopeID: in.Scope, LogicalName: appLogicalName(k), Version: "1"}
	a.DisplayInfo.DefaultLanguage = "en-US"
	a.DisplayInfo.Info = []infoXML{{Language: "en-US", Title: title, Publisher: r.Publisher, Version: k.Version,
		Description: display + " " + k.Version + " (published by EUCORA)"}}
	a.DeploymentTypeRefs = []ciRef{{AuthoringScopeID: in.Scope, LogicalName: dtName, Version: "1"}}
	a.Title = resText{ResourceID: resourceID(k, "title"), Text: title}
	a.Description = resText{ResourceID: resourceID(k, "description"), Text: in.Marker}
	a.Publisher = resText{ResourceID: resourceID(k, "publisher"), Text: r.Publisher}
	a.SoftwareVersion = resText{ResourceID: resourceID(k, "version"), Text: k.Version}
	a.CustomID = resText{ResourceID: resourceID(k, "customid"), Text: k.AppKey().String()}

	dt := deploymentTypeXML{ciRef: ciRef{AuthoringScopeID: in.Scope, LogicalName: dtName, Version: "1"},
		Title:                resText{ResourceID: resourceID(k, "dt-title"), Text: title + " script"},
		Description:          resText{ResourceID: resourceID(k, "dt-description")},
		DeploymentTechnology: "GLOBAL/ScriptDeploymentTechnology", Technology: "Script", Hosting: "Native"}
	dt.Installer.Technology = "Script"
	dt.Installer.ExecutionContext = ctx
	dt.Installer.Contents = []contentXML{{ContentID: "Content_" + subUUID(appUUID(k), "content"), Version: "1",
		Files:    []fileXML{{Name: r.Content.Name, Size: r.Content.Size}},
		Location: in.ContentLocation, PeerCache: true, OnFastNetwork: "Download", OnSlowNetwork: "Download"}}
	body, err := marshalXML(edm)
	if err != nil {
		return "", Spec{}, err
	}
	dt.Installer.DetectAction = actionXML{Provider: "Local", Args: []argXML{
		{Name: "ExecutionContext", Type: "String", Value: ctx},
		{Name: "MethodBody", Type: "String", Value: xmlHeader + body}}}
	dt.Installer.InstallAction = actionXML{Provider: "Script", Args: scriptArgs(ins.InstallCommand, ctx, post, maxMin, codes)}
	if ins.UninstallCommand != "" {
		dt.Installer.UninstallAction = &actionXML{Provider: "Script", Args: scriptArgs(ins.UninstallCommand, ctx, post, maxMin, codes)}
	}
	cd := &dt.Installer.CustomData
	cd.DetectionMethod = "Enhanced"
	cd.EnhancedDetectionMethod = edm
	cd.InstallCommandLine = ins.InstallCommand
	cd.UninstallSetting = "SameAsInstall"
	cd.UninstallCommandLine = ins.UninstallCommand
	cd.MaxExecuteTime = maxMin
	cd.ExitCodes = codes
	cd.UserInteractionMode = "Hidden"
	cd.AllowUninstall = ins.UninstallCommand != ""
	if len(in.Supersedes) > 0 {
		dt.Supersedes = &supersedesXML{}
		for _, s := range in.Supersedes {
			var rule supersedenceRuleXML
			rule.ID = "SupersedenceRule_" + subUUID(appUUID(k), "supersedes/"+s.DeploymentType)
			rule.Severity = "Critical"
			rule.Intent.DesiredState = "Prohibited"
			rule.Intent.Reference.Application = refXML{AuthoringScopeID: in.Scope, LogicalName: s.Application, Version: s.Version, Changeable: true}
			rule.Intent.Reference.DeploymentType = refXML{AuthoringScopeID: in.Scope, LogicalName: s.DeploymentType, Version: s.Version, Changeable: true}
			dt.Supersedes.Rules = append(dt.Supersedes.Rules, rule)
		}
	}
	d.DeploymentTypes = []deploymentTypeXML{dt}
	out, err := marshalXML(&d)
	if err != nil {
		return "", Spec{}, err
	}
	s := xmlHeader + out
	p, err := ParseSDMPackageXML(s)
	if err != nil { // a bug here, not bad input
		return "", Spec{}, fmt.Errorf("the built package does not read back: %w", err)
	}
	return s, p.Spec, nil
}

func marshalXML(v any) (string, error) {
	var b strings.Builder
	enc := xml.NewEncoder(&b)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return b.String(), enc.Close()
}

func scriptArgs(cmd, ctx, post string, maxMin int, codes []exitCodeXML) []argXML {
	byClass := map[string][]string{}
	for _, c := range codes {
		byClass[c.Class] = append(byClass[c.Class], strconv.Itoa(c.Code))
	}
	return []argXML{
		{Name: "InstallCommandLine", Type: "String", Value: cmd},
		{Name: "WorkingDirectory", Type: "String"},
		{Name: "ExecutionContext", Type: "String", Value: ctx},
		{Name: "RequiresLogOn", Type: "String"},
		{Name: "RequiresElevatedRights", Type: "Boolean", Value: "false"},
		{Name: "RequiresUserInteraction", Type: "Boolean", Value: "false"},
		{Name: "RequiresReboot", Type: "Boolean", Value: "false"},
		{Name: "UserInteractionMode", Type: "String", Value: "Hidden"},
		{Name: "PostInstallBehavior", Type: "String", Value: post},
		{Name: "ExecuteTime", Type: "Int32", Value: "0"},
		{Name: "MaxExecuteTime", Type: "Int32", Value: strconv.Itoa(maxMin)},
		{Name: "RunAs32Bit", Type: "Boolean", Value: "false"},
		{Name: "SuccessExitCodes", Type: "Int32[]", Items: byClass["Success"]},
		{Name: "RebootExitCodes", Type: "Int32[]", Items: byClass["SoftReboot"]},
		{Name: "HardRebootExitCodes", Type: "Int32[]", Items: byClass["HardReboot"]},
		{Name: "FastRetryExitCodes", Type: "Int32[]", Items: byClass["FastRetry"]},
	}
}

// exitCodes maps Release return codes onto the deployment type's exit
// code classes; no codes give the site's defaults.
func exitCodes(rcs []connectors.ReturnCode) ([]exitCodeXML, error) {
	if len(rcs) == 0 {
		return []exitCodeXML{{0, "Success"}, {1707, "Success"}, {3010, "SoftReboot"}, {1641, "HardReboot"}, {1618, "FastRetry"}}, nil
	}
	var out []exitCodeXML
	for _, rc := range rcs {
		class := map[string]string{"success": "Success", "softReboot": "SoftReboot", "hardReboot": "HardReboot",
			"retry": "FastRetry", "failed": "Failure"}[rc.Type]
		if class == "" {
			return nil, fmt.Errorf("return code %d: type %q: want success, softReboot, hardReboot, retry or failed", rc.Code, rc.Type)
		}
		out = append(out, exitCodeXML{Code: rc.Code, Class: class})
	}
	return out, nil
}

// productCodePattern is an MSI product code.
var productCodePattern = regexp.MustCompile(`^\{[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}\}$`)

var hives = map[string]string{
	"HKLM": "HKEY_LOCAL_MACHINE", "HKEY_LOCAL_MACHINE": "HKEY_LOCAL_MACHINE",
	"HKCU": "HKEY_CURRENT_USER", "HKEY_CURRENT_USER": "HKEY_CURRENT_USER",
	"HKCR": "HKEY_CLASSES_ROOT", "HKEY_CLASSES_ROOT": "HKEY_CLASSES_ROOT",
	"HKU": "HKEY_USERS", "HKEY_USERS": "HKEY_USERS",
}

// buildDetection makes the enhanced detection method of d: an MSI product
// code (with its version, if given), a registry value, or a file; the
// first one set is used, as connectors.Detection says.
func buildDetection(scope string, k connectors.ReleaseKey, d connectors.Detection) (*edmXML, error) {
	e := &edmXML{}
	dtName := dtLogicalName(k)
	ref := &e.Rule.Expression.Operands.SettingReference
	ref.AuthoringScopeID, ref.LogicalName, ref.Version = scope, appLogicalName(k), "1"
	e.Rule.ID = scope + "/" + dtName
	e.Rule.Severity = "Informational"
	cst := &e.Rule.Expression.Operands.ConstantValue
	switch {
	case d.ProductCode != "":
		code := strings.ToUpper(strings.TrimSpace(d.ProductCode))
		if !productCodePattern.MatchString(code) {
			return nil, fmt.Errorf("detection: product code %q: want a GUID in braces", d.ProductCode)
		}
		name := "MSI_" + subUUID(appUUID(k), "detection")
		e.Settings.MSI = &msiSettingXML{AuthoringScopeID: scope, LogicalName: name, Version: "1", ProductCode: code}
		ref.SettingLogicalName, ref.SettingSourceType = name, "MSI"
		if d.ProductVersion != "" {
			ref.DataType, ref.Method, ref.PropertyPath = "Version", "Value", "ProductVersion"
			e.Rule.Expression.Operator = "GreaterEquals"
			cst.Value, cst.DataType = d.ProductVersion, "Version"
		} else {
			ref.DataType, ref.Method = "Int64", "Count"
			e.Rule.Expression.Operator = "NotEquals"
			cst.Value, cst.DataType = "0", "Int64"
		}
	case d.RegistryKey != "":
		hive, key, ok := strings.Cut(strings.TrimSpace(d.RegistryKey), `\`)
		full := hives[strings.ToUpper(hive)]
		if !ok || full == "" || key == "" {
			return nil, fmt.Errorf(`detection: registry key %q: want HIVE\path (HKLM, HKCU, HKCR or HKU)`, d.RegistryKey)
		}
		name := "RegSetting_" + subUUID(appUUID(k), "detection")
		s := &simpleSettingXML{LogicalName: name, DataType: "String"}
		s.Registry.Hive, s.Registry.Depth, s.Registry.Is64Bit, s.Registry.CreateMissingPath = full, "Base", true, true
		s.Registry.Key, s.Registry.ValueName = key, d.RegistryValue
		e.Settings.SimpleSetting = s
		ref.SettingLogicalName, ref.SettingSourceType, ref.DataType, ref.Method = name, "Registry", "Boolean", "Count"
		e.Rule.Expression.Operator = "NotEquals"
		cst.Value, cst.DataType = "0", "Int64"
	case d.FilePath != "" || d.FileName != "":
		if d.FilePath == "" || d.FileName == "" {
			return nil, errors.New("detection: a file detection needs both a path and a file name")
		}
		name := "File_" + subUUID(appUUID(k), "detection")
		e.Settings.File = &fileSettingXML{Is64Bit: true, LogicalName: name, Path: d.FilePath, Filter: d.FileName}
		ref.SettingLogicalName, ref.SettingSourceType, ref.DataType, ref.Method = name, "File", "Int64", "Count"
		e.Rule.Expression.Operator = "NotEquals"
		cst.Value, cst.DataType = "0", "Int64"
	default:
		return nil, errors.New("detection: a ConfigMgr deployment type needs an MSI product code, a registry key or a file (bundle ids and package names are for other planes)")
	}
	return e, nil
}
