package redis

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// ParseURL turns a Redis URL into go-redis options for a standalone server,
// a Cluster seed list or, when masterName is set, a set of Sentinels. The
// URL has one scheme and at most one user info, before the first host:
//
//	redis://[user:pass@]host[:port][/db][?option=value...]
//	redis://[user:pass@]h1:6379,h2:6379,h3:6379[?...]          Cluster (or Sentinels)
//	redis://[user:pass@]h1:6379?addr=h2:6379&addr=h3:6379      the same list
//	h1:6379,h2:6379                                            no scheme: redis://
//
// rediss:// dials every host (seeds, discovered nodes, Sentinels and the
// master they name) over TLS, verifying each against its own host name.
// The user info authenticates to the data nodes; Sentinels take theirs
// from the sentinel_username and sentinel_password query parameters.
// Other query parameters are go-redis's, those that reach the client:
// dial_timeout, read_timeout, write_timeout, pool_size, pool_timeout,
// pool_fifo, min/max_idle_conns, max_active_conns, conn_max_idle_time,
// conn_max_lifetime, max_retries, min/max_retry_backoff, client_name,
// protocol, db (not for a Cluster) and, for a Cluster, max_redirects,
// read_only, route_by_latency, route_randomly. Others (skip_verify
// among them) are refused. A port defaults to 6379, or 26379 for a Sentinel.
//
// Errors never quote the URL, its user info or anything that could be a
// misplaced part of a password: they say what is wrong and where.
func ParseURL(rawURL, masterName string) (*goredis.UniversalOptions, error) {
	p, err := parseRedisURL(rawURL, masterName != "")
	if err != nil {
		return nil, err
	}
	uo := &goredis.UniversalOptions{
		Addrs:            p.hosts,
		MasterName:       masterName,
		Username:         p.username,
		Password:         p.password,
		SentinelUsername: p.sentinelUsername,
		SentinelPassword: p.sentinelPassword,
		DB:               p.db,
	}
	if p.tls {
		// No ServerName: go-redis dials with tls.DialWithDialer, which takes
		// it from each address, so every node is verified under its own name.
		uo.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	// go-redis parses the remaining query options for the client kind;
	// it sees a placeholder host and no user info, so its errors (which
	// can quote a value) never hold a credential.
	synthetic := p.scheme + "://placeholder"
	if p.query != "" {
		synthetic += "?" + p.query
	}
	switch {
	case masterName != "":
		fo, err := goredis.ParseFailoverURL(synthetic)
		if err != nil {
			return nil, optionError(err)
		}
		if fo.DB != 0 {
			if uo.DB != 0 && uo.DB != fo.DB {
				return nil, errors.New("redis store: URL gives two different DB numbers")
			}
			uo.DB = fo.DB
		}
		uo.ClientName, uo.Protocol = fo.ClientName, fo.Protocol
		uo.MaxRetries, uo.MinRetryBackoff, uo.MaxRetryBackoff = fo.MaxRetries, fo.MinRetryBackoff, fo.MaxRetryBackoff
		uo.DialTimeout, uo.ReadTimeout, uo.WriteTimeout = fo.DialTimeout, fo.ReadTimeout, fo.WriteTimeout
		uo.PoolFIFO, uo.PoolSize, uo.PoolTimeout = fo.PoolFIFO, fo.PoolSize, fo.PoolTimeout
		uo.MinIdleConns, uo.MaxIdleConns, uo.MaxActiveConns = fo.MinIdleConns, fo.MaxIdleConns, fo.MaxActiveConns
		uo.ConnMaxIdleTime, uo.ConnMaxLifetime = fo.ConnMaxIdleTime, fo.ConnMaxLifetime
	case len(p.hosts) > 1:
		if p.db != 0 {
			return nil, errors.New("redis store: Redis Cluster has no DB other than 0; drop the /db path")
		}
		co, err := goredis.ParseClusterURL(synthetic)
		if err != nil {
			return nil, optionError(err)
		}
		uo.IsClusterMode = true
		uo.ClientName, uo.Protocol = co.ClientName, co.Protocol
		uo.MaxRedirects, uo.ReadOnly, uo.RouteByLatency, uo.RouteRandomly = co.MaxRedirects, co.ReadOnly, co.RouteByLatency, co.RouteRandomly
		uo.MaxRetries, uo.MinRetryBackoff, uo.MaxRetryBackoff = co.MaxRetries, co.MinRetryBackoff, co.MaxRetryBackoff
		uo.DialTimeout, uo.ReadTimeout, uo.WriteTimeout = co.DialTimeout, co.ReadTimeout, co.WriteTimeout
		uo.PoolFIFO, uo.PoolSize, uo.PoolTimeout = co.PoolFIFO, co.PoolSize, co.PoolTimeout
		uo.MinIdleConns, uo.MaxIdleConns, uo.MaxActiveConns = co.MinIdleConns, co.MaxIdleConns, co.MaxActiveConns
		uo.ConnMaxIdleTime, uo.ConnMaxLifetime = co.ConnMaxIdleTime, co.ConnMaxLifetime
	default:
		so, err := goredis.ParseURL(synthetic)
		if err != nil {
			return nil, optionError(err)
		}
		if so.DB != 0 {
			if uo.DB != 0 && uo.DB != so.DB {
				return nil, errors.New("redis store: URL gives two different DB numbers")
			}
			uo.DB = so.DB
		}
		uo.ClientName, uo.Protocol = so.ClientName, so.Protocol
		uo.MaxRetries, uo.MinRetryBackoff, uo.MaxRetryBackoff = so.MaxRetries, so.MinRetryBackoff, so.MaxRetryBackoff
		uo.DialTimeout, uo.ReadTimeout, uo.WriteTimeout = so.DialTimeout, so.ReadTimeout, so.WriteTimeout
		uo.PoolFIFO, uo.PoolSize, uo.PoolTimeout = so.PoolFIFO, so.PoolSize, so.PoolTimeout
		uo.MinIdleConns, uo.MaxIdleConns, uo.MaxActiveConns = so.MinIdleConns, so.MaxIdleConns, so.MaxActiveConns
		uo.ConnMaxIdleTime, uo.ConnMaxLifetime = so.ConnMaxIdleTime, so.ConnMaxLifetime
	}
	return uo, nil
}

// Mode names the deployment options describe: "sentinel", "cluster" or
// "standalone" (the client go-redis's NewUniversalClient builds).
func Mode(uo *goredis.UniversalOptions) string {
	switch {
	case uo.MasterName != "":
		return "sentinel"
	case uo.IsClusterMode || len(uo.Addrs) > 1:
		return "cluster"
	}
	return "standalone"
}

// parsedURL is what parseRedisURL takes from a URL before go-redis reads
// the query options.
type parsedURL struct {
	scheme                             string // redis or rediss
	tls                                bool
	username, password                 string
	sentinelUsername, sentinelPassword string
	hosts                              []string // host:port, no user info
	db                                 int
	query                              string // options left for go-redis
}

// urlError is a parse error. It holds only fixed text and positions.
func urlError(format string, a ...any) error {
	return fmt.Errorf("redis store: bad URL: "+format, a...)
}

// optionError reports a go-redis query option error. go-redis saw no user
// info and no host of ours, only the query without its credential
// parameters; the values it quotes are cut out all the same, in case an
// unencoded '&' in a password made a piece of it look like an option.
func optionError(err error) error {
	return fmt.Errorf("redis store: bad URL option: %s", quoted.ReplaceAllString(redactURL(err).Error(), "(value)"))
}

var quoted = regexp.MustCompile(`"[^"]*"`)

const encodeHint = "percent-encode '@', ':', '/', '?', '#', ',', '&', '=' and '%' in credentials"

func parseRedisURL(raw string, sentinel bool) (*parsedURL, error) {
	p := &parsedURL{}
	rest, err := p.parseScheme(raw)
	if err != nil {
		return nil, err
	}
	// The authority ends at the path or the query.
	end := strings.IndexAny(rest, "/?")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	path, query, _ := strings.Cut(tail, "?")
	if strings.Contains(path, "@") {
		// A '/' in an unencoded password cut the authority short.
		return nil, urlError("user info must come before the first host; %s", encodeHint)
	}
	defPort := "6379"
	if sentinel {
		defPort = "26379"
	}
	if err := p.parseAuthority(authority, defPort); err != nil {
		return nil, err
	}
	if seg := strings.TrimPrefix(path, "/"); seg != "" {
		db, err := strconv.Atoi(seg)
		if err != nil || db < 0 {
			return nil, urlError("the path must be /<db number>")
		}
		p.db = db
	}
	if err := p.parseQuery(query, sentinel, defPort); err != nil {
		return nil, err
	}
	return p, nil
}

// parseScheme reads redis:// or rediss:// (none: a bare list, plaintext)
// and returns the rest of the URL.
func (p *parsedURL) parseScheme(raw string) (string, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		// A bare list (h1:6379,h2:6379), as OMS_REDIS_URL has long taken
		// for Cluster and Sentinel: plaintext, like redis://.
		scheme, rest = "redis", raw
	}
	if strings.Contains(scheme, ",") {
		return "", urlError("one scheme for all hosts, at the start: write redis://h1:6379,h2:6379")
	}
	switch strings.ToLower(scheme) {
	case "redis":
		p.scheme = "redis"
	case "rediss":
		p.scheme, p.tls = "rediss", true
	default:
		return "", urlError("the scheme must be redis:// or rediss://")
	}
	if strings.Contains(rest, "://") {
		return "", urlError("one scheme for all hosts: write %s://h1:6379,h2:6379, not a scheme per host", p.scheme)
	}
	if strings.Contains(rest, "#") {
		return "", urlError("a fragment (#) is not allowed; %s", encodeHint)
	}
	return rest, nil
}

