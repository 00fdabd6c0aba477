package redis

import (
	"crypto/tls"
	"slices"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Every accepted form yields clean host:port addresses, the user info as
// the data nodes' credentials, the client kind it names and, for rediss://,
// a TLS config without a fixed ServerName (so each node is verified under
// its own name and none is dialled in plaintext).
func TestParseURLForms(t *testing.T) {
	cases := []struct {
		url, master  string
		addrs        []string
		user, pass   string
		suser, spass string
		db           int
		tls          bool
		mode         string
		dialTimeout  time.Duration
	}{
		{url: "redis://h:6380", addrs: []string{"h:6380"}, mode: "standalone"},
		{url: "redis://h", addrs: []string{"h:6379"}, mode: "standalone"},
		{url: "h:1", addrs: []string{"h:1"}, mode: "standalone"},
		{url: "h1:1,h2:2", addrs: []string{"h1:1", "h2:2"}, mode: "cluster"},
		{url: "u:p@s1,s2:2", master: "m", addrs: []string{"s1:26379", "s2:2"}, user: "u", pass: "p", mode: "sentinel"},
		{url: "REDIS://alice:s%40c%2Cr:et@h:1/4?dial_timeout=3s", addrs: []string{"h:1"}, user: "alice", pass: "s@c,r:et", db: 4, mode: "standalone", dialTimeout: 3 * time.Second},
		{url: "redis://:pw@h:1?db=2", addrs: []string{"h:1"}, pass: "pw", db: 2, mode: "standalone"},
		{url: "rediss://:pw@[::1]:7000/", addrs: []string{"[::1]:7000"}, pass: "pw", tls: true, mode: "standalone"},
		{url: "redis://u:p@h1:1,h2:2,h3", addrs: []string{"h1:1", "h2:2", "h3:6379"}, user: "u", pass: "p", mode: "cluster"},
		{url: "rediss://u:p@h1:1,h2:2,h3:3?read_timeout=2s", addrs: []string{"h1:1", "h2:2", "h3:3"}, user: "u", pass: "p", tls: true, mode: "cluster"},
		{url: "redis://u:p@h1:1?addr=h2:2&addr=h3:3", addrs: []string{"h1:1", "h2:2", "h3:3"}, user: "u", pass: "p", mode: "cluster"},
		{url: "rediss://u:p@h1:1?addr=h2:2&addr=[::1]:3&dial_timeout=1s", addrs: []string{"h1:1", "h2:2", "[::1]:3"}, user: "u", pass: "p", tls: true, mode: "cluster", dialTimeout: time.Second},
		{url: "redis://h1:1,h2:2?addr=h3:3", addrs: []string{"h1:1", "h2:2", "h3:3"}, mode: "cluster"},
		{url: "redis://:datapw@s1:26379,s2?sentinel_password=spw", master: "m", addrs: []string{"s1:26379", "s2:26379"}, pass: "datapw", spass: "spw", mode: "sentinel"},
		{url: "rediss://app:datapw@s1:1/3?sentinel_username=sen&sentinel_password=s%26pw&addr=s2:2", master: "m", addrs: []string{"s1:1", "s2:2"}, user: "app", pass: "datapw", suser: "sen", spass: "s&pw", db: 3, tls: true, mode: "sentinel"},
		{url: "rediss://s1:1,s2:2", master: "m", addrs: []string{"s1:1", "s2:2"}, tls: true, mode: "sentinel"},
	}
	for _, c := range cases {
		uo, err := ParseURL(c.url, c.master)
		if err != nil {
			t.Errorf("%s: %v", c.url, err)
			continue
		}
		if !slices.Equal(uo.Addrs, c.addrs) || uo.Username != c.user || uo.Password != c.pass ||
			uo.SentinelUsername != c.suser || uo.SentinelPassword != c.spass || uo.DB != c.db ||
			uo.MasterName != c.master || Mode(uo) != c.mode {
			t.Errorf("%s: addrs %q user %q pass %q suser %q spass %q db %d master %q mode %s", c.url,
				uo.Addrs, uo.Username, uo.Password, uo.SentinelUsername, uo.SentinelPassword, uo.DB, uo.MasterName, Mode(uo))
		}
		if c.dialTimeout != 0 && uo.DialTimeout != c.dialTimeout {
			t.Errorf("%s: dial timeout %v", c.url, uo.DialTimeout)
		}
		if (uo.TLSConfig != nil) != c.tls {
			t.Errorf("%s: TLS config %v, want TLS %v", c.url, uo.TLSConfig, c.tls)
			continue
		}
		if c.tls && (uo.TLSConfig.ServerName != "" || uo.TLSConfig.InsecureSkipVerify || uo.TLSConfig.MinVersion < tls.VersionTLS12) {
			t.Errorf("%s: TLS config %+v", c.url, uo.TLSConfig)
		}
		// What go-redis builds from them carries the same TLS and
		// credentials to every node (Cluster) or to Sentinels and master.
		switch c.mode {
		case "cluster":
			co := uo.Cluster()
			if (co.TLSConfig != nil) != c.tls || co.Username != c.user || co.Password != c.pass {
				t.Errorf("%s: cluster options %+v", c.url, co)
			}
		case "sentinel":
			fo := uo.Failover()
			if (fo.TLSConfig != nil) != c.tls || fo.Password != c.pass || fo.SentinelPassword != c.spass || !slices.Equal(fo.SentinelAddrs, c.addrs) {
				t.Errorf("%s: failover options %+v", c.url, fo)
			}
		case "standalone":
			so := uo.Simple()
			if (so.TLSConfig != nil) != c.tls || so.Password != c.pass || so.Addr != c.addrs[0] {
				t.Errorf("%s: client options %+v", c.url, so)
			}
		}
		cl := goredis.NewUniversalClient(uo)
		_, isCluster := cl.(*goredis.ClusterClient)
		if isCluster != (c.mode == "cluster") {
			t.Errorf("%s: go-redis built %T", c.url, cl)
		}
		_ = cl.Close()
	}
}

// Every accepted option reaches the options go-redis builds its client from.
func TestParseURLCarriesOptions(t *testing.T) {
	q := "?dial_timeout=1s&read_timeout=2s&write_timeout=3s&pool_size=4&pool_timeout=5s&pool_fifo=true" +
		"&min_idle_conns=1&max_idle_conns=2&max_active_conns=9&conn_max_idle_time=6s&conn_max_lifetime=7s" +
		"&max_retries=2&min_retry_backoff=8ms&max_retry_backoff=9ms&client_name=omsd&protocol=2"
	for _, c := range []struct{ url, master string }{
		{"redis://h:1" + q + "&db=1", ""},
		{"redis://h1:1,h2:2" + q + "&max_redirects=5&read_only=true&route_by_latency=true&route_randomly=true", ""},
		{"redis://s:1" + q + "&db=1", "m"},
	} {
		uo, err := ParseURL(c.url, c.master)
		if err != nil {
			t.Fatalf("%s: %v", c.url, err)
		}
		if uo.DialTimeout != time.Second || uo.ReadTimeout != 2*time.Second || uo.WriteTimeout != 3*time.Second ||
			uo.PoolSize != 4 || uo.PoolTimeout != 5*time.Second || !uo.PoolFIFO || uo.MinIdleConns != 1 ||
			uo.MaxIdleConns != 2 || uo.MaxActiveConns != 9 || uo.ConnMaxIdleTime != 6*time.Second ||
			uo.ConnMaxLifetime != 7*time.Second || uo.MaxRetries != 2 || uo.MinRetryBackoff != 8*time.Millisecond ||
			uo.MaxRetryBackoff != 9*time.Millisecond || uo.ClientName != "omsd" || uo.Protocol != 2 {
			t.Errorf("%s: %+v", c.url, uo)
		}
		if Mode(uo) == "cluster" {
			if uo.MaxRedirects != 5 || !uo.ReadOnly || !uo.RouteByLatency || !uo.RouteRandomly {
				t.Errorf("%s: cluster options %+v", c.url, uo)
			}
		} else if uo.DB != 1 {
			t.Errorf("%s: DB %d", c.url, uo.DB)
		}
	}
}

// What cannot be parsed is refused, and the error never quotes the URL,
// its user info or a password that a stray character pushed elsewhere.
func TestParseURLRejectsWithoutQuotingSecrets(t *testing.T) {
	const pw, user = "Pw-s3cret", "opsuser"
	cases := []struct {
		url, master, want string
	}{
		{"ftp://" + user + ":" + pw + "@h:1", "", "scheme"},
		{"h:1/x", "", "db number"},
		{"h1:1,redis://h2:2", "", "one scheme"},
		{"redis://" + user + ":" + pw + "@h1:1,rediss://h2:2", "", "one scheme"},
		{"redis://" + user + ":" + pw + "@h1:1,redis://h2:2", "", "one scheme"},
		{"redis://h1:1," + user + ":" + pw + "@h2:2", "", "user info"},
		{"redis://" + user + ":" + pw + "@h1:1," + user + ":" + pw + "@h2:2", "", "user info"},
		{"redis://" + user + ":" + pw + "@h1:1?addr=" + user + ":" + pw + "@h2:2", "", "addr parameter 1"},
		{"redis://" + user + ":" + pw + "@", "", "empty host"},
		{"redis://" + user + ":" + pw + "@h1:1,,h2:2", "", "host 2 of 3: empty host"},
		{"redis://" + user + ":" + pw + "@h1:1,", "", "host 2 of 2: empty host"},
		{"redis://" + user + ":" + pw + "@h:0", "", "port"},
		{"redis://" + user + ":" + pw + "@h:", "", "port"},
		{"redis://" + user + ":" + pw + "@h:x" + pw, "", "port"},
		{"redis://" + user + ":" + pw + "@[::1:6379", "", "host 1 of 1"},
		{"redis://" + user + ":pa/" + pw + "@h:1", "", "percent-encode"},   // '/' in the password
		{"redis://" + user + ":pa#" + pw + "@h:1", "", "percent-encode"},   // '#' in the password
		{"redis://" + user + ":pa," + pw + "@h:1", "", "percent-encode"},   // ',' in the password
		{"redis://" + user + ":pa%zz" + pw + "@h:1", "", "percent-encode"}, // bad escape
		{"redis://" + user + ":pa?" + pw + "@h:1", "", "host 1 of 1"},      // '?' in the password
		{"redis://" + user + ":" + pw + "@h1:1,h2:2/3", "", "no DB"},
		{"redis://" + user + ":" + pw + "@h1:1?addr=h2:2/3", "", "addr parameter 1"},
		{"redis://" + user + ":" + pw + "@h:1/x", "", "db number"},
		{"redis://" + user + ":" + pw + "@h:1/1/2", "", "db number"},
		{"redis://" + user + ":" + pw + "@h:1/2?db=3", "", "two different DB"},
		{"redis://h:1?password=" + pw, "", "user info"},
		{"redis://h:1?username=" + user, "", "user info"},
		{"redis://" + user + ":" + pw + "@h:1?sentinel_password=" + pw, "", "only for Sentinel"},
		{"redis://" + user + ":" + pw + "@h:1?sentinel_password=" + pw + "&sentinel_password=x", "m", "more than once"},
		{"redis://" + user + ":" + pw + "@h:1?master_name=m", "m", "master name"},
		{"rediss://" + user + ":" + pw + "@h:1?skip_verify=true", "", "skip_verify"},
		{"redis://" + user + ":" + pw + "@h:1?bogus=1", "", "unknown option"},
		{"redis://" + user + ":" + pw + "@h:1?" + pw + "=1", "", "unknown option"},
		{"redis://h:1?dialer_retries=3", "", "option dialer_retries is not supported"},
		{"redis://s:1?sentinel_password=ab&dial_timeout=" + pw, "m", "dial_timeout"}, // '&' in a password
		{"redis://" + user + ":" + pw + "@h1:1,h2:2?db=1", "", "option db"},
		{"redis://" + user + ":" + pw + "@h:1?read_only=true", "", "option read_only"},
		{"redis://" + user + ":" + pw + "@s:1?route_by_latency=true", "m", "option route_by_latency"},
		{"redis://" + user + ":" + pw + "@h:1?dial_timeout=soon", "", "dial_timeout"},
		{"redis://" + user + ":" + pw + "@h:1?a=%zz", "", "malformed query"},
		{"redis://" + user + ":" + pw + "@h :1", "", "host 1 of 1"},
	}
	for _, c := range cases {
		_, err := ParseURL(c.url, c.master)
		if err == nil {
			t.Errorf("%s: accepted", c.url)
			continue
		}
		msg := err.Error()
		if strings.Contains(msg, pw) || strings.Contains(msg, user) || strings.Contains(msg, "s3cret") {
			t.Errorf("%s: error quotes a credential: %s", c.url, msg)
		}
		if !strings.Contains(msg, c.want) {
			t.Errorf("%s: error %q does not say %q", c.url, msg, c.want)
		}
		// Open goes through the same parser.
		if _, err := (Options{URL: c.url, MasterName: c.master}).universal(); err == nil || strings.Contains(err.Error(), pw) {
			t.Errorf("%s: Options.universal: %v", c.url, err)
		}
	}
}

// Options.Addrs take host:port only: a URL or user info there would end up
// in errors and go-redis's dial logs.
func TestAddrsRefuseURLsAndUserInfo(t *testing.T) {
	for _, a := range []string{"redis://u:Pw-s3cret@h:1", "u:Pw-s3cret@h:1", "", "h", "h:99999"} {
		_, err := Options{Addrs: []string{"ok:1", a}}.universal()
		if err == nil {
			t.Errorf("%q: accepted", a)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "address 2 of 2") {
			t.Errorf("%q: %v", a, err)
		}
	}
	// A URL and set fields: a DB on a Cluster URL is refused however given.
	if _, err := (Options{URL: "redis://h1:1,h2:2", DB: 2}).universal(); err == nil {
		t.Error("DB accepted on a comma Cluster URL")
	}
	// Options.TLSConfig implies TLS and is used as given (cloned).
	uo, err := Options{URL: "redis://h1:1,h2:2", TLSConfig: &tlsConfigForTest}.universal()
	if err != nil || uo.TLSConfig == nil || uo.TLSConfig == &tlsConfigForTest || uo.TLSConfig.ServerName != "" {
		t.Errorf("TLSConfig: %+v %v", uo, err)
	}
}

var tlsConfigForTest = tls.Config{MinVersion: tls.VersionTLS13}
