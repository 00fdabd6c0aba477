package stream

import (
	"fmt"
	"time"

	"github.com/centrifugal/centrifuge"
	goredis "github.com/redis/go-redis/v9"
)

// Redis names the deployment the node's broker and presence manager use:
// the store's own (OMS_REDIS_URL), parsed by the store into go-redis
// options, so standalone, Cluster and Sentinel all work the same way.
type Redis struct {
	Options *goredis.UniversalOptions
	Prefix  string // key prefix of Centrifuge's keys
	Timeout time.Duration
}

// shard maps the go-redis options to Centrifuge's shard config.
func (r *Redis) shard() centrifuge.RedisShardConfig {
	o := r.Options
	c := centrifuge.RedisShardConfig{
		DB: o.DB, User: o.Username, Password: o.Password, ClientName: o.ClientName, TLSConfig: o.TLSConfig,
		ConnectTimeout: r.Timeout, IOTimeout: r.Timeout,
	}
	switch {
	case o.MasterName != "":
		c.SentinelAddresses, c.SentinelMasterName = o.Addrs, o.MasterName
		c.SentinelUser, c.SentinelPassword = o.SentinelUsername, o.SentinelPassword
		c.SentinelTLSConfig = o.TLSConfig
	case o.IsClusterMode || len(o.Addrs) > 1:
		c.ClusterAddresses = o.Addrs
	default:
		c.Address = o.Addrs[0]
	}
	return c
}

func (r *Redis) attach(node *centrifuge.Node) error {
	if r.Options == nil || len(r.Options.Addrs) == 0 {
		return fmt.Errorf("stream: redis: no address")
	}
	shard, err := centrifuge.NewRedisShard(node, r.shard())
	if err != nil {
		return fmt.Errorf("stream: redis: %w", err)
	}
	shards := []*centrifuge.RedisShard{shard}
	broker, err := centrifuge.NewRedisBroker(node, centrifuge.RedisBrokerConfig{Prefix: r.Prefix, Shards: shards})
	if err != nil {
		return fmt.Errorf("stream: redis broker: %w", err)
	}
	presence, err := centrifuge.NewRedisPresenceManager(node, centrifuge.RedisPresenceManagerConfig{Prefix: r.Prefix, Shards: shards})
	if err != nil {
		return fmt.Errorf("stream: redis presence: %w", err)
	}
	node.SetBroker(broker)
	node.SetPresenceManager(presence)
	return nil
}