// parseAuthority reads the user info (once, before the first host) and
// the comma-separated hosts.
func (p *parsedURL) parseAuthority(authority, defPort string) error {
	hostList := authority
	if i := strings.LastIndex(authority, "@"); i >= 0 {
		userinfo := authority[:i]
		hostList = authority[i+1:]
		if strings.Contains(userinfo, ",") {
			return urlError("user info may appear once, before the first host; %s", encodeHint)
		}
		// Let net/url decode it; its error text is never passed on.
		u, err := url.Parse("redis://" + userinfo + "@placeholder")
		if err != nil || u.User == nil {
			return urlError("malformed user info; %s", encodeHint)
		}
		p.username = u.User.Username()
		p.password, _ = u.User.Password()
	}
	items := strings.Split(hostList, ",")
	for i, item := range items {
		h, err := parseHost(item, defPort)
		if err != nil {
			return urlError("host %d of %d: %v", i+1, len(items), err)
		}
		p.hosts = append(p.hosts, h)
	}
	return nil
}

// parseQuery takes out of the query what is ours (Sentinel credentials,
// more hosts as addr) and refuses what must not be there; the rest is
// left for go-redis.
func (p *parsedURL) parseQuery(query string, sentinel bool, defPort string) error {
	q, err := url.ParseQuery(query)
	if err != nil {
		return urlError("malformed query; %s", encodeHint)
	}
	if err := refuseQueryOptions(q, sentinel); err != nil {
		return err
	}
	p.sentinelUsername, p.sentinelPassword = q.Get("sentinel_username"), q.Get("sentinel_password")
	q.Del("sentinel_username")
	q.Del("sentinel_password")
	for i, a := range q["addr"] {
		if strings.Contains(a, "@") {
			return urlError("addr parameter %d: user info may appear once, before the first host", i+1)
		}
		h, err := parseHost(a, defPort)
		if err != nil {
			return urlError("addr parameter %d: %v", i+1, err)
		}
		p.hosts = append(p.hosts, h)
	}
	q.Del("addr")
	// Only options that reach the client are accepted: go-redis's parsers
	// take a few more that UniversalOptions would silently drop.
	cluster := !sentinel && len(p.hosts) > 1
	for k := range q {
		switch {
		case commonOptions[k]:
		case k == "db" && !cluster:
		case clusterOptions[k] && cluster:
		case knownOptions[k]:
			return urlError("option %s is not supported here", k)
		default:
			// Not quoted: it could be a piece of a password with an
			// unencoded '&'.
			return urlError("unknown option; %s", encodeHint)
		}
	}
	p.query = q.Encode()
	return nil
}

