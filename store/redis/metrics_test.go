package redis_test

import (
	"context"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/vero-oms/omsd/store/redis"
	"github.com/vero-oms/omsd/store/redis/redistest"
)

// commandLog records what a redis.Observer is told.
type commandLog struct {
	mu   sync.Mutex
	seen []observed
}

type observed struct {
	name, script string
	failed       bool
}

func (l *commandLog) Command(name, script string, elapsed time.Duration, failed bool) {
	if elapsed <= 0 {
		panic("no elapsed time")
	}
	l.mu.Lock()
	l.seen = append(l.seen, observed{name, script, failed})
	l.mu.Unlock()
}

// take returns what was observed since the last take, handshakes left out.
func (l *commandLog) take() []observed {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []observed
	for _, o := range l.seen {
		if o.name != redis.SetupCommand && o.name != "hello" && o.name != "client" {
			out = append(out, o)
		}
	}
	l.seen = nil
	return out
}

func (l *commandLog) expect(t *testing.T, what string, want ...observed) {
	t.Helper()
	got := l.take()
	if len(got) != len(want) {
		t.Fatalf("%s: observed %+v, want %+v", what, got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%s: observed %+v, want %+v", what, got, want)
		}
	}
}

func TestObserverSeesEveryCommand(t *testing.T) {
	srv := redistest.StartRedis(t)
	log := &commandLog{}
	s, prefix := open(t, srv, redis.Options{URL: srv.URL(), Observer: log})
	ctx := context.Background()
	raw := srv.NewClient(t)
	log.take() // Open's ping and handshake

	// A script, by name (once the server has it cached); a missing key
	// (redis.Nil) is not a failure.
	for range 2 {
		if _, _, err := s.Hit(ctx, "k", time.Minute); err != nil {
			t.Fatal(err)
		}
		if len(log.take()) == 1 {
			break
		}
	}
	if _, _, err := s.Hit(ctx, "k", time.Minute); err != nil {
		t.Fatal(err)
	}
	log.expect(t, "hit", observed{"evalsha", "hit", false})
	if _, err := s.IdentityByID(ctx, "nobody"); err == nil {
		t.Fatal("found a missing identity")
	}
	log.expect(t, "missing key", observed{"get", "", false})

	// After SCRIPT FLUSH go-redis answers NOSCRIPT by sending the source:
	// the NOSCRIPT reply is not a failure and eval is named too.
	if err := raw.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Hit(ctx, "k", time.Minute); err != nil {
		t.Fatal(err)
	}
	log.expect(t, "hit after SCRIPT FLUSH", observed{"evalsha", "hit", false}, observed{"eval", "hit", false})

	// A pipeline (the bearer path's session + identity read) is one batch.
	if _, _, err := s.SessionWithIdentity(ctx, "no-session", time.Now()); err == nil {
		t.Fatal("found a missing session")
	}
	for _, o := range log.take() {
		if o.failed {
			t.Fatalf("a missing session observed as a failure: %+v", o)
		}
	}

	// A Redis error reply is a failure, in a pipeline too.
	if err := raw.Set(ctx, prefix+"str", "not a number", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	c := goredis.NewClient(&goredis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { _ = c.Close() })
	c.AddHook(redis.NewHook(log))
	if err := c.Incr(ctx, prefix+"str").Err(); err == nil {
		t.Fatal("INCR of a string succeeded")
	}
	log.expect(t, "error reply", observed{"incr", "", true})
	_, _ = c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		p.Get(ctx, prefix+"missing")
		p.Incr(ctx, prefix+"str")
		return nil
	})
	log.expect(t, "pipeline with an error reply", observed{redis.PipelineCommand, "", true})
	_, _ = c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		p.Get(ctx, prefix+"missing")
		return nil
	})
	log.expect(t, "pipeline with a nil reply", observed{redis.PipelineCommand, "", false})

	// A server that is gone: a failure.
	if !srv.Restartable() {
		return
	}
	srv.Stop()
	defer srv.Start() // for the cleanup of the prefix
	if _, _, err := s.Hit(ctx, "k", time.Minute); err == nil {
		t.Fatal("Hit on a stopped Redis succeeded")
	}
	got := log.take()
	if len(got) == 0 || !got[len(got)-1].failed || got[len(got)-1].script != "hit" {
		t.Fatalf("observed %+v on a stopped Redis, want a failed evalsha of hit", got)
	}
}
