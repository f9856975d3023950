package intunesim

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// The schema of the entities the simulator accepts, from the Graph
// reference of mobileApp, mobileLobApp and their derived types (v1.0 and
// beta), mobileAppContentFile, mobileAppAssignment and the relationship
// types. A body with an unknown property, a wrong JSON type, a value
// outside an enum or a missing required property is refused with 400, as
// Graph refuses it.

type kind int

const (
	kString kind = iota + 1
	kBool
	kInt
	kDate
	kObject
	kArray
	kAny
)

func (k kind) edm() string {
	switch k {
	case kString:
		return "Edm.String"
	case kBool:
		return "Edm.Boolean"
	case kInt:
		return "Edm.Int64"
	case kDate:
		return "Edm.DateTimeOffset"
	case kObject:
		return "a complex type"
	case kArray:
		return "a collection"
	}
	return "any"
}

type prop struct {
	kind  kind
	enum  []string // allowed values of a string
	flags bool     // the value is a comma-separated list of enum members
	obj   *schema  // an object of one type
	poly  map[string]*schema
	elem  *prop // the element of an array
	beta  bool  // only beta has it
	// readOnly properties are accepted and ignored on write.
	readOnly bool
}

type schema struct {
	name     string // the type name without "#microsoft.graph."
	props    map[string]prop
	required []string
}

var (
	str      = prop{kind: kString}
	boolean  = prop{kind: kBool}
	integer  = prop{kind: kInt}
	date     = prop{kind: kDate}
	anything = prop{kind: kAny}
)

func enum(vals ...string) prop  { return prop{kind: kString, enum: vals} }
func flags(vals ...string) prop { return prop{kind: kString, enum: vals, flags: true} }
func ro(p prop) prop            { p.readOnly = true; return p }
func betaOnly(p prop) prop      { p.beta = true; return p }
func object(s *schema) prop     { return prop{kind: kObject, obj: s} }
func arrayOf(p prop) prop       { return prop{kind: kArray, elem: &p} }
func oneOf(ss ...*schema) prop {
	m := map[string]*schema{}
	for _, s := range ss {
		m["#microsoft.graph."+s.name] = s
	}
	return prop{kind: kObject, poly: m}
}

func merge(name string, required []string, parts ...map[string]prop) *schema {
	s := &schema{name: name, props: map[string]prop{}, required: required}
	for _, p := range parts {
		for k, v := range p {
			s.props[k] = v
		}
	}
	s.props["@odata.type"] = str
	return s
}

var (
	operators        = []string{"notConfigured", "equal", "notEqual", "greaterThan", "greaterThanOrEqual", "lessThan", "lessThanOrEqual"}
	registryOps      = []string{"notConfigured", "exists", "doesNotExist", "string", "integer", "version"}
	fileOps          = []string{"notConfigured", "exists", "modifiedDate", "createdDate", "version", "sizeInMB", "doesNotExist", "sizeInBytes", "appVersion"}
	scriptOps        = []string{"notConfigured", "string", "dateTime", "integer", "float", "version", "boolean"}
	ruleType         = enum("detection", "requirement")
	architectures    = []string{"none", "x86", "x64", "arm", "neutral", "arm64"}
	runAs            = enum("system", "user")
	publishingStates = []string{"notPublished", "processing", "published"}
)

// v1.0 rules (also in beta).
var (
	productCodeRule = merge("win32LobAppProductCodeRule", []string{"ruleType", "productCode"}, map[string]prop{
		"ruleType": ruleType, "productCode": str, "productVersionOperator": enum(operators...), "productVersion": str,
	})
	registryRule = merge("win32LobAppRegistryRule", []string{"ruleType", "keyPath", "operationType"}, map[string]prop{
		"ruleType": ruleType, "check32BitOn64System": boolean, "keyPath": str, "valueName": str,
		"operationType": enum(registryOps...), "operator": enum(operators...), "comparisonValue": str,
	})
	fileSystemRule = merge("win32LobAppFileSystemRule", []string{"ruleType", "path", "fileOrFolderName", "operationType"}, map[string]prop{
		"ruleType": ruleType, "path": str, "fileOrFolderName": str, "check32BitOn64System": boolean,
		"operationType": enum(fileOps...), "operator": enum(operators...), "comparisonValue": str,
	})
	scriptRule = merge("win32LobAppPowerShellScriptRule", []string{"ruleType", "scriptContent"}, map[string]prop{
		"ruleType": ruleType, "displayName": str, "enforceSignatureCheck": boolean, "runAs32Bit": boolean, "runAsAccount": runAs,
		"scriptContent": str, "operationType": enum(scriptOps...), "operator": enum(operators...), "comparisonValue": str,
	})
)

