package server

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
)

// secretWords mark a name as holding a secret or a value derived from one
// (MACs, hashes, codes, tokens, keys). Names are split into camelCase and
// snake_case words before matching, so "CodeMAC" and "token_hash" match and
// "Encode" or "Monkey" do not.
var secretWords = map[string]bool{
	"mac": true, "hmac": true, "hash": true, "digest": true, "sum": true,
	"code": true, "otp": true, "token": true, "jwt": true, "secret": true,
	"signature": true, "sig": true, "password": true, "passwd": true, "pw": true,
	"cookie": true, "key": true, "nonce": true, "candidate": true, "phc": true,
}

// variableTimeCompares are functions that return early at the first
// differing byte; the allowed ones are subtle.ConstantTimeCompare and
// hmac.Equal.
var variableTimeCompares = map[string]bool{
	"bytes.Equal": true, "bytes.Compare": true, "bytes.EqualFold": true, "bytes.HasPrefix": true,
	"strings.Compare": true, "strings.EqualFold": true, "strings.HasPrefix": true,
	"slices.Equal": true, "slices.Compare": true, "reflect.DeepEqual": true,
}

// reviewedCompares are variable-time comparisons of secret-looking values
// that leak nothing, by file (from the module root) and expression. An entry
// that no longer matches anything fails the lint, so the list stays true.
var reviewedCompares = map[string]string{
	"server/password/policy.go: strings.EqualFold(pw, email)":              "policy check of a new password against the caller's own address",
	"server/password/policy.go: strings.EqualFold(pw, local)":              "policy check of a new password against the caller's own address",
	"store/memory/auth.go: i.PasswordHash != oldHash":                      "compare-and-swap of two stored hashes; no caller-supplied value",
	"store/memory/auth.go: sess.TokenHash != tokenHash":                    "SHA-256 of a 256-bit random token, found by that very hash",
	"store/redis/auth.go: sess.TokenHash != tokenHash":                     "SHA-256 of a 256-bit random token, found by that very hash",
	"store/redis/auth.go: old.TokenHash != sess.TokenHash":                 "two server-made token hashes of one session record",
	"store/storetest/auth.go: got.PasswordHash != hash(w)":                 "conformance-suite assertion, not server code",
	"store/storetest/counters.go: n != wantCount":                          "conformance-suite assertion on a counter, not server code",
	"server/password/hash.go: p != h.params":                               "argon2id cost parameters read from a hash; public by design",
	"server/stream/access.go: user != c.UserID()":                          "two identities' emails, both read from verified JWTs of live sessions; no secret",
	"server/marketdata/index.go: st.ix.Code == code":                       "a market index's code (VN30) from the instruments file and a channel name; public",
	"server/fix/message.go: trailer != computed":                           "a FIX CheckSum: a public sum of the message's own bytes that detects corruption; no secret",
	"server/fixacceptor/config.go: strings.HasPrefix(phc, \"$argon2id$\")": "format check of a configured argon2id hash at start-up; the secret itself is checked by password.Hasher.Verify",
}

