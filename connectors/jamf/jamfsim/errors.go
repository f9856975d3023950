package jamfsim

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"html"
	"net/http"
)

// ProError is the Jamf Pro API's error body.
type ProError struct {
	HTTPStatus int             `json:"httpStatus"`
	Errors     []ProErrorCause `json:"errors"`
}

// ProErrorCause is one cause of a Jamf Pro API error; Field is null when
// the error is not about a field.
type ProErrorCause struct {
	Code        string  `json:"code"`
	Description string  `json:"description"`
	ID          string  `json:"id"`
	Field       *string `json:"field"`
}

// ProErrorBody renders a Jamf Pro API error body (for faults in the
// plane's own shape).
func ProErrorBody(status int, code, description, field string) string {
	e := ProError{HTTPStatus: status, Errors: []ProErrorCause{{Code: code, Description: description, ID: "0"}}}
	if field != "" {
		e.Errors[0].Field = &field
	}
	b, _ := json.Marshal(e)
	return string(b)
}

func proError(w http.ResponseWriter, status int, code, description, field string) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	w.Write([]byte(ProErrorBody(status, code, description, field)))
}

// ClassicErrorBody renders the Classic API's HTML status page.
func ClassicErrorBody(status int, message string) string {
	return fmt.Sprintf(`<html>
<head>
   <title>Status page</title>
</head>
<body style="font-family: sans-serif;">
<p style="font-size: 1.2em;font-weight: bold;margin: 1em 0px;">%s</p>
<p>%s</p>
<p>You can get technical details <a href="http://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html">here</a>.<br>
Please continue your visit at our <a href="/">home page</a>.
</p>
</body>
</html>
`, html.EscapeString(http.StatusText(status)), html.EscapeString(message))
}

func classicError(w http.ResponseWriter, status int, message string) {
	w.Header().Set("Content-Type", "text/html;charset=UTF-8")
	w.WriteHeader(status)
	w.Write([]byte(ClassicErrorBody(status, message)))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	w.Write(b)
}

func writeXML(w http.ResponseWriter, status int, v any) {
	b, err := xml.Marshal(v)
	if err != nil {
		panic(err)
	}
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(status)
	w.Write([]byte(xml.Header))
	w.Write(b)
}