// beta detection and requirement rules.
var (
	productCodeDetection = merge("win32LobAppProductCodeDetection", []string{"productCode"}, map[string]prop{
		"productCode": str, "productVersionOperator": enum(operators...), "productVersion": str,
	})
	registryDetection = merge("win32LobAppRegistryDetection", []string{"keyPath", "detectionType"}, map[string]prop{
		"check32BitOn64System": boolean, "keyPath": str, "valueName": str, "detectionType": enum(registryOps...), "operator": enum(operators...), "detectionValue": str,
	})
	fileSystemDetection = merge("win32LobAppFileSystemDetection", []string{"path", "fileOrFolderName", "detectionType"}, map[string]prop{
		"path": str, "fileOrFolderName": str, "check32BitOn64System": boolean, "detectionType": enum(fileOps...), "operator": enum(operators...), "detectionValue": str,
	})
	scriptDetection = merge("win32LobAppPowerShellScriptDetection", []string{"scriptContent"}, map[string]prop{
		"enforceSignatureCheck": boolean, "runAs32Bit": boolean, "scriptContent": str,
	})
	registryRequirement = merge("win32LobAppRegistryRequirement", []string{"keyPath", "detectionType"}, map[string]prop{
		"operator": enum(operators...), "detectionValue": str, "check32BitOn64System": boolean, "keyPath": str, "valueName": str, "detectionType": enum(registryOps...),
	})
	fileSystemRequirement = merge("win32LobAppFileSystemRequirement", []string{"path", "fileOrFolderName", "detectionType"}, map[string]prop{
		"operator": enum(operators...), "detectionValue": str, "path": str, "fileOrFolderName": str, "check32BitOn64System": boolean, "detectionType": enum(fileOps...),
	})
	scriptRequirement = merge("win32LobAppPowerShellScriptRequirement", []string{"scriptContent", "detectionType"}, map[string]prop{
		"operator": enum(operators...), "detectionValue": str, "displayName": str, "enforceSignatureCheck": boolean, "runAs32Bit": boolean,
		"runAsAccount": runAs, "scriptContent": str, "detectionType": enum(scriptOps...),
	})
)

var (
	mimeContent    = merge("mimeContent", nil, map[string]prop{"type": str, "value": str})
	returnCode     = merge("win32LobAppReturnCode", []string{"returnCode", "type"}, map[string]prop{"returnCode": integer, "type": enum("failed", "success", "softReboot", "hardReboot", "retry")})
	installExp     = merge("win32LobAppInstallExperience", []string{"runAsAccount"}, map[string]prop{"runAsAccount": runAs, "deviceRestartBehavior": enum("basedOnReturnCode", "allow", "suppress", "force"), "maxRunTimeInMinutes": integer})
	msiInformation = merge("win32LobAppMsiInformation", nil, map[string]prop{
		"productCode": str, "productVersion": str, "upgradeCode": str, "requiresReboot": boolean,
		"packageType": enum("perMachine", "perUser", "dualPurpose"), "productName": str, "publisher": str,
	})
	windowsMinimum = merge("windowsMinimumOperatingSystem", nil, boolFields("v8_0", "v8_1", "v10_0", "v10_1607", "v10_1703", "v10_1709", "v10_1803", "v10_1809", "v10_1903", "v10_1909", "v10_2004", "v10_2H20", "v10_21H1"))
	macOSMinimum   = merge("macOSMinimumOperatingSystem", nil, boolFields("v10_7", "v10_8", "v10_9", "v10_10", "v10_11", "v10_12", "v10_13", "v10_14", "v10_15", "v11_0", "v12_0", "v13_0", "v14_0", "v15_0"))
	iosMinimum     = merge("iosMinimumOperatingSystem", nil, boolFields("v8_0", "v9_0", "v10_0", "v11_0", "v12_0", "v13_0", "v14_0", "v15_0", "v16_0", "v17_0", "v18_0"))
	androidMinimum = merge("androidMinimumOperatingSystem", nil, boolFields("v4_0", "v4_0_3", "v4_1", "v4_2", "v4_3", "v4_4", "v5_0", "v5_1", "v6_0", "v7_0", "v7_1", "v8_0", "v8_1", "v9_0", "v10_0", "v11_0", "v12_0", "v13_0", "v14_0", "v15_0"))
	iosDeviceType  = merge("iosDeviceType", nil, boolFields("iPad", "iPhoneAndIPod"))
	macOSIncluded  = merge("macOSIncludedApp", []string{"bundleId"}, map[string]prop{"bundleId": str, "bundleVersion": str})
	macOSScript    = merge("macOSAppScript", []string{"scriptContent"}, map[string]prop{"scriptContent": str})
)

