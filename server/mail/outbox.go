package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	netmail "net/mail"
	"os"
	"path/filepath"
	"time"
)

// Outbox is a Sender that writes every message as an RFC 5322 file
// "<UTC timestamp>-<random>.eml" into a directory instead of delivering it.
// Files appear atomically (temp file + rename), so a reader globbing *.eml
// never sees a partial message. Safe for concurrent use.
type Outbox struct {
	dir    string
	from   *netmail.Address
	logger *slog.Logger
}

// NewOutbox creates dir (mode 0700) if needed. A nil logger means
// slog.Default().
func NewOutbox(dir, from string, logger *slog.Logger) (*Outbox, error) {
	if dir == "" {
		return nil, errors.New("mail: outbox directory is empty")
	}
	f, err := parseFrom(from)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("mail: creating outbox: %w", err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("mail: outbox path: %w", err)
	}
	if logger == nil {
		logger = slog.Default()
	}
	return &Outbox{dir: abs, from: f, logger: logger}, nil
}

// Dir returns the absolute outbox directory.
func (o *Outbox) Dir() string { return o.dir }

// Send writes m to a new .eml file and logs its path, recipient and subject
// (never the body).
func (o *Outbox) Send(ctx context.Context, m Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := time.Now()
	msg, err := buildMsg(o.from, m, now)
	if err != nil {
		return err
	}
	suffix, err := randomHex(8)
	if err != nil {
		return err
	}
	name := now.UTC().Format("20060102T150405.000000000Z") + "-" + suffix + ".eml"
	final := filepath.Join(o.dir, name)

	// CreateTemp uses mode 0600. The leading dot and the suffix keep the
	// temp file out of "*.eml" globs.
	tmp, err := os.CreateTemp(o.dir, ".tmp-*.eml.part")
	if err != nil {
		return fmt.Errorf("mail: outbox: %w", err)
	}
	tmpName := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			_ = tmp.Close()
			_ = os.Remove(tmpName)
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("mail: outbox: %w", err)
	}
	if _, err := msg.WriteTo(tmp); err != nil {
		return fmt.Errorf("mail: outbox: writing message: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("mail: outbox: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("mail: outbox: %w", err)
	}
	if err := os.Rename(tmpName, final); err != nil {
		return fmt.Errorf("mail: outbox: %w", err)
	}
	ok = true
	syncDir(o.dir)

	o.logger.LogAttrs(ctx, slog.LevelInfo, "mail written to outbox",
		slog.String("path", final),
		slog.String("to", m.To),
		slog.String("subject", m.Subject),
	)
	return nil
}

// syncDir makes the rename durable; best effort.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}
