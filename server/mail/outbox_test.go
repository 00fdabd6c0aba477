package mail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

var emlName = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}\.[0-9]{9}Z-[0-9a-f]{16}\.eml$`)

func newTestOutbox(t *testing.T) (*Outbox, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&syncWriter{w: &buf}, nil))
	dir := filepath.Join(t.TempDir(), "outbox", "nested")
	o, err := NewOutbox(dir, testFrom, logger)
	if err != nil {
		t.Fatalf("NewOutbox: %v", err)
	}
	return o, &buf
}

// syncWriter serialises writes to a buffer shared by goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.String()
}

func emlFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if !emlName.MatchString(e.Name()) {
			t.Errorf("unexpected file in outbox: %q", e.Name())
			continue
		}
		names = append(names, filepath.Join(dir, e.Name()))
	}
	return names
}

func TestOutboxWritesRecoveryMail(t *testing.T) {
	o, logBuf := newTestOutbox(t)
	if !filepath.IsAbs(o.Dir()) {
		t.Errorf("Dir() = %q, want absolute", o.Dir())
	}
	st, err := os.Stat(o.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if perm := st.Mode().Perm(); perm != 0o700 {
		t.Errorf("outbox dir mode = %o, want 700", perm)
	}

	const code = "724051"
	if err := o.Send(context.Background(), RecoveryCode("alice@example.com", code, 15*time.Minute)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	files := emlFiles(t, o.Dir())
	if len(files) != 1 {
		t.Fatalf("outbox has %d .eml files, want 1", len(files))
	}
	path := files[0]
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("file mode = %o, want 600", perm)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p := parseMIME(t, raw)
	if p.subject != RecoverySubject {
		t.Errorf("Subject = %q", p.subject)
	}
	if !strings.Contains(p.header.Get("From"), "no-reply@vero.example") || p.header.Get("To") != "<alice@example.com>" {
		t.Errorf("From/To = %q / %q", p.header.Get("From"), p.header.Get("To"))
	}
	if p.header.Get("Message-Id") == "" || p.header.Get("Date") == "" {
		t.Error("missing Message-ID or Date")
	}
	if !strings.Contains(p.text, code) || !strings.Contains(p.html, code) {
		t.Error("code missing from text or html part")
	}
	if c, ok := ExtractCode(raw); !ok || c != code {
		t.Errorf("ExtractCode = %q, %v; want %q", c, ok, code)
	}

	logs := logBuf.String()
	for _, want := range []string{"level=INFO", "path=" + path, "to=alice@example.com", RecoverySubject} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	// The path itself is digits-heavy (timestamp, TempDir suffix); remove it
	// before checking that the code never reached the log.
	if rest := strings.ReplaceAll(logs, path, "<path>"); strings.Contains(rest, code) {
		t.Errorf("log contains the recovery code:\n%s", logs)
	}
	if strings.Contains(logs, "recovery code is") || strings.Contains(logs, "expires in") {
		t.Errorf("log contains the body:\n%s", logs)
	}
}

func TestOutboxConcurrentSends(t *testing.T) {
	o, _ := newTestOutbox(t)
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			code := fmt.Sprintf("%06d", 100000+i)
			errs <- o.Send(context.Background(), RecoveryCode(fmt.Sprintf("user%d@example.com", i), code, time.Minute))
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	files := emlFiles(t, o.Dir())
	if len(files) != n {
		t.Fatalf("got %d files, want %d", len(files), n)
	}
	seen := map[string]bool{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		c, ok := ExtractCode(raw)
		if !ok || seen[c] {
			t.Errorf("%s: code %q ok=%v duplicate=%v", f, c, ok, seen[c])
		}
		seen[c] = true
	}
}

func TestOutboxRejectsInvalid(t *testing.T) {
	o, logBuf := newTestOutbox(t)
	err := o.Send(context.Background(), Message{To: "nobody", Subject: "x", Text: "top-secret"})
	if !errors.Is(err, ErrInvalidMessage) {
		t.Fatalf("err = %v, want ErrInvalidMessage", err)
	}
	if strings.Contains(err.Error(), "top-secret") {
		t.Errorf("error leaks body: %v", err)
	}
	if files := emlFiles(t, o.Dir()); len(files) != 0 {
		t.Errorf("files written: %v", files)
	}
	if logBuf.Len() != 0 {
		t.Errorf("unexpected log: %s", logBuf)
	}

	if _, err := NewOutbox("", testFrom, nil); err == nil {
		t.Error("NewOutbox accepted empty dir")
	}
	if _, err := NewOutbox(t.TempDir(), "bogus", nil); err == nil {
		t.Error("NewOutbox accepted bad from")
	}
}
