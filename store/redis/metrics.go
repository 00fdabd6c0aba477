package redis

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Observer receives one call per command (or pipeline) the store sends to
// Redis, for metrics. Command must not block: it runs on every round trip.
type Observer interface {
	// Command reports a finished command. name is the lower-case command
	// ("get", "evalsha", ...; PipelineCommand for a pipelined batch,
	// SetupCommand for go-redis's connection handshake), script the
	// store's Lua script an eval/evalsha runs ("hit", "countAttempt", ...;
	// "" for other commands), failed whether Redis or the connection
	// returned an error. A nil reply (redis.Nil: key not found) and the
	// NOSCRIPT reply go-redis answers by sending the script are not
	// failures, and neither are errors of handshake commands (HELLO,
	// CLIENT SETINFO on a Redis that lacks it...), which go-redis handles
	// itself: a handshake that really fails fails the command that needed
	// the connection.
	Command(name, script string, elapsed time.Duration, failed bool)
}

// Command names an Observer sees for batches.
const (
	PipelineCommand = "pipeline"   // a pipeline of the store
	SetupCommand    = "connection" // the handshake of a new connection
)

// setupCommands are what go-redis sends to set a new connection up.
var setupCommands = map[string]bool{"hello": true, "auth": true, "client": true, "select": true, "readonly": true}

// NewHook returns a go-redis hook reporting every command to o. Open adds
// it when Options.Observer is set; add it yourself to a client given to New.
func NewHook(o Observer) goredis.Hook { return hook{o} }

type hook struct{ o Observer }

func (hook) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h hook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmd)
		name := cmd.Name()
		h.o.Command(name, scriptOf(name, cmd.Args()), time.Since(start), failed(err) && !setupCommands[name])
		return err
	}
}

func (h hook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmds)
		elapsed := time.Since(start)
		setup, bad := len(cmds) > 0, false
		for _, c := range cmds {
			isSetup := setupCommands[c.Name()]
			setup = setup && isSetup
			bad = bad || (failed(c.Err()) && !isSetup)
		}
		name := PipelineCommand
		if setup {
			name = SetupCommand
		}
		h.o.Command(name, "", elapsed, bad)
		return err
	}
}

func failed(err error) bool {
	return err != nil && !errors.Is(err, goredis.Nil) && !goredis.HasErrorPrefix(err, "NOSCRIPT")
}

// namedScripts are the store's Lua scripts by the name metrics give them
// (TestEveryScriptIsNamed keeps the list whole).
var namedScripts = map[string]*goredis.Script{
	"createIdentity": createIdentity, "identityByEmail": identityByEmail,
	"setIdentityState": setIdentityState, "rehashPassword": rehashPassword,
	"startRecovery": startRecovery, "countAttempt": countAttempt, "markVerified": markVerified,
	"completeRecovery": completeRecovery, "hit": hit, "undo": undo, "delIfEqual": delIfEqual,
	"commitBackOffice": commitBackOffice, "putIfAbsent": putIfAbsent, "deleteIfPresent": deleteIfPresent,
	"takeLease": takeLease, "releaseLease": releaseLease,
	"latPut": latPut, "latRange": latRange, "latByRequest": latByRequest,
}

// scriptNames names the store's scripts by SHA-1 (evalsha) and by source
// (eval, go-redis's fallback after NOSCRIPT).
var scriptNames = func() map[string]string {
	m := map[string]string{}
	for name, s := range namedScripts {
		m[s.Hash()] = name
	}
	return m
}()

// scriptOf names the store script an eval or evalsha command runs.
func scriptOf(name string, args []any) string {
	switch name {
	case "evalsha", "evalsha_ro", "eval", "eval_ro":
	default:
		return ""
	}
	if len(args) < 2 {
		return "other"
	}
	s, _ := args[1].(string)
	if n, ok := scriptNames[s]; ok {
		return n
	}
	if name == "eval" || name == "eval_ro" { // rare: only after NOSCRIPT
		sum := sha1.Sum([]byte(s))
		if n, ok := scriptNames[hex.EncodeToString(sum[:])]; ok {
			return n
		}
	}
	return "other"
}
