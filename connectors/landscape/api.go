package landscape

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/connectors/httpx"
	"github.com/eucora/eucora/connectors/landscape/sigv2"
)

// maxBody bounds an answer the connector reads.
const maxBody = 64 << 20

// maxPages bounds a list walk.
const maxPages = 10000

// params are an action's arguments; lists go as NAME.1, NAME.2, ...
type params map[string]string

func (p params) list(name string, items []string) params {
	for i, it := range items {
		p[name+"."+strconv.Itoa(i+1)] = it
	}
	return p
}

// readOnly lists the actions sent as GET; every other action changes the
// plane and is sent as a form POST.
var readOnly = map[string]bool{
	"GetComputers": true, "GetScripts": true, "GetScriptCode": true,
	"GetPackageProfiles": true, "GetActivities": true,
}

// call sends one legacy API action and returns its answer's body. Every
// failure is a *connectors.Error.
func (c *Client) call(ctx context.Context, action string, args params) ([]byte, error) {
	q := make(map[string][]string, len(args)+2)
	for k, v := range args {
		q[k] = []string{v}
	}
	q["action"] = []string{action}
	q["version"] = []string{APIVersion}
	encoded := sigv2.CanonicalQuery(q)

	var req *http.Request
	var err error
	if readOnly[action] {
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, c.api.String()+"?"+encoded, nil)
	} else {
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, c.api.String(), strings.NewReader(encoded))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	}
	if err != nil {
		return nil, permanent(action, err)
	}
	req.Header.Set("Accept", "application/json")
	return c.do(ctx, action, req)
}

