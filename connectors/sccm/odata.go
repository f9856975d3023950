package sccm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// parseCollection reads an OData collection answer:
// {"@odata.context": ..., "value": [...], "@odata.nextLink": ...}. The
// WMI route answers a GET by key the same way, with one element.
func parseCollection(body []byte) (values []json.RawMessage, next string, err error) {
	var c struct {
		Value *[]json.RawMessage `json:"value"`
		Next  string             `json:"@odata.nextLink"`
	}
	if err := json.Unmarshal(body, &c); err != nil {
		return nil, "", fmt.Errorf("not an OData answer: %w", err)
	}
	if c.Value == nil {
		return nil, "", errors.New(`not an OData collection: no "value" array`)
	}
	for i, v := range *c.Value {
		if t := bytes.TrimSpace(v); len(t) == 0 || t[0] != '{' {
			return nil, "", fmt.Errorf("OData collection: element %d is not an object", i)
		}
	}
	return *c.Value, c.Next, nil
}

// parseEntity reads an answer holding one object: a bare entity (a POST's
// answer) or a collection of exactly one (a GET by key on the WMI route).
// found is false for an empty collection.
func parseEntity(body []byte) (v json.RawMessage, found bool, err error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(body, &probe); err != nil {
		return nil, false, fmt.Errorf("not an OData answer: %w", err)
	}
	if _, ok := probe["value"]; ok {
		vals, _, err := parseCollection(body)
		if err != nil {
			return nil, false, err
		}
		switch len(vals) {
		case 0:
			return nil, false, nil
		case 1:
			return vals[0], true, nil
		}
		return nil, false, fmt.Errorf("a lookup by key answered %d objects", len(vals))
	}
	return body, true, nil
}

// parseODataError reads the OData error shape
// {"error":{"code":"...","message":"..."}}. The code may be a number and
// the message an OData v3 {"lang","value"} object; both are read.
func parseODataError(body []byte) (code, message string, ok bool) {
	var e struct {
		Error *struct {
			Code    json.RawMessage `json:"code"`
			Message json.RawMessage `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || e.Error == nil {
		return "", "", false
	}
	code = jsonText(e.Error.Code)
	message = jsonText(e.Error.Message)
	if message == "" {
		var m struct {
			Value string `json:"value"`
		}
		if json.Unmarshal(e.Error.Message, &m) == nil {
			message = m.Value
		}
	}
	return code, message, code != "" || message != ""
}

// jsonText is a JSON string's text or a JSON number's digits.
func jsonText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// quote is an OData string literal.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
