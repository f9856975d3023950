package sccmsim

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
)

const nsDigest = "http://schemas.microsoft.com/SystemCenterConfigurationManager/2009/AppMgmtDigest"

// The simulator reads an SDMPackageXML on its own terms (by local names,
// as the site's serializer is lenient about prefixes), so that a
// connector's mistakes are not mirrored by a shared parser.
type sdmDoc struct {
	XMLName     xml.Name
	Application struct {
		Scope       string `xml:"AuthoringScopeId,attr"`
		LogicalName string `xml:"LogicalName,attr"`
		DisplayInfo struct {
			Info []struct {
				Language string `xml:"Language,attr"`
				Title    string `xml:"Title"`
			} `xml:"Info"`
		} `xml:"DisplayInfo"`
		DTRefs []struct {
			Scope       string `xml:"AuthoringScopeId,attr"`
			LogicalName string `xml:"LogicalName,attr"`
		} `xml:"DeploymentTypes>DeploymentType"`
		Title           string `xml:"Title"`
		Description     string `xml:"Description"`
		Publisher       string `xml:"Publisher"`
		SoftwareVersion string `xml:"SoftwareVersion"`
	} `xml:"Application"`
	DeploymentTypes []struct {
		Scope       string `xml:"AuthoringScopeId,attr"`
		LogicalName string `xml:"LogicalName,attr"`
		Title       string `xml:"Title"`
		Technology  string `xml:"Technology"`
		Installer   struct {
			Contents []struct {
				Location string `xml:"Location"`
				Files    []struct {
					Name string `xml:"Name,attr"`
				} `xml:"File"`
			} `xml:"Contents>Content"`
			DetectAction    *sdmAction `xml:"DetectAction"`
			InstallAction   *sdmAction `xml:"InstallAction"`
			UninstallAction *sdmAction `xml:"UninstallAction"`
			CustomData      struct {
				DetectionMethod         string `xml:"DetectionMethod"`
				EnhancedDetectionMethod *struct {
					Settings struct {
						Any []struct {
							XMLName xml.Name
						} `xml:",any"`
					} `xml:"Settings"`
					Rule *struct {
						Expression *struct {
							Operator string `xml:"Operator"`
						} `xml:"Expression"`
					} `xml:"Rule"`
				} `xml:"EnhancedDetectionMethod"`
				InstallCommandLine   string `xml:"InstallCommandLine"`
				UninstallCommandLine string `xml:"UninstallCommandLine"`
			} `xml:"CustomData"`
		} `xml:"Installer"`
		Supersedes *struct {
			Rules []struct {
				Ref struct {
					App struct {
						LogicalName string `xml:"LogicalName,attr"`
					} `xml:"ApplicationReference"`
					DT struct {
						LogicalName string `xml:"LogicalName,attr"`
					} `xml:"DeploymentTypeReference"`
				} `xml:"DeploymentTypeIntentExpression>DeploymentTypeApplicabilityReference"`
			} `xml:"DeploymentTypeRule"`
		} `xml:"Supersedes"`
	} `xml:"DeploymentType"`
}

type sdmAction struct {
	Provider string `xml:"Provider"`
	Args     []struct {
		Name  string `xml:"Name,attr"`
		Value string `xml:",chardata"`
	} `xml:"Args>Arg"`
}

func (a *sdmAction) arg(name string) string {
	if a == nil {
		return ""
	}
	for _, x := range a.Args {
		if x.Name == name {
			return strings.TrimSpace(x.Value)
		}
	}
	return ""
}

// sdmInfo is what the site keeps of a valid SDMPackageXML.
type sdmInfo struct {
	Scope, LogicalName  string
	Title, Description  string
	Publisher, Version  string
	DeploymentType      string
	Uninstall           bool
	ContentLocation     string
	SupersedesDTs       []string
	SupersedesApps      []string
	NumDeploymentTypes  int
	DetectionSettingXML string
}

