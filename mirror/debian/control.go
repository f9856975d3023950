// Package debian parses and writes the Debian control formats an APT
// repository is made of (deb822 paragraphs, Release and Packages files),
// orders Debian versions, parses package relations and evaluates the
// mirror filter language.
//
// Every parser here reads untrusted bytes from the network: they never
// panic, bound what they keep, and report errors with a line number.
package debian

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrSyntax reports malformed control data.
var ErrSyntax = errors.New("control syntax error")

// MaxLine bounds one physical line of control data (1 MiB).
const MaxLine = 1 << 20

// SyntaxError carries the line of a malformed paragraph.
type SyntaxError struct {
	Source string
	Line   int
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%s:%d: %s", e.Source, e.Line, e.Msg)
}

func (e *SyntaxError) Unwrap() error { return ErrSyntax }

// Field is one field of a paragraph. Value keeps continuation lines joined
// by "\n" with their leading space preserved, exactly as written.
type Field struct {
	Name  string
	Value string
}

// Paragraph is an ordered list of fields. Field names compare
// case-insensitively, as Debian policy says.
type Paragraph []Field

// Get returns the value of field name ("" when absent).
func (p Paragraph) Get(name string) string {
	for _, f := range p {
		if strings.EqualFold(f.Name, name) {
			return f.Value
		}
	}
	return ""
}

// Has reports whether field name is present.
func (p Paragraph) Has(name string) bool {
	for _, f := range p {
		if strings.EqualFold(f.Name, name) {
			return true
		}
	}
	return false
}

// Set replaces field name's value, or appends the field.
func (p *Paragraph) Set(name, value string) {
	for i, f := range *p {
		if strings.EqualFold(f.Name, name) {
			(*p)[i].Value = value
			return
		}
	}
	*p = append(*p, Field{name, value})
}

// Del removes field name.
func (p *Paragraph) Del(name string) {
	out := (*p)[:0]
	for _, f := range *p {
		if !strings.EqualFold(f.Name, name) {
			out = append(out, f)
		}
	}
	*p = out
}

// WriteTo writes the paragraph in control format, without the blank line
// that separates paragraphs.
func (p Paragraph) WriteTo(w io.Writer) (int64, error) {
	var b bytes.Buffer
	p.appendTo(&b)
	n, err := w.Write(b.Bytes())
	return int64(n), err
}

func (p Paragraph) appendTo(b *bytes.Buffer) {
	for _, f := range p {
		b.WriteString(f.Name)
		b.WriteByte(':')
		if f.Value != "" && f.Value[0] != '\n' {
			b.WriteByte(' ')
		}
		b.WriteString(f.Value)
		b.WriteByte('\n')
	}
}

// String returns the paragraph in control format.
func (p Paragraph) String() string {
	var b bytes.Buffer
	p.appendTo(&b)
	return b.String()
}

// Reader reads paragraphs one at a time from a stream, so that Packages
// files of any size are parsed in flat memory.
type Reader struct {
	sc     *bufio.Scanner
	source string
	line   int
}

// NewReader returns a paragraph reader; source names the input in errors.
func NewReader(r io.Reader, source string) *Reader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), MaxLine)
	return &Reader{sc: sc, source: source}
}

// Next returns the next paragraph, or io.EOF after the last one.
func (r *Reader) Next() (Paragraph, error) {
	var p Paragraph
	for r.sc.Scan() {
		r.line++
		line := r.sc.Text()
		line = strings.TrimSuffix(line, "\r")
		if strings.TrimSpace(line) == "" {
			if len(p) > 0 {
				return p, nil
			}
			continue
		}
		if line[0] == '#' {
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			if len(p) == 0 {
				return nil, &SyntaxError{r.source, r.line, "continuation line outside a field"}
			}
			p[len(p)-1].Value += "\n" + line
			continue
		}
		i := strings.IndexByte(line, ':')
		if i <= 0 {
			return nil, &SyntaxError{r.source, r.line, fmt.Sprintf("line %q is not a field", clip(line))}
		}
		name := line[:i]
		if strings.ContainsAny(name, " \t") {
			return nil, &SyntaxError{r.source, r.line, fmt.Sprintf("field name %q contains white space", clip(name))}
		}
		p = append(p, Field{Name: name, Value: strings.TrimLeft(line[i+1:], " \t")})
	}
	if err := r.sc.Err(); err != nil {
		return nil, &SyntaxError{r.source, r.line + 1, err.Error()}
	}
	if len(p) > 0 {
		return p, nil
	}
	return nil, io.EOF
}

// ParseParagraphs reads every paragraph of data.
func ParseParagraphs(data []byte, source string) ([]Paragraph, error) {
	r := NewReader(bytes.NewReader(data), source)
	var out []Paragraph
	for {
		p, err := r.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}
