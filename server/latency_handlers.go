package server

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/vero-oms/omsd/gen"
	"github.com/vero-oms/omsd/server/apperr"
	"github.com/vero-oms/omsd/server/latency"
)

// The latency diagnostics (brief §2.4; admin only, by the overlay's
// x-required-roles): thin ports over latency.Store. The store applies the
// defaults and the cap and answers the query as applied, which is what
// the replies echo. Without a latency store (a setup with no trading
// service) the three answer 501.

// GetAPIV1UtilLatencyRaw lists raw records, newest first.
func (s *Server) GetAPIV1UtilLatencyRaw(ctx context.Context, req gen.GetAPIV1UtilLatencyRawRequestObject) (gen.GetAPIV1UtilLatencyRawResponseObject, error) {
	if s.svc.Latency == nil {
		return nil, errNotImplemented
	}
	p := req.Params
	q := latency.RawQuery{LatencyWindow: latencyWindow(p.FromNs, p.ToNs), MessageType: deref(p.MessageType)}
	var err error
	if p.TimeField != nil {
		if q.TimeField, err = latencyTimeField(string(*p.TimeField)); err != nil {
			return nil, err
		}
	}
	if q.Limit, q.Offset, err = latencyPage(p.Limit, p.Offset); err != nil {
		return nil, err
	}
	pg, err := s.svc.Latency.Raw(ctx, q)
	if err != nil {
		return nil, err
	}
	records := make([]gen.RawRecord, 0, len(pg.Records))
	for i := range pg.Records {
		records = append(records, rawRecordView(&pg.Records[i]))
	}
	a := pg.Query
	return gen.GetAPIV1UtilLatencyRaw200JSONResponse{
		FromTime: a.From, ToTime: a.To, MessageType: nonEmpty(a.MessageType), TimeField: ptr(string(a.TimeField)),
		Limit: ptr(a.Limit), Offset: ptr(a.Offset), Count: ptr(len(records)), Records: &records,
	}, nil
}

// GetAPIV1UtilLatencyStages lists stage events and the segments between
// them: one request's newest record by request_id, or a window.
func (s *Server) GetAPIV1UtilLatencyStages(ctx context.Context, req gen.GetAPIV1UtilLatencyStagesRequestObject) (gen.GetAPIV1UtilLatencyStagesResponseObject, error) {
	if s.svc.Latency == nil {
		return nil, errNotImplemented
	}
	p := req.Params
	q := latency.StagesQuery{RequestID: deref(p.RequestID), LatencyWindow: latencyWindow(p.FromNs, p.ToNs), MessageType: deref(p.MessageType)}
	var err error
	if q.Limit, q.Offset, err = latencyPage(p.Limit, p.Offset); err != nil {
		return nil, err
	}
	pg, err := s.svc.Latency.Stages(ctx, q)
	if err != nil {
		return nil, err
	}
	events := make([]gen.LatencyDetailRecord, 0, len(pg.Events))
	for _, e := range pg.Events {
		events = append(events, gen.LatencyDetailRecord{
			RequestID: ptr(e.RequestID), MessageType: ptr(e.MessageType), Stage: ptr(e.Stage.String()), StageTime: ptr(e.StageTime),
			Service: ptr(e.Service), Status: ptr(e.Status), ClientID: ptr(e.ClientID), SourceService: ptr(e.SourceService),
			SourceSequence: ptr(e.SourceSequence), HftGateway: ptr(e.HFTGateway), StreamID: ptr(e.StreamID),
		})
	}
	segments := make([]gen.LatencySegment, 0, len(pg.Segments))
	for _, g := range pg.Segments {
		segments = append(segments, gen.LatencySegment{
			FromStage: ptr(g.From.String()), ToStage: ptr(g.To.String()), FromTime: ptr(g.FromTime), ToTime: ptr(g.ToTime), LatencyNs: ptr(g.LatencyNs),
		})
	}
	a := pg.Query
	return gen.GetAPIV1UtilLatencyStages200JSONResponse{
		RequestID: nonEmpty(a.RequestID), FromTime: a.From, ToTime: a.To, MessageType: nonEmpty(a.MessageType),
		Limit: ptr(a.Limit), Offset: ptr(a.Offset), Count: ptr(len(events)), Events: &events, Segments: &segments,
	}, nil
}