// refuseQueryOptions refuses credentials and options that do not belong
// in the query.
func refuseQueryOptions(q url.Values, sentinel bool) error {
	for _, k := range []string{"username", "password"} {
		if q.Has(k) {
			return urlError("give credentials as user info (redis://user:pass@host), not as the %s parameter", k)
		}
	}
	if q.Has("master_name") {
		return urlError("master_name is not a URL option; set the master name beside the URL")
	}
	if q.Has("skip_verify") {
		return urlError("skip_verify is refused: TLS certificates are always verified")
	}
	for _, k := range []string{"sentinel_username", "sentinel_password"} {
		if !q.Has(k) {
			continue
		}
		if !sentinel {
			return urlError("%s is only for Sentinel (set a master name)", k)
		}
		if len(q[k]) != 1 {
			return urlError("%s given more than once", k)
		}
	}
	return nil
}

// Query options ParseURL passes on (go-redis's names and syntax).
var (
	commonOptions = map[string]bool{
		"dial_timeout": true, "read_timeout": true, "write_timeout": true,
		"pool_size": true, "pool_timeout": true, "pool_fifo": true,
		"min_idle_conns": true, "max_idle_conns": true, "max_active_conns": true,
		"conn_max_idle_time": true, "conn_max_lifetime": true,
		"max_retries": true, "min_retry_backoff": true, "max_retry_backoff": true,
		"client_name": true, "protocol": true,
	}
	clusterOptions = map[string]bool{"max_redirects": true, "read_only": true, "route_by_latency": true, "route_randomly": true}
	// knownOptions are other go-redis option names, named when refused.
	knownOptions = map[string]bool{
		"db": true, "max_redirects": true, "read_only": true, "route_by_latency": true, "route_randomly": true,
		"route_by_latency_tolerance": true, "replica_only": true, "use_disconnected_replicas": true,
		"dialer_retries": true, "dialer_retry_timeout": true, "context_timeout_enabled": true,
		"max_concurrent_dials": true, "pipeline_pool_size": true, "pipeline_read_buffer_size": true,
		"pipeline_write_buffer_size": true, "conn_max_lifetime_jitter": true, "idle_timeout": true,
		"max_conn_age": true, "failing_timeout_seconds": true, "unstable_resp3": true,
		"disableIdentity": true, "identitySuffix": true,
	}
)

