// Package contractcheck compares a new upstream contract with the one omsd
// serves: it applies the project's overlay to the new file the way
// `make generate` does (oapi-codegen's loader, the speakeasy overlay library,
// strict mode), reports overlay actions whose target no longer matches, and
// diffs the two effective contracts with oasdiff, whose backward
// compatibility checks decide what breaks existing clients.
package contractcheck

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/oapi-codegen/oapi-codegen/v2/pkg/codegen"
	"github.com/oasdiff/oasdiff/checker"
	"github.com/oasdiff/oasdiff/diff"
	"github.com/oasdiff/oasdiff/load"
	"github.com/speakeasy-api/openapi/overlay"
	"gopkg.in/yaml.v3"
)

// ErrUnusable marks input that cannot be checked at all (not OpenAPI 3, an
// overlay that does not parse): the command exits 2 on it.
var ErrUnusable = errors.New("unusable input")

// OverlayProblem is an overlay action that does not apply to the new file.
type OverlayProblem struct {
	Index  int    // 1-based, as in the overlay file
	Kind   string // update, remove or copy
	Target string // the action's JSONPath
	Reason string
}

func (p OverlayProblem) String() string {
	return fmt.Sprintf("action %d (%s) %s: %s", p.Index, p.Kind, p.Target, p.Reason)
}

// Operation names one operation of a contract.
type Operation struct {
	Method, Path string
	// Handler is the gen.StrictServerInterface method that serves it: the
	// operationId as oapi-codegen names it (the embedded contract already
	// holds these names; a new upstream file holds the raw ids).
	Handler string
}

func (o Operation) String() string {
	return fmt.Sprintf("%s %s (%s)", o.Method, o.Path, o.Handler)
}

// Change is one finding of oasdiff's checks.
type Change struct {
	ID        string // oasdiff rule id, e.g. api-removed-without-deprecation
	Operation string // METHOD /path, or empty for document-level changes
	Text      string
}

func (c Change) String() string {
	if c.Operation == "" {
		return fmt.Sprintf("%s [%s]", c.Text, c.ID)
	}
	return fmt.Sprintf("%s: %s [%s]", c.Operation, c.Text, c.ID)
}

// Report is the outcome of a check.
type Report struct {
	Overlay  []OverlayProblem
	Breaking []Change // oasdiff level ERR
	Warnings []Change // oasdiff level WARN: worth a look, not failing
	Added    []Operation
	Removed  []Operation
	Current  int // operations before
	New      int // operations after
}

// Fails reports whether the new contract would break clients or generation.
func (r *Report) Fails() bool { return len(r.Overlay) > 0 || len(r.Breaking) > 0 }

// ApplyOverlay applies ov to the upstream document as `make generate` does
// (oapi-codegen v2 util.LoadSwaggerWithOverlay in strict mode), one action at
// a time so every action whose target no longer matches is reported instead
// of only the first failure. Actions that do not match are skipped; the
// result is what the contract becomes with the others applied.
func ApplyOverlay(upstream []byte, name string, ov []byte) (*openapi3.T, []OverlayProblem, error) {
	spec, err := loadOpenAPI(upstream, name)
	if err != nil {
		return nil, nil, err
	}
	o, err := overlay.ParseReader(bytes.NewReader(ov))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: overlay: %w", ErrUnusable, err)
	}
	if err := o.Validate(); err != nil {
		return nil, nil, fmt.Errorf("%w: overlay is not valid: %w", ErrUnusable, err)
	}
	// oapi-codegen encodes the loaded document to YAML (indent 2) and
	// applies the overlay to that node tree; so do we.
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(spec); err != nil {
		return nil, nil, fmt.Errorf("%w: encoding %s: %w", ErrUnusable, name, err)
	}
	var root yaml.Node
	if err := yaml.NewDecoder(&buf).Decode(&root); err != nil {
		return nil, nil, fmt.Errorf("%w: decoding %s: %w", ErrUnusable, name, err)
	}
	var problems []OverlayProblem
	for i, a := range o.Actions {
		kind := actionKind(a)
		bad := func(reason string) {
			problems = append(problems, OverlayProblem{Index: i + 1, Kind: kind, Target: a.Target, Reason: reason})
		}
		p, err := o.NewPath(a.Target, nil)
		if err != nil {
			bad("target is not a valid JSONPath: " + err.Error())
			continue
		}
		if len(p.Query(&root)) == 0 {
			bad("target no longer matches anything")
			continue
		}
		one := *o
		one.Actions = []overlay.Action{a}
		if _, err := one.ApplyToStrict(&root); err != nil {
			bad(err.Error())
		}
	}
	out, err := yaml.Marshal(&root)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: serialising the overlaid contract: %w", ErrUnusable, err)
	}
	eff, err := loadOpenAPI(out, name)
	if err != nil {
		return nil, nil, fmt.Errorf("the overlaid contract does not load: %w", err)
	}
	return eff, problems, nil
}

func actionKind(a overlay.Action) string {
	switch {
	case a.Remove:
		return "remove"
	case !a.Update.IsZero():
		return "update"
	case a.Copy != "":
		return "copy"
	}
	return "unknown"
}

