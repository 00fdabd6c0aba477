// Package workflow is the maker-checker workflow: a maker files a request
// to change accounts, cash, holdings, grants, groups or risk rules; another
// user (four eyes, whatever their role) approves it, which applies it at
// once, or rejects it; only its maker cancels it. The status change, the
// change itself and their audit entries are one atomic step.
package workflow

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vero-oms/omsd/server/admin"
	"github.com/vero-oms/omsd/server/apperr"
	"github.com/vero-oms/omsd/server/auth"
	"github.com/vero-oms/omsd/store"
)

// Store is the part of the store this service needs.
type Store interface {
	store.BackOffice
}

// Identities tells whether a user exists (GRANT_PERMISSION names users by
// email), as for a direct grant.
type Identities = admin.Identities

// Service files, lists, reviews and applies workflow requests.
type Service struct {
	st          Store
	ids         Identities
	now         func() time.Time
	instruments Instruments // nil: no symbol is known to be a future
}

// New returns the service; now stamps requests and audit entries (nil:
// time.Now).
func New(st Store, ids Identities, now func() time.Time) *Service {
	return &Service{st: st, ids: ids, now: admin.StoredClock(now)}
}

// Audit actions of the requests themselves, and their entity type.
const (
	ActionRequestCreated   = "REQUEST_CREATED"
	ActionRequestApproved  = "REQUEST_APPROVED"
	ActionRequestRejected  = "REQUEST_REJECTED"
	ActionRequestCancelled = "REQUEST_CANCELLED"
	ActionRequestApplied   = "REQUEST_APPLIED"
	ActionRequestFailed    = "REQUEST_FAILED"
	EntityRequest          = "WORKFLOW_REQUEST"
)

// maxNote bounds a review note (runes).
const maxNote = 2000

// ParseID reads a request id from the path: a positive int64 in decimal.
// Anything else names no request: NotFound.
func ParseID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		// The contract types requestId as any string: one that cannot be
		// an id names no request (404), it is not a malformed call.
		return 0, apperr.New(apperr.NotFound, fmt.Sprintf("request %q not found (request ids are positive integers)", s))
	}
	return id, nil
}

// Create files a PENDING request of requestType on behalf of actor. The
// payload is checked against the type's own schema (unknown keys, missing
// or mistyped fields, unknown kinds and levels, comp_id/sender_sub_id
// outside the reference lists, unknown users → InvalidRequest naming the
// field). What can change before approval (the account exists, there is
// enough cash) is checked when the request is applied.
func (s *Service) Create(ctx context.Context, actor, requestType string, payload json.RawMessage) (store.WorkflowRequest, error) {
	ch, err := parsePayload(requestType, payload)
	if err != nil {
		return store.WorkflowRequest{}, err
	}
	if mc, ok := ch.(marketChecked); ok {
		if err := mc.checkMarket(s); err != nil {
			return store.WorkflowRequest{}, err
		}
	}
	if g, ok := ch.(*grantPayload); ok {
		if err := s.userExists(ctx, g.user()); err != nil {
			if apperr.CodeOf(err) == apperr.NotFound {
				return store.WorkflowRequest{}, invalid(fmt.Sprintf("payload.user_id %q is not a known user", g.user()))
			}
			return store.WorkflowRequest{}, err
		}
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, payload); err != nil {
		return store.WorkflowRequest{}, invalid("payload is not valid JSON")
	}
	at := s.now()
	var out store.WorkflowRequest
	_, err = s.st.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
		if cc, ok := ch.(createChecker); ok {
			if err := cc.checkAtCreate(tx); err != nil {
				return err
			}
		}
		r, err := tx.NewRequest(store.WorkflowRequest{Type: requestType, Payload: buf.Bytes(), Status: store.StatusPending,
			RequestedBy: actor, CreatedAt: at})
		if err != nil {
			return err
		}
		tx.Audit(requestAudit(actor, at, ActionRequestCreated, r.ID, map[string]any{
			"request_type": requestType, "payload": json.RawMessage(r.Payload),
		}))
		out = r
		return nil
	})
	if err != nil {
		return store.WorkflowRequest{}, storeErr(err)
	}
	return out, nil
}

// Get returns one request; NotFound when there is none.
func (s *Service) Get(ctx context.Context, id int64) (store.WorkflowRequest, error) {
	if id <= 0 {
		return store.WorkflowRequest{}, notFound(id)
	}
	r, err := s.st.WorkflowRequest(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.WorkflowRequest{}, notFound(id)
	}
	if err != nil {
		return store.WorkflowRequest{}, storeErr(err)
	}
	return r, nil
}

