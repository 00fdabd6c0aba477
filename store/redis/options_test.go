package redis

import (
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// universal must keep what the URL says, let set fields win, and pick the
// client kind go-redis will build.
func TestUniversalOptions(t *testing.T) {
	uo, err := Options{URL: "rediss://u:p@cache.example:6380/2?dial_timeout=3s&read_timeout=4s&pool_size=7", WriteTimeout: time.Second}.universal()
	if err != nil {
		t.Fatal(err)
	}
	if len(uo.Addrs) != 1 || uo.Addrs[0] != "cache.example:6380" || uo.Username != "u" || uo.Password != "p" || uo.DB != 2 ||
		uo.TLSConfig == nil || uo.DialTimeout != 3*time.Second || uo.ReadTimeout != 4*time.Second ||
		uo.WriteTimeout != time.Second || uo.PoolSize != 7 || !uo.ContextTimeoutEnabled || uo.DialerRetries != 1 {
		t.Errorf("from URL: %+v", uo)
	}
	if _, ok := goredis.NewUniversalClient(uo).(*goredis.Client); !ok {
		t.Error("one URL address is not a standalone client")
	}

	uo, err = Options{URL: "redis://a:1", Username: "x", Password: "y", DB: 3, TLS: true, DialTimeout: time.Second, ReadTimeout: 2 * time.Second, PoolSize: 9, MaxRetries: -1}.universal()
	if err != nil {
		t.Fatal(err)
	}
	if uo.Username != "x" || uo.Password != "y" || uo.DB != 3 || uo.TLSConfig == nil || uo.DialTimeout != time.Second ||
		uo.ReadTimeout != 2*time.Second || uo.PoolSize != 9 || uo.MaxRetries != -1 {
		t.Errorf("overrides: %+v", uo)
	}

	cases := []struct {
		o    Options
		kind string
	}{
		{Options{Addrs: []string{"a:1"}}, "client"},
		{Options{Addrs: []string{"a:1", "b:2", "c:3"}}, "cluster"},
		{Options{URL: "redis://a:1?addr=b:2&addr=c:3"}, "cluster"},
		{Options{Addrs: []string{"s1:26379", "s2:26379"}, MasterName: "mymaster"}, "client"}, // Sentinel failover
	}
	for _, c := range cases {
		uo, err := c.o.universal()
		if err != nil {
			t.Fatalf("%+v: %v", c.o, err)
		}
		cl := goredis.NewUniversalClient(uo)
		var kind string
		switch cl.(type) {
		case *goredis.Client:
			kind = "client"
		case *goredis.ClusterClient:
			kind = "cluster"
		}
		if kind != c.kind {
			t.Errorf("%+v: got %T, want %s", c.o, cl, c.kind)
		}
		_ = cl.Close()
	}
	if uo, _ := (Options{URL: "redis://a:1?addr=b:2"}).universal(); len(uo.Addrs) != 2 {
		t.Errorf("cluster URL addrs %v", uo.Addrs)
	}
}

// Records survive what cjson writes back: {} for [], floats for big numbers.
func TestDecodeCjsonOutput(t *testing.T) {
	i, err := decodeIdentity([]byte(`{"id":"i","roles":{},"generation":1.2345678901235e+14,"created_at":1700000000123,"updated_at":-62135596800000,"state":"active"}`))
	if err != nil {
		t.Fatal(err)
	}
	if i.Roles != nil || i.Generation != 123456789012350 || i.CreatedAt.UnixMilli() != 1700000000123 || !i.UpdatedAt.IsZero() {
		t.Errorf("%+v", i)
	}
	s, err := decodeSession([]byte(`{"id":"s","devices":{},"expires_at":1700000000123}`))
	if err != nil || s.Devices != nil {
		t.Errorf("%+v %v", s, err)
	}
	if _, err := decodeIdentity([]byte(`{"generation":"x"}`)); err == nil {
		t.Error("accepted a string number")
	}
}