// loadOpenAPI loads a document like oapi-codegen does, refusing external
// references (a contract check must not fetch or read anything else).
func loadOpenAPI(data []byte, name string) (*openapi3.T, error) {
	l := openapi3.NewLoader()
	l.IsExternalRefsAllowed = false
	spec, err := l.LoadFromDataWithPath(data, &url.URL{Path: name})
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not an OpenAPI document: %w", ErrUnusable, name, err)
	}
	if !strings.HasPrefix(spec.OpenAPI, "3.") || spec.Paths == nil || spec.Paths.Len() == 0 {
		return nil, fmt.Errorf("%w: %s is not an OpenAPI 3 document with paths", ErrUnusable, name)
	}
	return spec, nil
}

// Check compares the current effective contract with the new upstream file
// plus the overlay.
func Check(current *openapi3.T, upstream []byte, name string, ov []byte) (*Report, error) {
	next, problems, err := ApplyOverlay(upstream, name, ov)
	if err != nil {
		return nil, err
	}
	r, err := Compare(current, next)
	if err != nil {
		return nil, err
	}
	r.Overlay = problems
	return r, nil
}

// Compare diffs two effective contracts with oasdiff and runs all its
// backward-compatibility checks.
func Compare(current, next *openapi3.T) (*Report, error) {
	base := &load.SpecInfo{Url: "current", Spec: current, Version: current.Info.Version}
	rev := &load.SpecInfo{Url: "new", Spec: next, Version: next.Info.Version}
	d, sources, err := diff.GetWithOperationsSourcesMap(diff.NewConfig(), base, rev)
	if err != nil {
		return nil, fmt.Errorf("diffing the contracts: %w", err)
	}
	r := &Report{}
	l := checker.NewDefaultLocalizer()
	for _, c := range checker.CheckBackwardCompatibilityUntilLevel(checker.NewConfig(checker.GetAllChecks()), d, sources, checker.WARN) {
		ch := Change{ID: c.GetId(), Text: c.GetUncolorizedText(l)}
		if c.GetOperation() != "" {
			ch.Operation = c.GetOperation() + " " + c.GetPath()
		}
		if c.GetLevel() == checker.ERR {
			r.Breaking = append(r.Breaking, ch)
		} else {
			r.Warnings = append(r.Warnings, ch)
		}
	}
	cur, nxt := operations(current), operations(next)
	r.Current, r.New = len(cur), len(nxt)
	for k, op := range nxt {
		if _, ok := cur[k]; !ok {
			r.Added = append(r.Added, op)
		}
	}
	for k, op := range cur {
		if _, ok := nxt[k]; !ok {
			r.Removed = append(r.Removed, op)
		}
	}
	sortOps(r.Added)
	sortOps(r.Removed)
	return r, nil
}

// operations keys every operation by method and path template with the
// parameter names blanked, so renaming {id} to {orderId} is not a new route.
func operations(spec *openapi3.T) map[string]Operation {
	m := map[string]Operation{}
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			m[method+" "+blankParams(path)] = Operation{Method: method, Path: path, Handler: handlerName(op.OperationID)}
		}
	}
	return m
}

// handlerName is oapi-codegen's name for an operationId with this
// project's configuration (the name normalizer ToCamelCaseWithInitialisms).
// Applied to an id it produced already, it changes nothing.
func handlerName(id string) string {
	if id == "" {
		return "(no operationId: oapi-codegen derives one from the path)"
	}
	parts := camelParts.FindAllString(codegen.ToCamelCaseWithDigits(id), -1)
	for i, p := range parts {
		if v, ok := initialisms[strings.ToLower(p)]; ok {
			parts[i] = v
		}
	}
	return strings.Join(parts, "")
}

// camelParts and initialisms are what oapi-codegen's ToCamelCaseWithInitialisms
// uses (v2.8.2); its own copy is only set up inside a generator run.
// TestHandlerNamesMatchTheGeneratedInterface keeps them in step.
var camelParts = regexp.MustCompile(`[\p{Lu}\d]+([\p{Ll}\d]+|$)`)

var initialisms = func() map[string]string {
	m := map[string]string{}
	for _, w := range []string{"ACL", "API", "ASCII", "CPU", "CSS", "DNS", "EOF", "GUID", "HTML", "HTTP", "HTTPS", "ID", "IP", "JSON",
		"QPS", "RAM", "RPC", "SLA", "SMTP", "SQL", "SSH", "TCP", "TLS", "TTL", "UDP", "UI", "GID", "UID", "UUID",
		"URI", "URL", "UTF8", "VM", "XML", "XMPP", "XSRF", "XSS", "SIP", "RTP", "AMQP", "DB", "TS"} {
		m[strings.ToLower(w)] = w
	}
	return m
}()

func blankParams(p string) string {
	var b strings.Builder
	depth := 0
	for _, r := range p {
		switch {
		case r == '{':
			depth++
			b.WriteString("{}")
		case r == '}':
			depth--
		case depth == 0:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func sortOps(ops []Operation) {
	sort.Slice(ops, func(i, j int) bool {
		if ops[i].Path != ops[j].Path {
			return ops[i].Path < ops[j].Path
		}
		return ops[i].Method < ops[j].Method
	})
}
