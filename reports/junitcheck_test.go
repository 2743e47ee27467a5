package reports

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// junitElement is what the JUnit schema CI reporters read (Jenkins' junit-10.xsd, which GitLab
// and the GitHub Actions reporters follow) allows for one element: its attributes, required or
// not, and its children in order, with how many of each. Our reports promise more than the
// schema demands — every count, time and timestamp on testsuites and testsuite — so those are
// required here.
type junitElement struct {
	required, optional []string
	// children lists the allowed children in the order they must come; each at most once unless
	// repeated.
	children []junitChild
	// text says the element carries text; body that it must not be empty.
	text, body bool
}

type junitChild struct {
	name     string
	repeated bool
	// oneOf groups children of which at most one may appear (failure, error, skipped).
	oneOf int
}

// junitSchema is the structure checkJUnit enforces.
func junitSchema() map[string]junitElement {
	return map[string]junitElement{
		"testsuites": {required: []string{"name", "tests", "failures", "errors", "skipped", "time", "timestamp"}, optional: []string{"disabled"},
			children: []junitChild{{name: "testsuite", repeated: true}}},
		"testsuite": {required: []string{"name", "tests", "failures", "errors", "skipped", "time", "timestamp"},
			optional: []string{"hostname", "id", "package", "file", "disabled"},
			children: []junitChild{{name: "properties"}, {name: "testcase", repeated: true}, {name: "system-out"}, {name: "system-err"}}},
		"properties": {children: []junitChild{{name: "property", repeated: true}}},
		"property":   {required: []string{"name", "value"}},
		"testcase": {required: []string{"classname", "name", "time"}, optional: []string{"file", "line", "assertions", "status"},
			children: []junitChild{{name: "skipped", oneOf: 1}, {name: "error", oneOf: 1}, {name: "failure", oneOf: 1}, {name: "system-out"}, {name: "system-err"}}},
		"failure":    {required: []string{"message", "type"}, text: true, body: true},
		"error":      {required: []string{"message", "type"}, text: true, body: true},
		"skipped":    {optional: []string{"message"}, text: true},
		"system-out": {text: true},
		"system-err": {text: true},
	}
}

// junitCounts is what a checked JUnit document holds.
type junitCounts struct {
	Suites, Tests, Failures, Errors, Skipped int
	// Cases are "classname / name" of every testcase, in order.
	Cases []string
	// Messages maps "classname / name" of a failed or errored testcase to its message.
	Messages map[string]string
}

// node is an element as checkJUnit reads it.
type node struct {
	name     string
	attrs    map[string]string
	children []*node
	text     strings.Builder
}

// CheckJUnit checks JUnit XML against what CI reporters read: the declaration, one testsuites
// root, only the schema's elements and attributes, required attributes present and non-empty,
// children in the schema's order, numbers well formed (counts non-negative integers, times
// non-negative seconds, timestamps ISO 8601 without a zone), at most one of failure, error and
// skipped per testcase, each suite's counts equal to its testcases' and the root's to the
// sum of the suites', and no two testcases with the same classname and name.
func CheckJUnit(data []byte) (junitCounts, error) {
	if !bytes.HasPrefix(data, []byte("<?xml")) {
		return junitCounts{}, errors.New("no XML declaration")
	}
	root, err := parseXML(data)
	if err != nil {
		return junitCounts{}, err
	}
	if root.name != "testsuites" {
		return junitCounts{}, fmt.Errorf("root element is <%s>, not <testsuites>", root.name)
	}
	schema := junitSchema()
	if err := checkNode(root, schema, "/testsuites"); err != nil {
		return junitCounts{}, err
	}
	c := junitCounts{Messages: map[string]string{}}
	seen := map[string]bool{}
	var sum [4]int
	for i, suite := range root.children {
		path := fmt.Sprintf("/testsuites/testsuite[%d]", i+1)
		var got [4]int // tests, failures, errors, skipped
		for _, tc := range suite.children {
			if tc.name != "testcase" {
				continue
			}
			got[0]++
			key := tc.attrs["classname"] + " / " + tc.attrs["name"]
			if seen[key] {
				return c, fmt.Errorf("%s: testcase %q twice", path, key)
			}
			seen[key] = true
			c.Cases = append(c.Cases, key)
			for _, p := range tc.children {
				switch p.name {
				case "failure":
					got[1]++
					c.Messages[key] = p.attrs["message"]
				case "error":
					got[2]++
					c.Messages[key] = p.attrs["message"]
				case "skipped":
					got[3]++
				}
			}
		}
		for j, attr := range []string{"tests", "failures", "errors", "skipped"} {
			if n := atoi(suite.attrs[attr]); n != got[j] {
				return c, fmt.Errorf("%s: %s=%d but it holds %d", path, attr, n, got[j])
			}
			sum[j] += got[j]
		}
		c.Suites++
	}
	for j, attr := range []string{"tests", "failures", "errors", "skipped"} {
		if n := atoi(root.attrs[attr]); n != sum[j] {
			return c, fmt.Errorf("/testsuites: %s=%d but its suites hold %d", attr, n, sum[j])
		}
	}
	c.Tests, c.Failures, c.Errors, c.Skipped = sum[0], sum[1], sum[2], sum[3]
	return c, nil
}