// parseHost checks one host[:port] (IPv6 in brackets) and returns
// host:port. Its errors do not quote the input.
func parseHost(s, defPort string) (string, error) {
	switch {
	case strings.TrimSpace(s) == "":
		return "", errors.New("empty host")
	case strings.Contains(s, "@"):
		return "", errors.New("user info may appear once, before the first host")
	case strings.ContainsAny(s, " \t\r\n/?#%"):
		return "", errors.New("invalid character in host")
	}
	u, err := url.Parse("redis://" + s)
	if err != nil || u.Host != s || u.User != nil {
		return "", errors.New("malformed host[:port]")
	}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		return "", errors.New("empty host")
	}
	if strings.HasSuffix(s, ":") {
		return "", errors.New("empty port")
	}
	if port == "" {
		port = defPort
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", errors.New("port must be 1-65535")
	}
	return net.JoinHostPort(host, port), nil
}

// checkAddr vets a host:port given in Options.Addrs the same way, so a
// URL or user info cannot slip into an address (and from there into an
// error or a log line).
func checkAddr(i, n int, a string) error {
	if strings.Contains(a, "://") {
		return fmt.Errorf("redis store: address %d of %d: give host:port, not a URL (use Options.URL)", i+1, n)
	}
	if _, err := parseHost(a, ""); err != nil {
		return fmt.Errorf("redis store: address %d of %d: %w", i+1, n, err)
	}
	return nil
}
