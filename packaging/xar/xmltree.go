package xar

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// node is one element of a small XML document (Distribution, PackageInfo).
type node struct {
	Name     string
	Attr     map[string]string
	Text     string
	Children []*node
	text     strings.Builder
}

// attr returns the attribute name, matched case-insensitively as Installer
// does for auth="Root".
func (n *node) attr(name string) string {
	if v, ok := n.Attr[name]; ok {
		return v
	}
	for k, v := range n.Attr {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

func (n *node) child(name string) *node {
	for _, c := range n.Children {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// walk calls fn for n and every element below it, in document order.
func (n *node) walk(fn func(*node)) {
	stack := []*node{n}
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		fn(x)
		for i := len(x.Children) - 1; i >= 0; i-- {
			stack = append(stack, x.Children[i])
		}
	}
}

// Bounds of a small XML document.
const (
	maxTreeDepth = 64
	maxTreeText  = 1 << 20
)

// parseTree reads a small XML document into nodes, with at most maxNodes
// elements nested at most maxTreeDepth deep.
func parseTree(b []byte, maxNodes int) (*node, error) {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	var root *node
	var stack []*node
	nodes := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			nodes++
			if nodes > maxNodes {
				return nil, fmt.Errorf("more than %d elements", maxNodes)
			}
			if len(stack) >= maxTreeDepth {
				return nil, fmt.Errorf("elements nest deeper than %d", maxTreeDepth)
			}
			n := &node{Name: t.Name.Local, Attr: map[string]string{}}
			for _, a := range t.Attr {
				n.Attr[a.Name.Local] = a.Value
			}
			if len(stack) == 0 {
				if root != nil {
					return nil, errors.New("more than one root element")
				}
				root = n
			} else {
				p := stack[len(stack)-1]
				p.Children = append(p.Children, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			n := stack[len(stack)-1]
			n.Text = n.text.String()
			n.text.Reset()
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				n := stack[len(stack)-1]
				if n.text.Len()+len(t) > maxTreeText {
					return nil, fmt.Errorf("element <%s> has more than %d bytes of text", n.Name, maxTreeText)
				}
				n.text.Write(t)
			}
		}
	}
	if root == nil {
		return nil, errors.New("no root element")
	}
	return root, nil
}
