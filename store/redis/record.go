package redis

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/vero-oms/omsd/store"
)

// num is an int64 that also decodes the float notation cjson may write
// (e.g. 1.2345678901235e+17) after a Lua script re-encoded a record.
type num int64

func (n *num) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		*n = 0
		return nil
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		*n = num(i)
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("not a number: %s", s)
	}
	*n = num(math.Round(f))
	return nil
}

// list decodes cjson's {} (how it writes an empty array) as empty.
type list[T any] []T

func (l *list[T]) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("{}")) || bytes.Equal(b, []byte("null")) {
		*l = nil
		return nil
	}
	var v []T
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*l = v
	return nil
}

// toMS and fromMS store times as unix milliseconds, which Lua's doubles and
// cjson's 14 significant digits hold exactly.
func toMS(t time.Time) num { return num(t.UnixMilli()) }

func fromMS(n num) time.Time { return time.UnixMilli(int64(n)).UTC() }

// cloneNil returns nil for an empty slice so every adapter agrees.
func cloneNil[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return append([]T(nil), s...)
}

type identityRecord struct {
	ID           string       `json:"id"`
	Email        string       `json:"email"`
	Name         string       `json:"name"`
	Roles        list[string] `json:"roles"`
	PasswordHash string       `json:"password_hash"`
	State        string       `json:"state"`
	Generation   num          `json:"generation"`
	CreatedAt    num          `json:"created_at"`
	UpdatedAt    num          `json:"updated_at"`
}

func encodeIdentity(i store.Identity) ([]byte, error) {
	return json.Marshal(identityRecord{
		ID:           i.ID,
		Email:        i.Email,
		Name:         i.Name,
		Roles:        i.Roles,
		PasswordHash: i.PasswordHash,
		State:        string(i.State),
		Generation:   num(i.Generation),
		CreatedAt:    toMS(i.CreatedAt),
		UpdatedAt:    toMS(i.UpdatedAt),
	})
}

func decodeIdentity(b []byte) (store.Identity, error) {
	var r identityRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return store.Identity{}, fmt.Errorf("redis store: decode identity: %w", err)
	}
	return store.Identity{
		ID:           r.ID,
		Email:        r.Email,
		Name:         r.Name,
		Roles:        cloneNil(r.Roles),
		PasswordHash: r.PasswordHash,
		State:        store.IdentityState(r.State),
		Generation:   int64(r.Generation),
		CreatedAt:    fromMS(r.CreatedAt),
		UpdatedAt:    fromMS(r.UpdatedAt),
	}, nil
}

type deviceRecord struct {
	IPAddress string `json:"ip"`
	UserAgent string `json:"ua"`
	Location  string `json:"loc"`
}

type sessionRecord struct {
	ID              string             `json:"id"`
	TokenHash       string             `json:"token_hash"`
	IdentityID      string             `json:"identity_id"`
	Generation      num                `json:"generation"`
	AuthenticatedAt num                `json:"authenticated_at"`
	ExpiresAt       num                `json:"expires_at"`
	Devices         list[deviceRecord] `json:"devices"`
}

func encodeSession(s store.Session) ([]byte, error) {
	r := sessionRecord{
		ID:              s.ID,
		TokenHash:       s.TokenHash,
		IdentityID:      s.IdentityID,
		Generation:      num(s.Generation),
		AuthenticatedAt: toMS(s.AuthenticatedAt),
		ExpiresAt:       toMS(s.ExpiresAt),
	}
	for _, d := range s.Devices {
		r.Devices = append(r.Devices, deviceRecord(d))
	}
	return json.Marshal(r)
}

func decodeSession(b []byte) (store.Session, error) {
	var r sessionRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return store.Session{}, fmt.Errorf("redis store: decode session: %w", err)
	}
	s := store.Session{
		ID:              r.ID,
		TokenHash:       r.TokenHash,
		IdentityID:      r.IdentityID,
		Generation:      int64(r.Generation),
		AuthenticatedAt: fromMS(r.AuthenticatedAt),
		ExpiresAt:       fromMS(r.ExpiresAt),
	}
	for _, d := range r.Devices {
		s.Devices = append(s.Devices, store.Device(d))
	}
	return s, nil
}

type recoveryRecord struct {
	ID         string `json:"id"`
	EmailKey   string `json:"email_key"`
	IdentityID string `json:"identity_id"`
	CodeMAC    []byte `json:"code_mac"` // base64; Lua never reads it
	State      string `json:"state"`
	Attempts   num    `json:"attempts"`
	ExpiresAt  num    `json:"expires_at"`
}

func encodeRecovery(r store.Recovery) ([]byte, error) {
	return json.Marshal(recoveryRecord{
		ID:         r.ID,
		EmailKey:   r.EmailKey,
		IdentityID: r.IdentityID,
		CodeMAC:    r.CodeMAC,
		State:      string(r.State),
		Attempts:   num(r.Attempts),
		ExpiresAt:  toMS(r.ExpiresAt),
	})
}

func decodeRecovery(b []byte) (store.Recovery, error) {
	var r recoveryRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return store.Recovery{}, fmt.Errorf("redis store: decode recovery: %w", err)
	}
	return store.Recovery{
		ID:         r.ID,
		EmailKey:   r.EmailKey,
		IdentityID: r.IdentityID,
		CodeMAC:    cloneNil(r.CodeMAC),
		State:      store.RecoveryState(r.State),
		Attempts:   int(r.Attempts),
		ExpiresAt:  fromMS(r.ExpiresAt),
	}, nil
}
