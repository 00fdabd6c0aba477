package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vero-oms/omsd/server"
	"github.com/vero-oms/omsd/server/auth"
	"github.com/vero-oms/omsd/server/contracttest"
	"github.com/vero-oms/omsd/server/latency"
	"github.com/vero-oms/omsd/server/market"
	"github.com/vero-oms/omsd/server/password"
	"github.com/vero-oms/omsd/server/puthrough"
	"github.com/vero-oms/omsd/server/token"
	"github.com/vero-oms/omsd/server/trading"
	"github.com/vero-oms/omsd/store/memory"
)

// fuzzStack is one server (memory store, cheap hashes, no throttling) with
// an identity holding every role, so fuzzed requests get past the bearer and
// role checks and reach validation, decoding and the handlers.
type fuzzStack struct {
	h      http.Handler
	jwt    string
	routes []fuzzRoute
}

type fuzzRoute struct{ method, path string }

var (
	fuzzOnce sync.Once
	fuzzS    *fuzzStack
	fuzzErr  error
)

func newFuzzStack() (*fuzzStack, error) {
	fuzzOnce.Do(func() {
		st := memory.New()
		key, err := token.GenerateKey("ES256")
		if err != nil {
			fuzzErr = err
			return
		}
		iss, err := token.NewIssuer(token.Config{Issuer: "omsd", Audience: "vero-oms", TTL: time.Hour}, key)
		if err != nil {
			fuzzErr = err
			return
		}
		hasher := password.NewHasher(cheapHash, 2)
		unlimited := auth.Limit{Count: 1 << 40, Window: time.Hour}
		svc, err := auth.New(auth.Config{
			LoginPerIdentifier: unlimited, LoginPerIP: unlimited, RecoveryPerEmail: unlimited,
			RecoveryPerIP: unlimited, RecoveryVerifyPerIP: unlimited, RecoveryResetPerIP: unlimited,
		}, auth.Deps{Store: st, Hasher: hasher, Tokens: iss, Mailer: &mailbox{codes: map[string]string{}},
			Secret: []byte(strings.Repeat("s", 32))})
		if err != nil {
			fuzzErr = err
			return
		}
		admin := auth.NewIdentityAdmin(st, hasher, svc.Config().PasswordPolicy)
		if _, err := admin.CreateIdentity(context.Background(), auth.NewIdentity{Email: "fuzz@oms.example",
			Password: "fuzz-password-1", Roles: []string{"admin", "maker", "checker", "trader"}}); err != nil {
			fuzzErr = err
			return
		}
		in, err := svc.Login(context.Background(), "fuzz@oms.example", "fuzz-password-1", auth.Client{IP: "192.0.2.1"})
		if err != nil {
			fuzzErr = err
			return
		}
		services := server.Services{Auth: svc, Tokens: iss, Health: st}.WithBackOffice(st, nil)
		// The trading routes run their real service: instruments, a venue
		// in continuous trading, latency records.
		mc, err := market.Dev()
		if err != nil {
			fuzzErr = err
			return
		}
		lat := memory.NewLatency(memory.LatencyOptions{})
		services.Trading = trading.New(trading.Options{Store: st, Market: mc.Instruments, Clock: market.Pinned(market.Continuous),
			Latency: latency.NewRecorder(lat, latency.RecorderOptions{})})
		if err := services.Trading.Start(context.Background()); err != nil {
			fuzzErr = err
			return
		}
		services.PutThrough, services.Latency = puthrough.New(services.Trading), lat
		e, err := server.New(server.Options{Services: services, Logger: discardLogger()})
		if err != nil {
			fuzzErr = err
			return
		}
		spec, err := server.LoadSpec()
		if err != nil {
			fuzzErr = err
			return
		}
		var routes []fuzzRoute
		for path, item := range spec.Paths.Map() {
			for method := range item.Operations() {
				routes = append(routes, fuzzRoute{method, path})
			}
		}
		sort.Slice(routes, func(i, j int) bool {
			return routes[i].method+routes[i].path < routes[j].method+routes[j].path
		})
		fuzzS = &fuzzStack{h: e, jwt: in.JWT, routes: routes}
	})
	return fuzzS, fuzzErr
}