// The timing lint: in the module's non-test code, values whose names mark
// them as MACs, hashes, codes, tokens or secrets are compared only with
// subtle.ConstantTimeCompare or hmac.Equal, never with ==, != or a
// variable-time function such as bytes.Equal. Comparisons with a literal,
// nil or a length reveal nothing secret and are allowed.
func TestSecretsAreComparedInConstantTime(t *testing.T) {
	root := moduleRoot(t)
	fset := token.NewFileSet()
	files := 0
	var findings []string
	used := map[string]bool{}
	type parsed struct {
		rel  string
		file *ast.File
	}
	var all []parsed
	consts := map[string]map[string]bool{} // directory -> package-level constants
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		all = append(all, parsed{filepath.ToSlash(rel), f})
		dir := filepath.Dir(path)
		if consts[dir] == nil {
			consts[dir] = map[string]bool{}
		}
		for name := range constNames(f) {
			consts[dir][name] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range all {
		files++
		for _, f := range variableTimeSecretCompares(fset, p.file, consts[filepath.Dir(filepath.Join(root, p.rel))]) {
			key := p.rel + ": " + f.expr
			if _, ok := reviewedCompares[key]; ok {
				used[key] = true
				continue
			}
			findings = append(findings, f.String())
		}
	}
	if files < 30 {
		t.Fatalf("only %d Go files under %s: the lint lost its reach", files, root)
	}
	for _, f := range findings {
		t.Errorf("%s: compare secrets with subtle.ConstantTimeCompare or hmac.Equal "+
			"(or, if it leaks nothing, add it to reviewedCompares with the reason)", f)
	}
	for key := range reviewedCompares {
		if !used[key] {
			t.Errorf("reviewedCompares: %q matches nothing any more; remove it", key)
		}
	}
}

// The lint catches the comparisons it is there for, and only those.
func TestSecretCompareLintFindsVariableTimeCompares(t *testing.T) {
	const src = `package p
import "github.com/vero-oms/omsd/server/apperr"
func f() {
	_ = bytes.Equal(candidate, rec.CodeMAC) // finding
	_ = !bytes.Equal(s.codeMAC(k, c), want) // finding
	_ = string(got) == string(rec.CodeMAC) // finding
	_ = sess.TokenHash != hashToken(tok) // finding
	_ = strings.EqualFold(sig, expected) // finding
	if subtle.ConstantTimeCompare(candidate, rec.CodeMAC) != 1 {}
	_ = hmac.Equal(mac, want)
	_ = code == ""
	_ = len(token) == 0
	_ = res.StatusCode == 200
	_ = secret != nil
	_ = a.Encode == b
	_ = bytes.Equal(body, other)
	_ = name == other
	got, err := h.derive(ctx, password, salt, p)
	_ = bytes.Equal(got, want) // finding
	n, err := strconv.Atoi(code)
	_ = n == limit // finding: a number, but derived from a code
	_ = parts[1] != phcAlgorithm
	_ = e.Code == apperr.TooManyAttempts
	status, code := 500, apperr.Code(apperr.Internal)
	_ = status == want
}
const phcAlgorithm = "argon2id"`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "p.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := variableTimeSecretCompares(fset, f, constNames(f))
	var lines []string
	for _, g := range got {
		lines = append(lines, g.String())
	}
	if len(got) != 7 {
		t.Fatalf("%d findings, want 7:\n%s", len(got), strings.Join(lines, "\n"))
	}
	for i, line := range []int{4, 5, 6, 7, 8, 19, 21} {
		if !strings.HasPrefix(lines[i], fmt.Sprintf("p.go:%d:", line)) {
			t.Errorf("finding %d: %s, want line %d", i, lines[i], line)
		}
	}
}

// finding is one variable-time comparison of a secret-looking value.
type finding struct {
	pos  token.Position
	expr string // the comparison, as source
	what string
}

func (f finding) String() string { return fmt.Sprintf("%s: %s: %s", f.pos, f.expr, f.what) }

// constNames lists the package-level constants a file declares.
func constNames(f *ast.File) map[string]bool {
	out := map[string]bool{}
	for _, d := range f.Decls {
		if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.CONST {
			for _, spec := range g.Specs {
				for _, id := range spec.(*ast.ValueSpec).Names {
					out[id.Name] = true
				}
			}
		}
	}
	return out
}

// variableTimeSecretCompares lists the variable-time comparisons of
// secret-looking values in f; consts are the package's constants (a
// comparison with a constant, or with another package's exported name,
// reveals nothing secret).
func variableTimeSecretCompares(fset *token.FileSet, f *ast.File, consts map[string]bool) []finding {
	imported := map[string]bool{}
	for _, im := range f.Imports {
		name := strings.Trim(im.Path.Value, `"`)
		name = name[strings.LastIndexByte(name, '/')+1:]
		if im.Name != nil {
			name = im.Name.Name
		}
		imported[name] = true
	}
	constant := func(e ast.Expr) bool {
		switch e := ast.Unparen(e).(type) {
		case *ast.Ident:
			return consts[e.Name]
		case *ast.SelectorExpr:
			x, ok := e.X.(*ast.Ident)
			return ok && imported[x.Name] && ast.IsExported(e.Sel.Name)
		}
		return false
	}
	var out []finding
	report := func(n ast.Expr, what string) {
		out = append(out, finding{pos: fset.Position(n.Pos()), expr: types.ExprString(n), what: what})
	}
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Body == nil {
			continue
		}
		derived := derivedSecrets(fn.Body)
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.BinaryExpr:
				if n.Op != token.EQL && n.Op != token.NEQ {
					return true
				}
				if harmless(n.X) || harmless(n.Y) || constant(n.X) || constant(n.Y) {
					return true
				}
				if w := secretName(n.X, derived) + secretName(n.Y, derived); w != "" {
					report(n, fmt.Sprintf("%s on%s", n.Op, w))
				}
			case *ast.CallExpr:
				sel, ok := n.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				pkg, ok := sel.X.(*ast.Ident)
				if !ok || !variableTimeCompares[pkg.Name+"."+sel.Sel.Name] {
					return true
				}
				for _, a := range n.Args {
					if w := secretName(a, derived); w != "" {
						report(n, fmt.Sprintf("%s.%s on%s", pkg.Name, sel.Sel.Name, w))
						break
					}
				}
			}
			return true
		})
	}
	return out
}