// do sends req and reads the answer; a non-2xx answer is classified.
func (c *Client) do(ctx context.Context, op string, req *http.Request) ([]byte, error) {
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, transportError(op, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	c.log.DebugContext(ctx, "landscape request", "op", op, "method", req.Method, "path", req.URL.Path, "status", resp.StatusCode,
		"bytes", len(data), "duration", time.Since(start).Round(time.Millisecond))
	if err != nil {
		// The answer broke off: whether the plane acted is unknown, and
		// every operation is safe to retry.
		return nil, &connectors.Error{Plane: connectors.Landscape, Op: op, Class: connectors.Transient, Status: resp.StatusCode,
			Err: fmt.Errorf("reading the answer: %w", err)}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, statusError(op, resp.StatusCode, resp.Header, data)
	}
	return data, nil
}

// transportError classifies a request that got no answer.
func transportError(op string, err error) error {
	var ce *connectors.Error
	if errors.As(err, &ce) { // the login or the signer failed: keep its class and words
		e := *ce
		e.Op = op + ": " + ce.Op
		return &e
	}
	class := connectors.Transient // refused, reset or dropped: the plane may or may not have acted
	if errors.Is(err, context.Canceled) {
		class = connectors.Permanent
	}
	return &connectors.Error{Plane: connectors.Landscape, Op: op, Class: class, Err: err}
}

// codeClass overrides the status's class for Landscape's own error codes.
var codeClass = map[string]connectors.Class{
	// A permission refusal by the plane's roles.
	"Unauthorised": connectors.Policy,
	// Authentication: a wrong key, secret, signature or timestamp is not
	// fixed by sending the same request again.
	"InvalidCredentials":    connectors.Permanent,
	"SignatureDoesNotMatch": connectors.Permanent,
	"AuthFailure":           connectors.Permanent,
	// The pocket or mirror is busy.
	"OperationInProgress": connectors.Transient,
}

// statusError maps an error answer onto a *connectors.Error: the class
// from the status (429 and 5xx transient, 403 a policy refusal, other 4xx
// permanent) unless Landscape's code says otherwise, the code and message
// from Landscape's {"error","message"} body.
func statusError(op string, status int, h http.Header, body []byte) *connectors.Error {
	code, msg := ParseError(body)
	class := connectors.ClassOfStatus(status)
	if c, ok := codeClass[code]; ok {
		class = c
	}
	e := &connectors.Error{Plane: connectors.Landscape, Op: op, Class: class, Status: status, Code: code, Message: msg,
		NotFound: status == http.StatusNotFound || unknownObject(code)}
	if d, ok := httpx.RetryAfter(h, time.Now()); ok {
		e.RetryAfter = d
	}
	return e
}

// unknownObject reports codes saying the plane holds no such object
// (UnknownScript, UnknownComputers, UnknownPackageProfileName, ...), as
// opposed to an unknown parameter, action or version of the request.
func unknownObject(code string) bool {
	switch code {
	case "UnknownParameter", "UnknownAction", "UnknownVersion":
		return false
	}
	return strings.HasPrefix(code, "Unknown")
}

// isCode reports whether err is the plane's answer with code.
func isCode(err error, code string) bool {
	var ce *connectors.Error
	return errors.As(err, &ce) && ce.Code == code
}

func permanent(op string, err error) error {
	return &connectors.Error{Plane: connectors.Landscape, Op: op, Class: connectors.Permanent, Err: err}
}

func unreadable(op string, err error) error {
	return &connectors.Error{Plane: connectors.Landscape, Op: op, Class: connectors.Permanent, Err: fmt.Errorf("unreadable answer: %w", err)}
}

// walk pages through a list action (limit/offset) until a short page.
func walk[T any](ctx context.Context, c *Client, action string, args params, parse func([]byte) ([]T, error)) ([]T, error) {
	var all []T
	for page := 0; page < maxPages; page++ {
		a := params{"limit": strconv.Itoa(c.page), "offset": strconv.Itoa(len(all))}
		for k, v := range args {
			a[k] = v
		}
		data, err := c.call(ctx, action, a)
		if err != nil {
			return nil, err
		}
		items, err := parse(data)
		if err != nil {
			return nil, unreadable(action, err)
		}
		all = append(all, items...)
		if len(items) < c.page {
			return all, nil
		}
	}
	return nil, permanent(action, fmt.Errorf("more than %d pages", maxPages))
}

// Computers lists the computers matching a query ("" for all).
func (c *Client) Computers(ctx context.Context, query string) ([]Computer, error) {
	args := params{}
	if query != "" {
		args["query"] = query
	}
	return walk(ctx, c, "GetComputers", args, ParseComputers)
}

// Scripts lists the stored scripts.
func (c *Client) Scripts(ctx context.Context) ([]Script, error) {
	return walk(ctx, c, "GetScripts", params{}, ParseScripts)
}

// ScriptCode returns a script's code.
func (c *Client) ScriptCode(ctx context.Context, id int64) (string, error) {
	data, err := c.call(ctx, "GetScriptCode", params{"script_id": strconv.FormatInt(id, 10)})
	if err != nil {
		return "", err
	}
	var code string
	if err := json.Unmarshal(data, &code); err != nil {
		return "", unreadable("GetScriptCode", err)
	}
	return code, nil
}

// CreateScript stores a script.
func (c *Client) CreateScript(ctx context.Context, title, code string) (Script, error) {
	args := params{
		"title": title, "code": base64.StdEncoding.EncodeToString([]byte(code)),
		"time_limit": strconv.Itoa(int(c.cfg.ScriptTimeLimit / time.Second)), "username": c.cfg.ScriptUser,
	}
	if c.cfg.AccessGroup != "" {
		args["access_group"] = c.cfg.AccessGroup
	}
	data, err := c.call(ctx, "CreateScript", args)
	if err != nil {
		return Script{}, err
	}
	var s Script
	if err := json.Unmarshal(data, &s); err != nil || s.ID <= 0 {
		return Script{}, unreadable("CreateScript", fmt.Errorf("want a script with an id: %v", err))
	}
	return s, nil
}

// EditScript replaces a script's code.
func (c *Client) EditScript(ctx context.Context, id int64, code string) error {
	_, err := c.call(ctx, "EditScript", params{"script_id": strconv.FormatInt(id, 10), "code": base64.StdEncoding.EncodeToString([]byte(code))})
	return err
}

// ExecuteScript runs a stored script on the computers of a query.
func (c *Client) ExecuteScript(ctx context.Context, query string, id int64) (Activity, error) {
	return c.activityCall(ctx, "ExecuteScript", params{"query": query, "script_id": strconv.FormatInt(id, 10)})
}

// Profiles lists the package profiles.
func (c *Client) Profiles(ctx context.Context) ([]PackageProfile, error) {
	data, err := c.call(ctx, "GetPackageProfiles", params{})
	if err != nil {
		return nil, err
	}
	ps, err := ParseProfiles(data)
	if err != nil {
		return nil, unreadable("GetPackageProfiles", err)
	}
	return ps, nil
}

func constraintTexts(cs []Constraint) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.String()
	}
	return out
}

// CreateProfile makes a package profile with the constraints.
func (c *Client) CreateProfile(ctx context.Context, title, description string, cs []Constraint) (PackageProfile, error) {
	args := params{"title": title, "description": description}.list("constraints", constraintTexts(cs))
	if c.cfg.AccessGroup != "" {
		args["access_group"] = c.cfg.AccessGroup
	}
	data, err := c.call(ctx, "CreatePackageProfile", args)
	if err != nil {
		return PackageProfile{}, err
	}
	return decodeProfile("CreatePackageProfile", data)
}

// decodeProfile reads a profile answer: an object or, as the
// documentation shows it, a list of one.
func decodeProfile(op string, data []byte) (PackageProfile, error) {
	var p PackageProfile
	if err := json.Unmarshal(data, &p); err != nil {
		ps, lerr := ParseProfiles(data)
		if lerr != nil || len(ps) != 1 {
			return p, unreadable(op, err)
		}
		p = ps[0]
	}
	if p.Name == "" {
		return p, unreadable(op, fmt.Errorf("profile without a name"))
	}
	return p, nil
}