func boolFields(names ...string) map[string]prop {
	m := map[string]prop{}
	for _, n := range names {
		m[n] = boolean
	}
	return m
}

var mobileAppProps = map[string]prop{
	"id": ro(str), "displayName": str, "description": str, "publisher": str, "largeIcon": object(mimeContent),
	"createdDateTime": ro(date), "lastModifiedDateTime": ro(date), "isFeatured": boolean, "privacyInformationUrl": str,
	"informationUrl": str, "owner": str, "developer": str, "notes": str, "publishingState": ro(enum(publishingStates...)),
	"roleScopeTagIds": betaOnly(arrayOf(str)), "isAssigned": ro(betaOnly(boolean)), "uploadState": ro(betaOnly(integer)),
	"dependentAppCount": ro(betaOnly(integer)), "supersedingAppCount": ro(betaOnly(integer)), "supersededAppCount": ro(betaOnly(integer)),
}

var lobProps = map[string]prop{"committedContentVersion": str, "fileName": str, "size": ro(integer)}

// appTypes are the app types the simulator takes, by @odata.type.
var appTypes = map[string]*schema{}

func init() {
	for _, s := range []*schema{
		merge("win32LobApp", []string{"displayName", "publisher", "fileName", "setupFilePath", "installCommandLine", "uninstallCommandLine"}, mobileAppProps, lobProps, map[string]prop{
			"installCommandLine": str, "uninstallCommandLine": str, "applicableArchitectures": flags(architectures...),
			"allowedArchitectures":     betaOnly(flags(architectures...)),
			"minimumFreeDiskSpaceInMB": integer, "minimumMemoryInMB": integer, "minimumNumberOfProcessors": integer, "minimumCpuSpeedInMHz": integer,
			"rules":             arrayOf(oneOf(productCodeRule, registryRule, fileSystemRule, scriptRule)),
			"detectionRules":    betaOnly(arrayOf(oneOf(productCodeDetection, registryDetection, fileSystemDetection, scriptDetection))),
			"requirementRules":  betaOnly(arrayOf(oneOf(registryRequirement, fileSystemRequirement, scriptRequirement))),
			"installExperience": object(installExp), "returnCodes": arrayOf(object(returnCode)), "msiInformation": object(msiInformation),
			"setupFilePath": str, "minimumSupportedWindowsRelease": str, "minimumSupportedOperatingSystem": betaOnly(object(windowsMinimum)),
			"displayVersion": str, "allowAvailableUninstall": boolean,
		}),
		merge("macOSPkgApp", []string{"displayName", "publisher", "fileName", "primaryBundleId", "primaryBundleVersion", "includedApps", "minimumSupportedOperatingSystem"}, mobileAppProps, lobProps, map[string]prop{
			"primaryBundleId": str, "primaryBundleVersion": str, "includedApps": arrayOf(object(macOSIncluded)),
			"minimumSupportedOperatingSystem": object(macOSMinimum), "ignoreVersionDetection": boolean,
			"preInstallScript": object(macOSScript), "postInstallScript": object(macOSScript),
		}),
		merge("macOSDmgApp", []string{"displayName", "publisher", "fileName", "primaryBundleId", "primaryBundleVersion", "includedApps", "minimumSupportedOperatingSystem"}, mobileAppProps, lobProps, map[string]prop{
			"primaryBundleId": str, "primaryBundleVersion": str, "includedApps": arrayOf(object(macOSIncluded)),
			"minimumSupportedOperatingSystem": object(macOSMinimum), "ignoreVersionDetection": boolean,
		}),
		merge("iosLobApp", []string{"displayName", "publisher", "fileName", "bundleId", "applicableDeviceType", "minimumSupportedOperatingSystem", "buildNumber", "versionNumber"}, mobileAppProps, lobProps, map[string]prop{
			"bundleId": str, "applicableDeviceType": object(iosDeviceType), "minimumSupportedOperatingSystem": object(iosMinimum),
			"expirationDateTime": date, "versionNumber": str, "buildNumber": str, "identityVersion": betaOnly(str),
		}),
		merge("androidLobApp", []string{"displayName", "publisher", "fileName", "packageId", "minimumSupportedOperatingSystem", "versionName", "versionCode"}, mobileAppProps, lobProps, map[string]prop{
			"packageId": str, "identityName": str, "minimumSupportedOperatingSystem": object(androidMinimum),
			"versionName": str, "versionCode": str, "identityVersion": str, "targetedPlatforms": betaOnly(flags("androidDeviceAdministrator", "androidOpenSourceProject", "unknownFutureValue")),
		}),
	} {
		appTypes["#microsoft.graph."+s.name] = s
	}
}