// GetAPIV1UtilLatencyMetrics summarises latencies over a window, overall
// and per bucket (only non-empty buckets, oldest first).
func (s *Server) GetAPIV1UtilLatencyMetrics(ctx context.Context, req gen.GetAPIV1UtilLatencyMetricsRequestObject) (gen.GetAPIV1UtilLatencyMetricsResponseObject, error) {
	if s.svc.Latency == nil {
		return nil, errNotImplemented
	}
	p := req.Params
	q := latency.MetricsQuery{LatencyWindow: latencyWindow(p.FromNs, p.ToNs), MessageType: deref(p.MessageType)}
	var err error
	if p.TimeField != nil {
		if q.TimeField, err = latencyTimeField(string(*p.TimeField)); err != nil {
			return nil, err
		}
	}
	if p.BucketNs != nil {
		if *p.BucketNs < 1 {
			return nil, apperr.New(apperr.InvalidRequest, "bucket_ns must be at least 1")
		}
		q.BucketNs = int64(*p.BucketNs)
	}
	m, err := s.svc.Latency.Metrics(ctx, q)
	if err != nil {
		return nil, err
	}
	buckets := make([]gen.MetricsBucket, 0, len(m.Buckets))
	for _, b := range m.Buckets {
		st := latencyStatsView(b.LatencyStats)
		buckets = append(buckets, gen.MetricsBucket{
			BucketStartTime: ptr(b.Start), BucketEndTime: ptr(b.End),
			Count: st.Count, MinLatencyNs: st.MinLatencyNs, MaxLatencyNs: st.MaxLatencyNs, AvgLatencyNs: st.AvgLatencyNs,
			P50LatencyNs: st.P50LatencyNs, P95LatencyNs: st.P95LatencyNs, P99LatencyNs: st.P99LatencyNs,
		})
	}
	a := m.Query
	out := gen.GetAPIV1UtilLatencyMetrics200JSONResponse{
		BucketSizeNs: ptr(a.BucketNs), MessageType: nonEmpty(a.MessageType), TimeField: ptr(string(a.TimeField)),
		Summary: ptr(latencyStatsView(m.Summary)), Buckets: &buckets,
	}
	// The window actually used: a bound given, or what the records span
	// (nothing when an open window matched nothing).
	if a.From != nil || m.Summary.Count > 0 {
		out.FromTime = ptr(m.From)
	}
	if a.To != nil || m.Summary.Count > 0 {
		out.ToTime = ptr(m.To)
	}
	return out, nil
}

func latencyWindow(from, to *int64) latency.Window {
	return latency.Window{From: from, To: to}
}

func latencyTimeField(f string) (latency.TimeField, error) {
	switch tf := latency.TimeField(f); tf {
	case latency.CompleteTime, latency.CreateTime:
		return tf, nil
	}
	return "", apperr.New(apperr.InvalidRequest, "time_field must be complete_time or create_time")
}

// latencyPage checks limit (≥ 1 when given; absent is the store's
// default) and offset (≥ 0).
func latencyPage(limit, offset *int) (int, int, error) {
	l, o := deref(limit), deref(offset)
	if limit != nil && l < 1 {
		return 0, 0, apperr.New(apperr.InvalidRequest, "limit must be at least 1")
	}
	if o < 0 {
		return 0, 0, apperr.New(apperr.InvalidRequest, "offset must not be negative")
	}
	return l, o, nil
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// rawRecordView maps a record to the wire; the body becomes the JSON
// object it is (numbers keep their digits), and is left out when it is
// not one.
func rawRecordView(r *latency.Record) gen.RawRecord {
	v := gen.RawRecord{
		MessageType: ptr(r.MessageType), CreateTime: ptr(r.CreateTime), CompleteTime: ptr(r.CompleteTime), LatencyNs: ptr(r.LatencyNs),
	}
	if len(r.Body) > 0 {
		body := map[string]any{}
		dec := json.NewDecoder(bytes.NewReader(r.Body))
		dec.UseNumber()
		if err := dec.Decode(&body); err == nil {
			v.MessageBodyJSON = &body
		}
	}
	return v
}

func latencyStatsView(s latency.Stats) gen.LatencyStats {
	return gen.LatencyStats{
		Count: ptr(s.Count), MinLatencyNs: ptr(s.Min), MaxLatencyNs: ptr(s.Max), AvgLatencyNs: ptr(s.Avg),
		P50LatencyNs: ptr(s.P50), P95LatencyNs: ptr(s.P95), P99LatencyNs: ptr(s.P99),
	}
}