// EditProfile adds and removes constraints in one call.
func (c *Client) EditProfile(ctx context.Context, name string, add, remove []Constraint) error {
	args := params{"name": name}.list("add_constraints", constraintTexts(add)).list("remove_constraints", constraintTexts(remove))
	_, err := c.call(ctx, "EditPackageProfile", args)
	return err
}

// AssociateProfile associates a profile with more tags (the others stay).
func (c *Client) AssociateProfile(ctx context.Context, name string, tags []string) error {
	_, err := c.call(ctx, "AssociatePackageProfile", params{"name": name}.list("tags", tags))
	return err
}

// DisassociateProfile removes tags from a profile's association.
func (c *Client) DisassociateProfile(ctx context.Context, name string, tags []string) error {
	_, err := c.call(ctx, "DisassociatePackageProfile", params{"name": name}.list("tags", tags))
	return err
}

// RemoveProfile deletes a package profile.
func (c *Client) RemoveProfile(ctx context.Context, name string) error {
	_, err := c.call(ctx, "RemovePackageProfile", params{"name": name})
	return err
}

// InstallPackages, RemovePackages and UpgradePackages start a package
// change on the computers of a query; the answer is the ActivityGroup.
func (c *Client) InstallPackages(ctx context.Context, query string, pkgs []string) (Activity, error) {
	return c.activityCall(ctx, "InstallPackages", params{"query": query}.list("packages", pkgs))
}

// RemovePackages: see InstallPackages.
func (c *Client) RemovePackages(ctx context.Context, query string, pkgs []string) (Activity, error) {
	return c.activityCall(ctx, "RemovePackages", params{"query": query}.list("packages", pkgs))
}

// UpgradePackages: see InstallPackages (no packages: every upgrade).
func (c *Client) UpgradePackages(ctx context.Context, query string, pkgs []string) (Activity, error) {
	return c.activityCall(ctx, "UpgradePackages", params{"query": query}.list("packages", pkgs))
}

func (c *Client) activityCall(ctx context.Context, action string, args params) (Activity, error) {
	data, err := c.call(ctx, action, args)
	if err != nil {
		return Activity{}, err
	}
	a, err := ParseActivity(data)
	if err != nil {
		return Activity{}, unreadable(action, err)
	}
	return a, nil
}

// Activities lists the activities matching a query ("" for all), in
// Landscape's order (creation time).
func (c *Client) Activities(ctx context.Context, query string) ([]Activity, error) {
	args := params{}
	if query != "" {
		args["query"] = query
	}
	return walk(ctx, c, "GetActivities", args, ParseActivities)
}

// loginSource is the token source of AuthToken: POST
// /api/v2/login/access-key with the current credentials.
func (c *Client) loginSource(hc *http.Client) httpx.TokenSource {
	return func(ctx context.Context) (httpx.Token, error) {
		creds, err := c.creds(ctx)
		if err != nil {
			return httpx.Token{}, permanent("login", fmt.Errorf("landscape credentials: %w", err))
		}
		b, _ := json.Marshal(map[string]string{"access_key": creds.AccessKey, "secret_key": creds.SecretKey})
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.root.JoinPath("api", "v2", "login", "access-key").String(), bytes.NewReader(b))
		if err != nil {
			return httpx.Token{}, permanent("login", err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			return httpx.Token{}, transportError("login", err)
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil {
			return httpx.Token{}, &connectors.Error{Plane: connectors.Landscape, Op: "login", Class: connectors.Transient, Err: err}
		}
		if resp.StatusCode != http.StatusOK {
			return httpx.Token{}, statusError("login", resp.StatusCode, resp.Header, data)
		}
		var t struct {
			Token string `json:"token"`
		}
		if err := json.Unmarshal(data, &t); err != nil || t.Token == "" {
			return httpx.Token{}, unreadable("login", fmt.Errorf("want {\"token\": ...}: %v", err))
		}
		// Landscape does not say when the JWT expires: it is used until
		// the server answers 401, then Bearer logs in again.
		return httpx.Token{Value: t.Token}, nil
	}
}

// activityV2 reads one activity (with its children) from REST v2.
func (c *Client) activityV2(ctx context.Context, id int64) (Activity, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.root.JoinPath("api", "v2", "activities", strconv.FormatInt(id, 10)).String(), nil)
	if err != nil {
		return Activity{}, permanent("GET activity", err)
	}
	req.Header.Set("Accept", "application/json")
	data, err := c.do(ctx, "GET activity", req)
	if err != nil {
		return Activity{}, err
	}
	a, err := ParseActivity(data)
	if err != nil {
		return Activity{}, unreadable("GET activity", err)
	}
	return a, nil
}