var (
	appNamePattern = regexp.MustCompile(`^Application_[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	dtNamePattern  = regexp.MustCompile(`^DeploymentType_[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
)

// validateSDM checks an SDMPackageXML is a well-formed AppMgmtDigest of
// the site's authoring scope with what an application needs: a title, a
// deployment type the application references, an install command, a
// detection method and a content location.
func validateSDM(s, scope string) (sdmInfo, error) {
	var d sdmDoc
	if err := decodeXML(s, &d); err != nil {
		return sdmInfo{}, fmt.Errorf("the XML is not well formed: %v", err)
	}
	if d.XMLName.Local != "AppMgmtDigest" || d.XMLName.Space != nsDigest {
		return sdmInfo{}, fmt.Errorf("the root element is {%s}%s, want {%s}AppMgmtDigest", d.XMLName.Space, d.XMLName.Local, nsDigest)
	}
	a := d.Application
	if a.Scope != scope {
		return sdmInfo{}, fmt.Errorf("the application's AuthoringScopeId %q is not this site's %q", a.Scope, scope)
	}
	if !appNamePattern.MatchString(a.LogicalName) {
		return sdmInfo{}, fmt.Errorf("the application's LogicalName %q is not Application_<GUID>", a.LogicalName)
	}
	info := sdmInfo{Scope: a.Scope, LogicalName: a.LogicalName, Title: strings.TrimSpace(a.Title),
		Description: a.Description, Publisher: strings.TrimSpace(a.Publisher), Version: strings.TrimSpace(a.SoftwareVersion)}
	for _, in := range a.DisplayInfo.Info {
		if info.Title == "" {
			info.Title = strings.TrimSpace(in.Title)
		}
	}
	if info.Title == "" {
		return sdmInfo{}, errors.New("the application has no title")
	}
	if len(a.DTRefs) == 0 || len(d.DeploymentTypes) == 0 {
		return sdmInfo{}, errors.New("the application has no deployment type")
	}
	info.NumDeploymentTypes = len(d.DeploymentTypes)
	for _, ref := range a.DTRefs {
		found := false
		for _, dt := range d.DeploymentTypes {
			found = found || (dt.LogicalName == ref.LogicalName && dt.Scope == ref.Scope)
		}
		if !found {
			return sdmInfo{}, fmt.Errorf("the application references deployment type %s/%s, which the package does not hold", ref.Scope, ref.LogicalName)
		}
	}
	for i, dt := range d.DeploymentTypes {
		where := fmt.Sprintf("deployment type %d (%s)", i+1, dt.LogicalName)
		switch {
		case dt.Scope != scope:
			return sdmInfo{}, fmt.Errorf("%s: AuthoringScopeId %q is not this site's", where, dt.Scope)
		case !dtNamePattern.MatchString(dt.LogicalName):
			return sdmInfo{}, fmt.Errorf("%s: the LogicalName is not DeploymentType_<GUID>", where)
		case strings.TrimSpace(dt.Title) == "":
			return sdmInfo{}, fmt.Errorf("%s: no title", where)
		case dt.Technology == "":
			return sdmInfo{}, fmt.Errorf("%s: no technology", where)
		}
		in := dt.Installer
		cmd := in.InstallAction.arg("InstallCommandLine")
		if cmd == "" {
			cmd = strings.TrimSpace(in.CustomData.InstallCommandLine)
		}
		if cmd == "" {
			return sdmInfo{}, fmt.Errorf("%s: no install command line", where)
		}
		edm := in.CustomData.EnhancedDetectionMethod
		if in.DetectAction == nil || (edm == nil && in.DetectAction.arg("MethodBody") == "" && in.DetectAction.arg("ProductCode") == "") {
			return sdmInfo{}, fmt.Errorf("%s: no detection method", where)
		}
		if edm != nil && (len(edm.Settings.Any) == 0 || edm.Rule == nil || edm.Rule.Expression == nil || edm.Rule.Expression.Operator == "") {
			return sdmInfo{}, fmt.Errorf("%s: the enhanced detection method needs a setting and a rule with an expression", where)
		}
		if len(in.Contents) == 0 || !strings.HasPrefix(strings.TrimSpace(in.Contents[0].Location), `\\`) {
			return sdmInfo{}, fmt.Errorf(`%s: the content location must be a UNC folder (\\server\share\...)`, where)
		}
		if i == 0 {
			info.DeploymentType = dt.LogicalName
			info.ContentLocation = strings.TrimSpace(in.Contents[0].Location)
			info.Uninstall = in.UninstallAction.arg("InstallCommandLine") != "" || strings.TrimSpace(in.CustomData.UninstallCommandLine) != ""
		}
		if dt.Supersedes != nil {
			for _, r := range dt.Supersedes.Rules {
				if r.Ref.DT.LogicalName == "" {
					return sdmInfo{}, fmt.Errorf("%s: a supersedence rule names no deployment type", where)
				}
				if r.Ref.DT.LogicalName == dt.LogicalName {
					return sdmInfo{}, fmt.Errorf("%s: it supersedes itself", where)
				}
				info.SupersedesDTs = append(info.SupersedesDTs, r.Ref.DT.LogicalName)
				info.SupersedesApps = append(info.SupersedesApps, r.Ref.App.LogicalName)
			}
		}
	}
	return info, nil
}

func decodeXML(s string, v any) error {
	dec := xml.NewDecoder(strings.NewReader(s))
	dec.CharsetReader = func(label string, in io.Reader) (io.Reader, error) {
		switch strings.ToLower(label) {
		case "utf-16", "utf-8", "unicode":
			return in, nil
		}
		return nil, fmt.Errorf("unsupported encoding %q", label)
	}
	if err := dec.Decode(v); err != nil {
		return err
	}
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