// pick returns the route named "METHOD /path" exactly, else one chosen by
// the name's bytes, so every fuzzed name lands on some operation.
func (s *fuzzStack) pick(name string) fuzzRoute {
	sum := 0
	for i, r := range s.routes {
		if r.method+" "+r.path == name {
			return s.routes[i]
		}
	}
	for _, b := range []byte(name) {
		sum = sum*31 + int(b)
		sum &= 1<<30 - 1
	}
	return s.routes[sum%len(s.routes)]
}

// goInternals are fragments that only a leaked Go error would put in a
// message meant for people.
var goInternals = []string{"Unmarshal type error", "expected=", "offset=", "json: ", "strconv.", "runtime error",
	"goroutine", "gen.", "interface {}", "map[string]", "[]interface", "reflect", "<nil>", "%!"}

// FuzzGate sends fuzzed requests (operation, path parameter, query, body,
// Content-Type, with or without a valid bearer token) through the whole
// HTTP stack: body cap, bearer and roles, contract validation, decoding
// into the generated types, handlers, error mapping. Every answer must be a
// status the operation documents with a body matching its schema, and every
// error must carry the route's envelope with a message for people: not a
// bare status text, no Go internals. A panic fails too (the recover
// middleware turns it into a 500, which no fuzzed request may cause).
func FuzzGate(f *testing.F) {
	s, err := newFuzzStack()
	if err != nil {
		f.Fatal(err)
	}
	f.Add("POST /api/v1/orders/new", "x", "", []byte(`{"account_id":"a","symbol":"s","side":"buy","qty":9223372036854775808,"order_type":"limit"}`), "application/json", true)
	f.Add("POST /api/v1/orders/new", "x", "", []byte(`{"account_id":"a","symbol":"s","side":"buy","qty":1e3,"order_type":"limit"}`), "application/json", true)
	f.Add("POST /api/auth/login", "x", "", []byte(`{"identifier":"fuzz@oms.example","password":"fuzz-password-1"}`), "application/json", false)
	f.Add("GET /api/v1/util/latency/metrics", "x", "bucket_ns=1e3&from_ns=9223372036854775808", []byte(nil), "", true)
	f.Add("GET /api/v1/util/search", "x", "q=a&limit=201", []byte(nil), "", false)
	f.Fuzz(func(t *testing.T, name, param, query string, body []byte, contentType string, bearer bool) {
		r := s.pick(name)
		if param == "" {
			param = "x"
		}
		path := r.path
		for {
			i := strings.IndexByte(path, '{')
			j := strings.IndexByte(path, '}')
			if i < 0 || j < i {
				break
			}
			path = path[:i] + url.PathEscape(param) + path[j+1:]
		}
		target := "http://omsd.test" + path
		if query != "" {
			target += "?" + query
		}
		req, err := http.NewRequest(r.method, target, bytes.NewReader(body))
		if err != nil {
			return // not a request any client can send
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if bearer {
			req.Header.Set("Authorization", "Bearer "+s.jwt)
		}
		req.Header.Set("X-Session-Token", "oms_st_fuzz")
		req.RemoteAddr = "192.0.2.7:1234"
		rec := httptest.NewRecorder()
		s.h.ServeHTTP(rec, req)
		res := rec.Result()
		what := r.method + " " + r.path

		if res.StatusCode >= 500 && res.StatusCode != http.StatusNotImplemented {
			t.Fatalf("%s -> %d %s", what, res.StatusCode, rec.Body)
		}
		check := &contracttest.Transport{TB: t}
		// The contract checker matches the route on the request as sent.
		if err := check.Validate(req, res); err != nil {
			t.Fatalf("%s -> %d: undocumented answer: %v\n%s", what, res.StatusCode, err, rec.Body)
		}
		if res.StatusCode < 400 {
			return
		}
		var env map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil {
			t.Fatalf("%s -> %d: error body is not JSON: %q", what, res.StatusCode, rec.Body)
		}
		key := "message"
		switch {
		case strings.HasPrefix(r.path, "/api/v1/orders/"):
			key = "detail"
			if env["isSuccess"] != false {
				t.Fatalf("%s -> %d: RestErrorResponse without isSuccess:false: %s", what, res.StatusCode, rec.Body)
			}
		case strings.HasPrefix(r.path, "/api/v1/util/"), strings.HasPrefix(r.path, "/api/v1/oms/"):
		default: // AuthError
			if env["status"] != float64(res.StatusCode) {
				t.Fatalf("%s -> %d: AuthError status field disagrees: %s", what, res.StatusCode, rec.Body)
			}
		}
		if code, _ := env["error"].(string); code == "" {
			t.Fatalf("%s -> %d: no error code: %s", what, res.StatusCode, rec.Body)
		}
		msg, _ := env[key].(string)
		if msg == "" || msg == http.StatusText(res.StatusCode) {
			t.Fatalf("%s -> %d: %q is not a message a person understands: %s", what, res.StatusCode, key, rec.Body)
		}
		for _, bad := range goInternals {
			if strings.Contains(msg, bad) {
				t.Fatalf("%s -> %d: message leaks Go internals (%q): %s", what, res.StatusCode, bad, msg)
			}
		}
	})
}

// JSON Schema's integer admits 1e3, 1000.0 and 2^63; the generated types do
// not. Such a value passes validation, fails decoding, and must get a 400
// that names the field and what it must be (it used to be "Bad Request").
func TestIntegersTheTypesCannotHoldGetAReadable400(t *testing.T) {
	s, err := newFuzzStack()
	if err != nil {
		t.Fatal(err)
	}
	for _, qty := range []string{"9223372036854775808", "-9223372036854775809", "1e3", "1000.0"} {
		body := `{"account_id":"a","symbol":"s","side":"buy","qty":` + qty + `,"order_type":"limit"}`
		req := httptest.NewRequest("POST", "/api/v1/orders/new", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+s.jwt)
		rec := httptest.NewRecorder()
		s.h.ServeHTTP(rec, req)
		want := `{"detail":"request body: field \"qty\" must be a whole number written without a fraction or an exponent, from -9223372036854775808 to 9223372036854775807","isSuccess":false,"error":"invalid_request"}`
		if rec.Code != 400 || strings.TrimSpace(rec.Body.String()) != want {
			t.Errorf("qty %s: %d %s", qty, rec.Code, rec.Body)
		}
		// `omsd validate` judges the body as the server does.
		v, err := server.NewValidator(0)
		if err != nil {
			t.Fatal(err)
		}
		verdict := v.Check(context.Background(), server.Exchange{Method: "POST", Target: "/api/v1/orders/new",
			Header: http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer x"}}, Body: []byte(body)})
		var answer struct{ Detail string }
		_ = json.Unmarshal(rec.Body.Bytes(), &answer)
		if len(verdict.Problems) != 1 || verdict.Problems[0] != answer.Detail {
			t.Errorf("qty %s: validate says %q", qty, verdict.Problems)
		}
	}
}

// FuzzValidatorCheck feeds `omsd validate`'s Validator arbitrary recorded
// exchanges (they come from other teams' files): it must judge every one
// without panicking, and name the route it judged.
func FuzzValidatorCheck(f *testing.F) {
	v, err := server.NewValidator(0)
	if err != nil {
		f.Fatal(err)
	}
	f.Add("POST", "/api/auth/login", "application/json", []byte(`{"identifier":"a@oms.example","password":"p"}`), 200, []byte(`{"jwt":1}`))
	f.Add("POST", "http://h/api/v1/orders/new?x=1", "application/json", []byte(`{"qty":1e3}`), 400, []byte(`{"isSuccess":false}`))
	f.Add("GET", "/api/v1/util/search?q=a&limit=1e3", "", []byte(nil), 501, []byte(`{"error":"not_implemented","status":501}`))
	f.Add("GET", "/api/v1/util/requests/%zz", "", []byte(nil), -1, []byte(`not json`))
	f.Add("DELETE", "::bad url", "text/plain", []byte("x"), 0, []byte(nil))
	f.Fuzz(func(t *testing.T, method, target, contentType string, body []byte, status int, responseBody []byte) {
		h := http.Header{}
		if contentType != "" {
			h.Set("Content-Type", contentType)
		}
		rh := http.Header{}
		rh.Set("Content-Type", "application/json")
		verdict := v.Check(context.Background(), server.Exchange{Method: method, Target: target, Header: h, Body: body,
			Status: status, ResponseHeader: rh, ResponseBody: responseBody})
		if verdict.Route == "" {
			t.Fatalf("no route named for %s %q: %+v", method, target, verdict)
		}
		if verdict.OperationID == "" && len(verdict.Problems) == 0 {
			t.Fatalf("%s %q matches no operation yet has no problem: %+v", method, target, verdict)
		}
	})
}