var contentFile = merge("mobileAppContentFile", []string{"name", "size"}, map[string]prop{
	"id": ro(str), "name": str, "size": integer, "sizeEncrypted": integer, "manifest": str, "isDependency": boolean,
	"isFrameworkFile": betaOnly(boolean), "sizeInBytes": betaOnly(integer), "sizeEncryptedInBytes": betaOnly(integer),
	"azureStorageUri": ro(str), "azureStorageUriExpirationDateTime": ro(date), "createdDateTime": ro(date), "isCommitted": ro(boolean), "uploadState": ro(str),
})

var encryptionInfo = merge("fileEncryptionInfo", []string{"encryptionKey", "macKey", "initializationVector", "mac", "profileIdentifier", "fileDigest", "fileDigestAlgorithm"}, map[string]prop{
	"encryptionKey": str, "macKey": str, "initializationVector": str, "mac": str, "profileIdentifier": str, "fileDigest": str, "fileDigestAlgorithm": str,
})

var (
	groupTarget     = merge("groupAssignmentTarget", []string{"groupId"}, map[string]prop{"groupId": str, "deviceAndAppManagementAssignmentFilterId": str, "deviceAndAppManagementAssignmentFilterType": enum("none", "include", "exclude")})
	exclusionTarget = merge("exclusionGroupAssignmentTarget", []string{"groupId"}, map[string]prop{"groupId": str, "deviceAndAppManagementAssignmentFilterId": str, "deviceAndAppManagementAssignmentFilterType": enum("none", "include", "exclude")})
	allDevices      = merge("allDevicesAssignmentTarget", nil, map[string]prop{"deviceAndAppManagementAssignmentFilterId": str, "deviceAndAppManagementAssignmentFilterType": enum("none", "include", "exclude")})
	allUsers        = merge("allLicensedUsersAssignmentTarget", nil, map[string]prop{"deviceAndAppManagementAssignmentFilterId": str, "deviceAndAppManagementAssignmentFilterType": enum("none", "include", "exclude")})
	installTime     = merge("mobileAppInstallTimeSettings", nil, map[string]prop{"useLocalTime": boolean, "startDateTime": date, "deadlineDateTime": date})
	restartSettings = merge("win32LobAppRestartSettings", nil, map[string]prop{"gracePeriodInMinutes": integer, "countdownDisplayBeforeRestartInMinutes": integer, "restartNotificationSnoozeDurationInMinutes": integer})
	win32Settings   = merge("win32LobAppAssignmentSettings", nil, map[string]prop{
		"notifications": enum("showAll", "showReboot", "hideAll"), "deliveryOptimizationPriority": enum("notConfigured", "foreground"),
		"installTimeSettings": object(installTime), "restartSettings": object(restartSettings), "autoUpdateSettings": anything,
	})
	macOSSettings    = merge("macOsLobAppAssignmentSettings", nil, map[string]prop{"uninstallOnDeviceRemoval": boolean})
	iosSettings      = merge("iosLobAppAssignmentSettings", nil, map[string]prop{"vpnConfigurationId": str, "uninstallOnDeviceRemoval": boolean, "isRemovable": boolean, "preventManagedAppBackup": boolean})
	androidSettings  = merge("androidManagedStoreAppAssignmentSettings", nil, map[string]prop{"androidManagedStoreAppTrackIds": arrayOf(str), "autoUpdateMode": str})
	assignmentSchema = merge("mobileAppAssignment", []string{"intent", "target"}, map[string]prop{
		"id": ro(str), "intent": enum("available", "required", "uninstall", "availableWithoutEnrollment"),
		"target": oneOf(groupTarget, exclusionTarget, allDevices, allUsers), "settings": oneOf(win32Settings, macOSSettings, iosSettings, androidSettings),
		"source": ro(enum("direct", "policySets")), "sourceId": ro(str),
	})
	supersedence = merge("mobileAppSupersedence", []string{"targetId", "supersedenceType"}, map[string]prop{
		"id": ro(str), "targetId": str, "targetDisplayName": ro(str), "targetDisplayVersion": ro(str), "targetPublisher": ro(str),
		"targetType": ro(enum("child", "parent")), "supersedenceType": enum("update", "replace"), "supersededAppCount": ro(integer), "supersedingAppCount": ro(integer),
	})
	dependency = merge("mobileAppDependency", []string{"targetId", "dependencyType"}, map[string]prop{
		"id": ro(str), "targetId": str, "targetDisplayName": ro(str), "targetDisplayVersion": ro(str), "targetPublisher": ro(str),
		"targetType": ro(enum("child", "parent")), "dependencyType": enum("detect", "autoInstall"), "dependentAppCount": ro(integer), "dependsOnAppCount": ro(integer),
	})
	relationship = oneOf(supersedence, dependency)
)

