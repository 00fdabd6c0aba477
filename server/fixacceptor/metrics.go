package fixacceptor

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the acceptor's series in /metrics.
type metrics struct {
	connected prometheus.Gauge
	refused   prometheus.Counter
	messages  *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, a *Acceptor) (*metrics, error) {
	m := &metrics{
		connected: prometheus.NewGauge(prometheus.GaugeOpts{Name: "omsd_fix_sessions_connected", Help: "FIX sessions logged on now."}),
		refused:   prometheus.NewCounter(prometheus.CounterOpts{Name: "omsd_fix_logons_refused_total", Help: "FIX logons refused (unknown session, address, secret or identity)."}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "omsd_fix_messages_total", Help: "FIX messages by session, direction (in, out) and MsgType."},
			[]string{"session", "direction", "msg_type"}),
	}
	if reg == nil {
		return m, nil
	}
	seq := prometheus.NewGaugeFunc // one series per session and direction
	for i := range a.o.Sessions {
		name := a.o.Sessions[i].Name()
		for _, dir := range []string{"in", "out"} {
			g := seq(prometheus.GaugeOpts{Name: "omsd_fix_next_seq_num", Help: "The next MsgSeqNum of a FIX session (in: expected from the client, out: sent by omsd), as stored.",
				ConstLabels: prometheus.Labels{"session": name, "direction": dir}}, func() float64 { return a.storedSeq(name, dir) })
			if err := reg.Register(g); err != nil {
				return nil, err
			}
		}
	}
	for _, c := range []prometheus.Collector{m.connected, m.refused, m.messages} {
		if err := reg.Register(c); err != nil && !errors.As(err, new(prometheus.AlreadyRegisteredError)) {
			return nil, err
		}
	}
	return m, nil
}

// storedSeq reads a session's stored next number for a scrape.
func (a *Acceptor) storedSeq(name, dir string) float64 {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	s, err := a.o.Store.FIXSeq(ctx, name)
	if err != nil {
		return -1
	}
	n := s.NextIn
	if dir == "out" {
		n = s.NextOut
	}
	return float64(max(n, 1))
}
