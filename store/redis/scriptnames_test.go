package redis

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// Every Lua script of the store has a name in the command metrics: a
// script left out shows as "other", which is how the back-office commit,
// the hottest of them, went unnamed.
func TestEveryScriptIsNamed(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	decl := regexp.MustCompile(`(?m)^var (\w+) = goredis\.NewScript\(`)
	var declared []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range decl.FindAllStringSubmatch(string(b), -1) {
			declared = append(declared, m[1])
		}
	}
	var named []string
	for name, s := range namedScripts {
		named = append(named, name)
		if scriptNames[s.Hash()] != name {
			t.Errorf("script %s: metrics name %q", name, scriptNames[s.Hash()])
		}
	}
	slices.Sort(declared)
	slices.Sort(named)
	if len(declared) < 19 || !slices.Equal(declared, named) {
		t.Fatalf("scripts declared %v\nnamed in the metrics %v", declared, named)
	}
}