// derivedSecrets follows secrets through a function body: a local assigned
// from a call given a secret (got, err := h.derive(ctx, password, salt, p))
// holds a secret too.
func derivedSecrets(body *ast.BlockStmt) map[string]bool {
	derived := map[string]bool{}
	var taint func(lhs []ast.Expr, rhs []ast.Expr) bool
	taint = func(lhs []ast.Expr, rhs []ast.Expr) bool {
		if len(lhs) == len(rhs) && len(lhs) > 1 { // a, b := x, y: pair them
			changed := false
			for i := range lhs {
				changed = taint(lhs[i:i+1], rhs[i:i+1]) || changed
			}
			return changed
		}
		secret := false
		for _, r := range rhs {
			if call, ok := ast.Unparen(r).(*ast.CallExpr); ok {
				for _, a := range call.Args {
					if secretName(a, derived) != "" {
						secret = true
					}
				}
			}
		}
		changed := false
		for _, l := range lhs {
			id, ok := l.(*ast.Ident)
			if secret && ok && id.Name != "_" && id.Name != "err" && id.Name != "ok" && !derived[id.Name] {
				derived[id.Name] = true
				changed = true
			}
		}
		return changed
	}
	for changed := true; changed; {
		changed = false
		ast.Inspect(body, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.AssignStmt:
				changed = taint(n.Lhs, n.Rhs) || changed
			case *ast.ValueSpec:
				lhs := make([]ast.Expr, len(n.Names))
				for i, id := range n.Names {
					lhs[i] = id
				}
				changed = taint(lhs, n.Values) || changed
			}
			return true
		})
	}
	return derived
}

// harmless operands make a comparison reveal nothing secret: literals, nil,
// booleans and lengths.
func harmless(e ast.Expr) bool {
	switch e := ast.Unparen(e).(type) {
	case *ast.BasicLit:
		return true
	case *ast.Ident:
		return e.Name == "nil" || e.Name == "true" || e.Name == "false"
	case *ast.CallExpr:
		if id, ok := e.Fun.(*ast.Ident); ok && (id.Name == "len" || id.Name == "cap") {
			return true
		}
	}
	return false
}

// secretName returns the names in e that mark it as secret (with a leading
// space each), or "" when none does: secret-looking names and the locals
// derived from them. It looks through conversions, slicing, dereferences
// and selector chains (not indexing: m[k] of a map named after its keys is
// not one of them), and at the name of a called function (s.codeMAC(...)
// is a MAC).
func secretName(e ast.Expr, derived map[string]bool) string {
	var found string
	var walk func(ast.Expr)
	walk = func(e ast.Expr) {
		switch e := ast.Unparen(e).(type) {
		case *ast.Ident:
			if isSecretName(e.Name) || derived[e.Name] {
				found += " " + e.Name
			}
		case *ast.SelectorExpr:
			// rec.CodeMAC and cookie.Value are secrets; got.State of a
			// derived got is not.
			if x, ok := e.X.(*ast.Ident); ok && isSecretName(x.Name) {
				found += " " + x.Name
			} else if _, ok := e.X.(*ast.Ident); !ok {
				walk(e.X)
			}
			walk(e.Sel)
		case *ast.SliceExpr:
			walk(e.X)
		case *ast.StarExpr:
			walk(e.X)
		case *ast.CallExpr:
			if len(e.Args) == 1 && isConversion(e.Fun) {
				walk(e.Args[0])
				return
			}
			switch fn := e.Fun.(type) {
			case *ast.Ident:
				walk(fn)
			case *ast.SelectorExpr:
				walk(fn.Sel)
			}
		}
	}
	walk(e)
	return found
}

func isConversion(fun ast.Expr) bool {
	switch f := fun.(type) {
	case *ast.Ident:
		return f.Name == "string"
	case *ast.ArrayType:
		id, ok := f.Elt.(*ast.Ident)
		return ok && f.Len == nil && (id.Name == "byte" || id.Name == "rune")
	}
	return false
}

func isSecretName(name string) bool {
	ws := words(name)
	for i, w := range ws {
		if w == "code" && i > 0 && publicCodes[ws[i-1]] {
			continue // AccountCode, ClientCode: identifiers, not recovery codes
		}
		if secretWords[w] {
			return true
		}
	}
	return false
}

// publicCodes are the words before "code" that name a public identifier.
var publicCodes = map[string]bool{"account": true, "client": true, "invest": true, "status": true, "error": true}

// words splits camelCase, PascalCase, ALLCAPS runs and snake_case into
// lower-case words: "CodeMAC" -> code, mac; "hashToken" -> hash, token.
func words(name string) []string {
	var out []string
	rs := []rune(name)
	start := 0
	flush := func(end int) {
		if end > start {
			out = append(out, strings.ToLower(string(rs[start:end])))
		}
		start = end
	}
	for i := 0; i < len(rs); i++ {
		switch {
		case rs[i] == '_' || unicode.IsDigit(rs[i]):
			flush(i)
			start = i + 1
		case i > start && unicode.IsUpper(rs[i]) &&
			(unicode.IsLower(rs[i-1]) || i+1 < len(rs) && unicode.IsLower(rs[i+1])):
			flush(i)
		}
	}
	flush(len(rs))
	return out
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
}