// List returns the requests f selects, newest first.
func (s *Service) List(ctx context.Context, f store.RequestFilter) ([]store.WorkflowRequest, error) {
	if f.Limit < 0 || f.Limit > store.MaxRequestLimit {
		return nil, invalid(fmt.Sprintf("limit must be between 1 and %d", store.MaxRequestLimit))
	}
	if f.Offset < 0 {
		return nil, invalid("offset must not be negative")
	}
	if f.Status != "" && !slices.Contains(statuses, f.Status) {
		return nil, invalid(fmt.Sprintf("status %q is not a request status", f.Status))
	}
	if f.Type != "" && !slices.Contains(RequestTypes, f.Type) {
		return nil, invalid(fmt.Sprintf("request_type %q is not a request type", f.Type))
	}
	if f.RequestedBy != "" {
		f.RequestedBy = auth.NormalizeEmail(f.RequestedBy)
	}
	rs, err := s.st.WorkflowRequests(ctx, f)
	if err != nil {
		return nil, storeErr(err)
	}
	return rs, nil
}

var statuses = []store.RequestStatus{store.StatusPending, store.StatusApproved, store.StatusApplied,
	store.StatusFailed, store.StatusRejected, store.StatusCancelled}

// applyFailure carries the refusal of an approved request's change out of
// the transaction that tried it, so that nothing of the change is kept.
type applyFailure struct{ err error }

func (f *applyFailure) Error() string { return "apply: " + f.err.Error() }
func (f *applyFailure) Unwrap() error { return f.err }

// Approve approves request id on behalf of reviewer and applies it at
// once, answering the final state: APPLIED, or FAILED with apply_error
// when the change is refused (nothing of it is written). The status
// change, the change and their audit entries are one atomic step; among
// concurrent reviews exactly one wins, the others see InvalidState.
func (s *Service) Approve(ctx context.Context, reviewer string, id int64, note string) (store.WorkflowRequest, error) {
	if err := checkNote(note); err != nil {
		return store.WorkflowRequest{}, err
	}
	at := s.now()
	var out store.WorkflowRequest
	_, err := s.st.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
		r, err := s.reviewable(tx, id, reviewer)
		if err != nil {
			return err
		}
		ch, err := parsePayload(r.Type, r.Payload)
		if g, ok := ch.(*grantPayload); ok && err == nil && g.user() == admin.UserID(reviewer) {
			// Four eyes on power: it stays PENDING for another reviewer.
			return apperr.New(apperr.SelfGrant, fmt.Sprintf("request %d grants you a permission; another user must approve it", id))
		}
		r = reviewed(r, store.StatusApproved, reviewer, at, note)
		tx.Audit(requestAudit(reviewer, at, ActionRequestApproved, id, noteDetail(r)))
		if err == nil {
			err = ch.apply(ctx, s, tx, admin.Change{Actor: reviewer, At: at, RequestID: id})
		}
		if err != nil {
			if refusal := storeErr(err); apperr.CodeOf(refusal) != "" {
				return &applyFailure{refusal}
			}
			return err
		}
		r.Status, r.AppliedAt = store.StatusApplied, at
		if err := tx.PutRequest(r); err != nil {
			return err
		}
		tx.Audit(requestAudit(reviewer, at, ActionRequestApplied, id, map[string]any{"request_type": r.Type}))
		out = r
		return nil
	})
	var failed *applyFailure
	if !errors.As(err, &failed) {
		if err != nil {
			return store.WorkflowRequest{}, storeErr(err)
		}
		return out, nil
	}
	// The change was refused: record the approval and the failure alone.
	msg := failed.err.Error()
	var ae *apperr.Error
	if errors.As(failed.err, &ae) {
		msg = ae.Message
	}
	r, err := s.update(ctx, func(tx store.BackOfficeTx) (store.WorkflowRequest, error) {
		r, err := s.reviewable(tx, id, reviewer)
		if err != nil {
			return r, err
		}
		r = reviewed(r, store.StatusFailed, reviewer, at, note)
		r.ApplyError, r.AppliedAt = msg, at
		tx.Audit(requestAudit(reviewer, at, ActionRequestApproved, id, noteDetail(r)))
		tx.Audit(requestAudit(reviewer, at, ActionRequestFailed, id, map[string]any{"request_type": r.Type, "apply_error": msg}))
		return r, tx.PutRequest(r)
	})
	return r, storeErr(err)
}

// update runs fn as one back-office transaction and answers the request
// it wrote, or its error unchanged.
func (s *Service) update(ctx context.Context, fn func(tx store.BackOfficeTx) (store.WorkflowRequest, error)) (store.WorkflowRequest, error) {
	var out store.WorkflowRequest
	_, err := s.st.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
		r, err := fn(tx)
		out = r
		return err
	})
	if err != nil {
		return store.WorkflowRequest{}, err
	}
	return out, nil
}

