package intune

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/eucora/eucora/connectors"
	"github.com/eucora/eucora/connectors/httpx"
	"github.com/eucora/eucora/internal/clip"
)

// maxBody bounds a Graph answer the connector reads.
const maxBody = 32 << 20

// call sends one Graph request: path is relative to the API root
// ("/deviceAppManagement/mobileApps") or an absolute @odata.nextLink; in,
// when not nil, is sent as JSON; a 2xx answer is decoded into out when
// out is not nil. Every failure is a *connectors.Error.
func (c *conn) call(ctx context.Context, op, method, path string, in, out any) error {
	u := path
	if !strings.HasPrefix(path, "http://") && !strings.HasPrefix(path, "https://") {
		u = c.api + path
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return &connectors.Error{Plane: connectors.Intune, Op: op, Class: connectors.Permanent, Err: err}
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return &connectors.Error{Plane: connectors.Intune, Op: op, Class: connectors.Permanent, Err: err}
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.graph.Do(req)
	if err != nil {
		return netError(op, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return netError(op, err)
	}
	if resp.StatusCode/100 != 2 {
		return classify(op, resp.StatusCode, resp.Header, data, c.now())
	}
	if len(data) > maxBody {
		return &connectors.Error{Plane: connectors.Intune, Op: op, Class: connectors.Permanent, Status: resp.StatusCode, Message: fmt.Sprintf("the answer is over %d bytes", maxBody)}
	}
	if out == nil || len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		// A body that ends early was cut off on the way (a proxy, a
		// dropped connection the transport did not see): transient. Any
		// other unreadable answer is the plane's or our bug.
		class := connectors.Permanent
		var se *json.SyntaxError
		if errors.As(err, &se) && se.Offset >= int64(len(data)) {
			class = connectors.Transient
		}
		return &connectors.Error{Plane: connectors.Intune, Op: op, Class: class, Status: resp.StatusCode, Message: "unreadable answer: " + clip.String(err.Error(), 200), Err: err}
	}
	return nil
}

// netError classes a failure without an answer (refused, reset, cut off
// mid-body, timed out).
func netError(op string, err error) *connectors.Error {
	var ce *connectors.Error
	if errors.As(err, &ce) {
		return ce
	}
	return &connectors.Error{Plane: connectors.Intune, Op: op, Class: connectors.ClassOf(err), Err: err}
}

// page is one page of a Graph collection.
type page[T any] struct {
	Value    []T    `json:"value"`
	NextLink string `json:"@odata.nextLink"`
}

// maxPages bounds how many pages one listing follows.
const maxPages = 1000

// list reads every page of a collection, following @odata.nextLink.
func list[T any](ctx context.Context, c *conn, op, path string) ([]T, error) {
	var all []T
	seen := map[string]bool{}
	for n := 0; path != ""; n++ {
		if n >= maxPages || seen[path] {
			return nil, &connectors.Error{Plane: connectors.Intune, Op: op, Class: connectors.Permanent, Message: fmt.Sprintf("the collection did not end after %d pages (or a next link repeats)", n)}
		}
		seen[path] = true
		var p page[T]
		if err := c.call(ctx, op, http.MethodGet, path, nil, &p); err != nil {
			return nil, err
		}
		all = append(all, p.Value...)
		path = p.NextLink
		if path != "" && !c.sameHost(path) {
			return nil, &connectors.Error{Plane: connectors.Intune, Op: op, Class: connectors.Permanent, Message: "the next link " + clip.String(path, 200) + " leaves the Graph host"}
		}
	}
	return all, nil
}

// Codes the plane answers with, by class, beyond what the HTTP status says.
var (
	transientCodes = map[string]bool{
		"TooManyRequests": true, "ServiceUnavailable": true, "InternalServerError": true, "GatewayTimeout": true,
		"BadGateway": true, "activityLimitReached": true, "generalException": true, "timeout": true,
		// Azure Storage
		"ServerBusy": true, "OperationTimedOut": true, "InternalError": true,
		// an expired upload SAS: a renewal fixes it
		"AuthenticationFailed": true,
		// Entra ID
		"temporarily_unavailable": true,
	}
	policyCodes = map[string]bool{
		"Forbidden": true, "Authorization_RequestDenied": true, "accessDenied": true, "AccessDenied": true,
	}
	permanentCodes = map[string]bool{
		// A 401 that survived a token renewal: the credentials are wrong.
		"InvalidAuthenticationToken": true,
		"invalid_client":             true, "unauthorized_client": true, "invalid_request": true,
		"invalid_scope": true, "unsupported_grant_type": true, "invalid_grant": true,
	}
)

// graphErrorBody is Graph's error shape.
type graphErrorBody struct {
	Error struct {
		Code       string `json:"code"`
		Message    string `json:"message"`
		InnerError struct {
			RequestID string `json:"request-id"`
		} `json:"innerError"`
	} `json:"error"`
}

// aadErrorBody is Entra ID's OAuth error shape.
type aadErrorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// azureErrorBody is Azure Storage's XML error shape.
type azureErrorBody struct {
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}

// classify turns an error answer into a *connectors.Error: the plane's
// code and message from whichever of Graph's, Entra ID's or Azure
// Storage's shapes the body has, the class from the status refined by the
// code, and the Retry-After the plane asked for.
func classify(op string, status int, h http.Header, body []byte, now time.Time) *connectors.Error {
	e := &connectors.Error{Plane: connectors.Intune, Op: op, Status: status, Class: connectors.ClassOfStatus(status)}
	e.Code, e.Message = parseError(body)
	if e.Code == "" {
		e.Code = h.Get("x-ms-error-code")
	}
	if e.Message == "" {
		e.Message = strings.TrimSpace(clip.String(string(body), 300))
	}
	switch {
	case transientCodes[e.Code]:
		e.Class = connectors.Transient
	case policyCodes[e.Code]:
		e.Class = connectors.Policy
	case permanentCodes[e.Code]:
		e.Class = connectors.Permanent
	}
	if status == http.StatusNotFound {
		e.NotFound, e.Class = true, connectors.Permanent
	}
	if d, ok := httpx.RetryAfter(h, now); ok {
		e.RetryAfter = d
	}
	return e
}

// parseError reads the code and message of an error body in any of the
// three shapes. Intune often puts a JSON document in Graph's message
// ({"_version": 3, "Message": "..."}): its Message is taken.
func parseError(body []byte) (code, msg string) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return "", ""
	}
	if body[0] == '<' {
		var az azureErrorBody
		if xml.Unmarshal(body, &az) == nil {
			m, _, _ := strings.Cut(az.Message, "\n")
			return clip.String(az.Code, 100), clip.String(strings.TrimSpace(m), 500)
		}
		return "", ""
	}
	var g graphErrorBody
	if json.Unmarshal(body, &g) == nil && (g.Error.Code != "" || g.Error.Message != "") {
		msg = g.Error.Message
		var inner struct {
			Message string `json:"Message"`
		}
		if strings.HasPrefix(strings.TrimSpace(msg), "{") && json.Unmarshal([]byte(msg), &inner) == nil && inner.Message != "" {
			msg = inner.Message
		}
		return clip.String(g.Error.Code, 100), clip.String(msg, 500)
	}
	var a aadErrorBody
	if json.Unmarshal(body, &a) == nil && a.Error != "" {
		return clip.String(a.Error, 100), clip.String(a.Description, 500)
	}
	return "", ""
}