// parseXML reads a document into a tree, refusing anything but one root element.
func parseXML(data []byte) (*node, error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	var stack []*node
	var root *node
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("not well-formed XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			n := &node{name: t.Name.Local, attrs: map[string]string{}}
			if t.Name.Space != "" {
				return nil, fmt.Errorf("element <%s> in namespace %q", t.Name.Local, t.Name.Space)
			}
			for _, a := range t.Attr {
				if _, dup := n.attrs[a.Name.Local]; dup {
					return nil, fmt.Errorf("<%s>: attribute %s twice", n.name, a.Name.Local)
				}
				n.attrs[a.Name.Local] = a.Value
			}
			switch {
			case len(stack) > 0:
				parent := stack[len(stack)-1]
				parent.children = append(parent.children, n)
			case root != nil:
				return nil, errors.New("more than one root element")
			default:
				root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(t)
			} else if len(bytes.TrimSpace(t)) > 0 {
				return nil, errors.New("text outside the root element")
			}
		}
	}
	if root == nil {
		return nil, errors.New("no root element")
	}
	return root, nil
}

// checkNode checks an element and its children against the schema.
func checkNode(n *node, schema map[string]junitElement, path string) error {
	el, ok := schema[n.name]
	if !ok {
		return fmt.Errorf("%s: element not in the JUnit schema", path)
	}
	for _, a := range el.required {
		v, ok := n.attrs[a]
		if !ok {
			return fmt.Errorf("%s: required attribute %s missing", path, a)
		}
		if strings.TrimSpace(v) == "" && !(n.name == "property" && a == "value") {
			return fmt.Errorf("%s: attribute %s empty", path, a)
		}
	}
	for a, v := range n.attrs {
		if !slices.Contains(el.required, a) && !slices.Contains(el.optional, a) {
			return fmt.Errorf("%s: attribute %s not in the JUnit schema", path, a)
		}
		if err := checkValue(a, v); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	if !el.text && strings.TrimSpace(n.text.String()) != "" {
		return fmt.Errorf("%s: text where only elements may be", path)
	}
	if el.body && strings.TrimSpace(n.text.String()) == "" {
		return fmt.Errorf("%s: empty body", path)
	}
	// Children: in the schema's order, each at most once unless repeated, one of a group.
	pos, count, group := 0, map[string]int{}, map[int]string{}
	for i, c := range n.children {
		at := slices.IndexFunc(el.children, func(ch junitChild) bool { return ch.name == c.name })
		cpath := fmt.Sprintf("%s/%s[%d]", path, c.name, i+1)
		if at < 0 {
			return fmt.Errorf("%s: <%s> may not hold <%s>", cpath, n.name, c.name)
		}
		if at < pos {
			return fmt.Errorf("%s: out of order in <%s>", cpath, n.name)
		}
		pos = at
		ch := el.children[at]
		if count[c.name]++; count[c.name] > 1 && !ch.repeated {
			return fmt.Errorf("%s: more than one <%s>", cpath, c.name)
		}
		if ch.oneOf != 0 {
			if other, ok := group[ch.oneOf]; ok && other != c.name {
				return fmt.Errorf("%s: <%s> and <%s> together", cpath, other, c.name)
			}
			group[ch.oneOf] = c.name
		}
		if err := checkNode(c, schema, cpath); err != nil {
			return err
		}
	}
	return nil
}

// checkValue checks the form of the attributes that hold numbers and times.
func checkValue(attr, v string) error {
	switch attr {
	case "tests", "failures", "errors", "skipped", "disabled", "assertions", "line":
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || (attr == "line" && n == 0) {
			return fmt.Errorf("attribute %s=%q is not a count", attr, v)
		}
	case "time":
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
			return fmt.Errorf("attribute time=%q is not seconds", v)
		}
	case "timestamp":
		if _, err := time.Parse("2006-01-02T15:04:05", v); err != nil {
			return fmt.Errorf("attribute timestamp=%q is not ISO 8601 without a zone", v)
		}
	}
	return nil
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return n
}
