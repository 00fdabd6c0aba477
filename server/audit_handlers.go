package server

import (
	"context"
	"encoding/json"

	"github.com/vero-oms/omsd/gen"
	"github.com/vero-oms/omsd/server/audit"
	"github.com/vero-oms/omsd/store"
)

// GetAPIV1UtilAudit lists the audit log, newest first.
func (s *Server) GetAPIV1UtilAudit(ctx context.Context, req gen.GetAPIV1UtilAuditRequestObject) (gen.GetAPIV1UtilAuditResponseObject, error) {
	p := req.Params
	es, err := s.svc.Audit.List(ctx, audit.Query{
		Actor: deref(p.Actor), Action: deref(p.Action), EntityType: deref(p.EntityType), EntityID: deref(p.EntityID),
		From: deref(p.From), To: deref(p.To), Limit: deref(p.Limit), Offset: deref(p.Offset),
	})
	if err != nil {
		return nil, err
	}
	out := make([]gen.AuditEntry, 0, len(es))
	for _, e := range es {
		out = append(out, auditEntryView(e))
	}
	return gen.GetAPIV1UtilAudit200JSONResponse{Entries: &out}, nil
}

func auditEntryView(e store.AuditEntry) gen.AuditEntry {
	v := gen.AuditEntry{
		ID:         ptr(e.ID),
		Actor:      ptr(e.Actor),
		Action:     ptr(e.Action),
		EntityType: ptr(e.EntityType),
		EntityID:   ptr(e.EntityID),
		CreatedAt:  ptr(e.CreatedAt.UTC()),
	}
	if e.RequestID != 0 {
		v.RequestID = ptr(e.RequestID)
	}
	if len(e.Detail) > 0 {
		var d map[string]any
		if json.Unmarshal(e.Detail, &d) == nil {
			v.Detail = &d
		}
	}
	return v
}

// deref is the zero value for an absent optional parameter.
func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}