// validate checks an object against s, in the given API version, and
// returns it without read-only properties. write is false when checking
// a PATCH, where required properties need not be present.
func validate(m map[string]any, s *schema, beta, create bool) (map[string]any, error) {
	out := map[string]any{}
	for k, v := range m {
		if strings.Contains(k, "@odata.") && k != "@odata.type" {
			continue // annotations
		}
		p, ok := s.props[k]
		if !ok || (p.beta && !beta) {
			return nil, fmt.Errorf("The property '%s' does not exist on type 'microsoft.graph.%s'. Make sure to only use property names that are defined by the type.", k, s.name)
		}
		if err := check(v, p, k, beta); err != nil {
			return nil, err
		}
		if !p.readOnly {
			out[k] = v
		}
	}
	if t, ok := m["@odata.type"].(string); ok && t != "#microsoft.graph."+s.name && s.name != "" {
		return nil, fmt.Errorf("A type named '%s' could not be resolved by the model. When a model is available, each type name must resolve to a valid type.", strings.TrimPrefix(t, "#"))
	}
	if create {
		for _, r := range s.required {
			if v, ok := out[r]; !ok || v == nil || v == "" {
				return nil, fmt.Errorf("The property '%s' of type 'microsoft.graph.%s' is required and has no value.", r, s.name)
			}
		}
	}
	return out, nil
}

func check(v any, p prop, path string, beta bool) error {
	if v == nil || p.kind == kAny {
		return nil // every property here is nullable
	}
	wrong := func() error {
		b, _ := json.Marshal(v)
		return fmt.Errorf("Cannot convert the literal '%s' to the expected type '%s' (property '%s').", clipText(string(b)), p.kind.edm(), path)
	}
	switch p.kind {
	case kString:
		s, ok := v.(string)
		if !ok {
			return wrong()
		}
		if p.enum != nil {
			vals := []string{s}
			if p.flags {
				vals = strings.Split(s, ",")
			}
			for _, x := range vals {
				if !slices.Contains(p.enum, strings.TrimSpace(x)) {
					return fmt.Errorf("Requested value '%s' was not found (property '%s').", clipText(x), path)
				}
			}
		}
	case kBool:
		if _, ok := v.(bool); !ok {
			return wrong()
		}
	case kInt:
		n, ok := v.(json.Number)
		if !ok {
			return wrong()
		}
		if _, err := n.Int64(); err != nil {
			return wrong()
		}
	case kDate:
		s, ok := v.(string)
		if !ok {
			return wrong()
		}
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			return fmt.Errorf("Cannot convert the literal '%s' to the expected type 'Edm.DateTimeOffset' (property '%s').", clipText(s), path)
		}
	case kArray:
		a, ok := v.([]any)
		if !ok {
			return wrong()
		}
		for i, e := range a {
			if err := check(e, *p.elem, fmt.Sprintf("%s[%d]", path, i), beta); err != nil {
				return err
			}
		}
	case kObject:
		m, ok := v.(map[string]any)
		if !ok {
			return wrong()
		}
		s := p.obj
		if p.poly != nil {
			t, _ := m["@odata.type"].(string)
			if s = p.poly[t]; s == nil {
				if t == "" {
					return fmt.Errorf("The property '%s' needs an @odata.type naming one of its derived types.", path)
				}
				return fmt.Errorf("A type named '%s' could not be resolved by the model (property '%s').", clipText(strings.TrimPrefix(t, "#")), path)
			}
		}
		if _, err := validate(m, s, beta, true); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	return nil
}
