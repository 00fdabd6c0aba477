package server

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/vero-oms/omsd/gen"
	"github.com/vero-oms/omsd/server/workflow"
	"github.com/vero-oms/omsd/store"
)

// PostAPIV1UtilRequests files a maker-checker request (PENDING).
func (s *Server) PostAPIV1UtilRequests(ctx context.Context, req gen.PostAPIV1UtilRequestsRequestObject) (gen.PostAPIV1UtilRequestsResponseObject, error) {
	p, _ := PrincipalFrom(ctx)
	payload, err := req.Body.Payload.MarshalJSON()
	if err != nil {
		return nil, err
	}
	r, err := s.svc.Workflow.Create(ctx, p.Email, string(req.Body.RequestType), payload)
	if err != nil {
		return nil, err
	}
	return gen.PostAPIV1UtilRequests200JSONResponse(workflowRequestView(r)), nil
}

// GetAPIV1UtilRequests lists requests, newest first.
func (s *Server) GetAPIV1UtilRequests(ctx context.Context, req gen.GetAPIV1UtilRequestsRequestObject) (gen.GetAPIV1UtilRequestsResponseObject, error) {
	q := req.Params
	f := store.RequestFilter{}
	if q.Status != nil {
		f.Status = store.RequestStatus(*q.Status)
	}
	if q.RequestType != nil {
		f.Type = string(*q.RequestType)
	}
	if q.RequestedBy != nil {
		f.RequestedBy = *q.RequestedBy
	}
	if q.Limit != nil {
		f.Limit = clampInt(*q.Limit)
	}
	if q.Offset != nil {
		f.Offset = clampInt(*q.Offset)
	}
	rs, err := s.svc.Workflow.List(ctx, f)
	if err != nil {
		return nil, err
	}
	out := make([]gen.WorkflowRequest, 0, len(rs))
	for _, r := range rs {
		out = append(out, workflowRequestView(r))
	}
	return gen.GetAPIV1UtilRequests200JSONResponse{Requests: &out}, nil
}

// GetAPIV1UtilRequestsRequestID answers one request; 404 when unknown.
func (s *Server) GetAPIV1UtilRequestsRequestID(ctx context.Context, req gen.GetAPIV1UtilRequestsRequestIDRequestObject) (gen.GetAPIV1UtilRequestsRequestIDResponseObject, error) {
	id, err := workflow.ParseID(req.RequestID)
	if err != nil {
		return nil, err
	}
	r, err := s.svc.Workflow.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	return gen.GetAPIV1UtilRequestsRequestID200JSONResponse(workflowRequestView(r)), nil
}

// PostAPIV1UtilRequestsRequestIDApprove approves and applies a request,
// answering its final state (APPLIED or FAILED).
func (s *Server) PostAPIV1UtilRequestsRequestIDApprove(ctx context.Context, req gen.PostAPIV1UtilRequestsRequestIDApproveRequestObject) (gen.PostAPIV1UtilRequestsRequestIDApproveResponseObject, error) {
	p, _ := PrincipalFrom(ctx)
	id, err := workflow.ParseID(req.RequestID)
	if err != nil {
		return nil, err
	}
	r, err := s.svc.Workflow.Approve(ctx, p.Email, id, reviewNote(req.Body))
	if err != nil {
		return nil, err
	}
	return gen.PostAPIV1UtilRequestsRequestIDApprove200JSONResponse(workflowRequestView(r)), nil
}

// PostAPIV1UtilRequestsRequestIDReject rejects a request.
func (s *Server) PostAPIV1UtilRequestsRequestIDReject(ctx context.Context, req gen.PostAPIV1UtilRequestsRequestIDRejectRequestObject) (gen.PostAPIV1UtilRequestsRequestIDRejectResponseObject, error) {
	p, _ := PrincipalFrom(ctx)
	id, err := workflow.ParseID(req.RequestID)
	if err != nil {
		return nil, err
	}
	r, err := s.svc.Workflow.Reject(ctx, p.Email, id, reviewNote(req.Body))
	if err != nil {
		return nil, err
	}
	return gen.PostAPIV1UtilRequestsRequestIDReject200JSONResponse(workflowRequestView(r)), nil
}

// PostAPIV1UtilRequestsRequestIDCancel withdraws a request (its maker only).
func (s *Server) PostAPIV1UtilRequestsRequestIDCancel(ctx context.Context, req gen.PostAPIV1UtilRequestsRequestIDCancelRequestObject) (gen.PostAPIV1UtilRequestsRequestIDCancelResponseObject, error) {
	p, _ := PrincipalFrom(ctx)
	id, err := workflow.ParseID(req.RequestID)
	if err != nil {
		return nil, err
	}
	r, err := s.svc.Workflow.Cancel(ctx, p.Email, id)
	if err != nil {
		return nil, err
	}
	return gen.PostAPIV1UtilRequestsRequestIDCancel200JSONResponse(workflowRequestView(r)), nil
}

func reviewNote(b *gen.ReviewNote) string {
	if b == nil || b.Note == nil {
		return ""
	}
	return *b.Note
}

// clampInt keeps a paging parameter within int (the service refuses what
// is out of range).
func clampInt(v int64) int {
	const maxInt = int64(^uint(0) >> 1)
	switch {
	case v > maxInt:
		return int(maxInt)
	case v < -maxInt:
		return -int(maxInt)
	}
	return int(v)
}

// workflowRequestView maps a request to the wire; the payload's numbers
// keep their digits (json.Number), times are UTC, unset ones absent.
func workflowRequestView(r store.WorkflowRequest) gen.WorkflowRequest {
	v := gen.WorkflowRequest{
		ID:          ptr(r.ID),
		RequestType: ptr(r.Type),
		Status:      ptr(gen.WorkflowRequestStatus(r.Status)),
		RequestedBy: ptr(r.RequestedBy),
		CreatedAt:   ptr(r.CreatedAt.UTC()),
	}
	payload := map[string]any{}
	dec := json.NewDecoder(bytes.NewReader(r.Payload))
	dec.UseNumber()
	if err := dec.Decode(&payload); err == nil {
		v.Payload = &payload
	}
	if r.ReviewedBy != "" {
		v.ReviewedBy = ptr(r.ReviewedBy)
		v.ReviewNote = ptr(r.ReviewNote)
	}
	if !r.ReviewedAt.IsZero() {
		v.ReviewedAt = ptr(r.ReviewedAt.UTC())
	}
	if !r.AppliedAt.IsZero() {
		v.AppliedAt = ptr(r.AppliedAt.UTC())
	}
	if r.ApplyError != "" {
		v.ApplyError = ptr(r.ApplyError)
	}
	return v
}
