package stream

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/centrifugal/centrifuge"

	"github.com/vero-oms/omsd/server/marketdata"
)

// Market is the market data feed the mkt: channels serve.
type Market interface {
	// Served reports whether a mkt: channel is one the feed serves.
	Served(channel string) bool
	// Snapshot is a served channel's current message, for a new subscriber.
	Snapshot(channel string) (any, bool)
	// Flush returns what changed since the last Flush, in order.
	Flush() []marketdata.Publication
}

// MarketEvery is how often changed books are published: a book's depth
// goes out at most this often while it changes.
const MarketEvery = 100 * time.Millisecond

// Market channel history: the trade log keeps its last trades, the other
// channels their last message only (a new subscriber also gets the current
// one with its subscription).
const (
	tradeLogHistory = 100
	marketHistory   = 1
	marketTTL       = 24 * time.Hour
)

// subscribeMarket allows any signed-in user onto a served market channel
// and hands it the channel's current message first.
func (s *Server) subscribeMarket(channel string) (centrifuge.SubscribeReply, error) {
	if s.o.Market == nil || !s.o.Market.Served(channel) {
		return centrifuge.SubscribeReply{}, centrifuge.ErrorNotAvailable
	}
	reply := centrifuge.SubscribeReply{}
	if v, ok := s.o.Market.Snapshot(channel); ok {
		if data, err := json.Marshal(v); err == nil {
			reply.Publications = []*centrifuge.Publication{{Data: data}}
		}
	}
	return reply, nil
}

// marketLoop publishes the feed's changes every MarketEvery.
func (s *Server) marketLoop(ctx context.Context) {
	t := time.NewTicker(MarketEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, p := range s.o.Market.Flush() {
			data, err := json.Marshal(p.Data)
			if err != nil {
				continue
			}
			size := marketHistory
			if strings.HasPrefix(p.Channel, "mkt:tradeLog:") {
				size = tradeLogHistory
			}
			if _, err := s.node.Publish(p.Channel, data, centrifuge.WithHistory(size, marketTTL)); err != nil {
				s.failures.Add(1)
			}
		}
	}
}