// Reject rejects request id on behalf of reviewer (never its maker).
func (s *Service) Reject(ctx context.Context, reviewer string, id int64, note string) (store.WorkflowRequest, error) {
	if err := checkNote(note); err != nil {
		return store.WorkflowRequest{}, err
	}
	at := s.now()
	r, err := s.update(ctx, func(tx store.BackOfficeTx) (store.WorkflowRequest, error) {
		r, err := s.reviewable(tx, id, reviewer)
		if err != nil {
			return r, err
		}
		r = reviewed(r, store.StatusRejected, reviewer, at, note)
		tx.Audit(requestAudit(reviewer, at, ActionRequestRejected, id, noteDetail(r)))
		return r, tx.PutRequest(r)
	})
	return r, storeErr(err)
}

// Cancel withdraws request id; only its maker may.
func (s *Service) Cancel(ctx context.Context, actor string, id int64) (store.WorkflowRequest, error) {
	at := s.now()
	r, err := s.update(ctx, func(tx store.BackOfficeTx) (store.WorkflowRequest, error) {
		r, err := pending(tx, id)
		if err != nil {
			return r, err
		}
		if r.RequestedBy != actor {
			return r, apperr.New(apperr.Forbidden, fmt.Sprintf("only %s, who filed request %d, may cancel it", r.RequestedBy, id))
		}
		r.Status = store.StatusCancelled
		tx.Audit(requestAudit(actor, at, ActionRequestCancelled, id, map[string]any{"request_type": r.Type}))
		return r, tx.PutRequest(r)
	})
	return r, storeErr(err)
}

// pending loads request id and insists it is PENDING.
func pending(tx store.BackOfficeTx, id int64) (store.WorkflowRequest, error) {
	if id <= 0 {
		return store.WorkflowRequest{}, notFound(id)
	}
	r, found, err := tx.Request(id)
	if err != nil {
		return store.WorkflowRequest{}, err
	}
	if !found {
		return store.WorkflowRequest{}, notFound(id)
	}
	if r.Status != store.StatusPending {
		return store.WorkflowRequest{}, apperr.New(apperr.InvalidState,
			fmt.Sprintf("request %d is %s; only a PENDING request can be approved, rejected or cancelled", id, r.Status))
	}
	return r, nil
}

// reviewable is pending plus four eyes: the reviewer is not the maker,
// whatever their role.
func (s *Service) reviewable(tx store.BackOfficeTx, id int64, reviewer string) (store.WorkflowRequest, error) {
	r, err := pending(tx, id)
	if err != nil {
		return store.WorkflowRequest{}, err
	}
	if r.RequestedBy == reviewer {
		return store.WorkflowRequest{}, apperr.New(apperr.SameUserReview,
			fmt.Sprintf("request %d was filed by you; another user must review it", id))
	}
	return r, nil
}

func reviewed(r store.WorkflowRequest, st store.RequestStatus, reviewer string, at time.Time, note string) store.WorkflowRequest {
	r.Status, r.ReviewedBy, r.ReviewedAt, r.ReviewNote = st, reviewer, at, note
	return r
}

func noteDetail(r store.WorkflowRequest) map[string]any {
	return map[string]any{"request_type": r.Type, "note": r.ReviewNote}
}

func checkNote(note string) error {
	if utf8.RuneCountInString(note) > maxNote {
		return invalid(fmt.Sprintf("note must be at most %d characters", maxNote))
	}
	if strings.ContainsRune(note, 0) {
		return invalid("note must not hold NUL characters")
	}
	return nil
}

func notFound(id int64) error {
	return apperr.New(apperr.NotFound, fmt.Sprintf("workflow request %d does not exist", id))
}

// requestAudit is the entry recording a step of request id.
func requestAudit(actor string, at time.Time, action string, id int64, detail map[string]any) store.AuditEntry {
	c := admin.Change{Actor: actor, At: at, RequestID: id}
	return c.Audit(action, EntityRequest, strconv.FormatInt(id, 10), detail)
}

// userExists: NotFound for an email no identity has.
func (s *Service) userExists(ctx context.Context, email string) error {
	_, err := s.ids.IdentityByEmail(ctx, email)
	if errors.Is(err, store.ErrNotFound) {
		return apperr.New(apperr.NotFound, fmt.Sprintf("user %q does not exist", email))
	}
	return err
}

// storeErr is admin.StoreErr plus the conflict a concurrent change of a
// unique name can cause.
func storeErr(err error) error {
	if errors.Is(err, store.ErrConflict) && apperr.CodeOf(err) == "" {
		return apperr.Wrap(apperr.Conflict, "a concurrent change conflicts with this one", err)
	}
	return admin.StoreErr(err)
}
