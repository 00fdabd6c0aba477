package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// The demo identities and accounts of omsd serve --dev.
const (
	traderEmail, traderPass   = "trader@oms.example", "demo-trader-pass"
	makerEmail, makerPass     = "maker@oms.example", "demo-maker-pass"
	checkerEmail, checkerPass = "checker@oms.example", "demo-checker-pass"
	accountAn                 = "099C000001" // buys
	accountBinh               = "099C000002" // sells
	accountQuiet              = "099C000099" // never trades (-idle-channels quiet)
)

// orderChannels are the channels the reports of the load's orders reach
// (setBooks); quietChannels are a quiet account's, on which nothing is
// published.
var (
	orderChannels = []string{"order:OrderExecutionReport:" + accountBinh, "order:OrderExecutionReport:" + accountAn}
	quietChannels = []string{"order:OrderExecutionReport:" + accountQuiet, "order:Account:" + accountQuiet}
)

// postTimeout bounds one request.
const postTimeout = 10 * time.Second

// api is omsd's REST API over one keep-alive connection pool.
type api struct {
	base string
	hc   *http.Client
}

func newAPI(base string, conns int) *api {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		MaxConnsPerHost:     conns,
		IdleConnTimeout:     90 * time.Second,
	}
	return &api{base: strings.TrimRight(base, "/"), hc: &http.Client{Transport: tr, Timeout: postTimeout}}
}

// httpError is an answer other than 200.
type httpError struct {
	status int
	body   string
}

func (e httpError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.status, e.body) }

// post sends body as JSON (with jwt as bearer when set) and decodes a 200
// answer into out (when set).
func (a *api) post(ctx context.Context, path, jwt string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if jwt != "" {
		req.Header.Set("Authorization", "Bearer "+jwt)
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return httpError{resp.StatusCode, strings.TrimSpace(string(data[:min(len(data), 200)]))}
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(data, out)
}

// login returns the bearer JWT of a password login.
func (a *api) login(ctx context.Context, email, password string) (string, error) {
	var r struct {
		JWT string `json:"jwt"`
	}
	err := a.post(ctx, "/api/auth/login", "", map[string]string{"identifier": email, "password": password}, &r)
	if err == nil && r.JWT == "" {
		err = errors.New("no jwt in the answer")
	}
	if err != nil {
		return "", fmt.Errorf("login %s: %w", email, err)
	}
	return r.JWT, nil
}

// fund sets up the lanes (laneRequests: enough for 10^5 pairs each)
// through the maker-checker workflow; with quiet, it also creates the
// quiet account and grants the trader VIEW on it.
func (a *api) fund(ctx context.Context, quiet bool) error {
	maker, err := a.login(ctx, makerEmail, makerPass)
	if err != nil {
		return err
	}
	checker, err := a.login(ctx, checkerEmail, checkerPass)
	if err != nil {
		return err
	}
	requests := laneRequests()
	if quiet {
		requests = append(requests, createAccount(accountQuiet),
			map[string]any{"request_type": "GRANT_PERMISSION", "payload": map[string]any{
				"user_id": traderEmail, "account_code": accountQuiet, "level": "VIEW"}})
	}
	for _, req := range requests {
		var filed struct {
			ID int64 `json:"id"`
		}
		if err := a.post(ctx, "/api/v1/util/requests", maker, req, &filed); err != nil {
			return fmt.Errorf("filing %v: %w", req["request_type"], err)
		}
		var applied struct {
			Status string `json:"status"`
		}
		path := fmt.Sprintf("/api/v1/util/requests/%d/approve", filed.ID)
		if err := a.post(ctx, path, checker, map[string]string{"note": "load"}, &applied); err != nil {
			return fmt.Errorf("approving %v: %w", req["request_type"], err)
		}
		if applied.Status != "APPLIED" {
			return fmt.Errorf("%v approved but %q", req["request_type"], applied.Status)
		}
	}
	return nil
}

// order is the body of POST /api/v1/orders/new.
type order struct {
	Account string `json:"account_id"`
	Symbol  string `json:"symbol"`
	Side    string `json:"side"`
	Qty     int    `json:"qty"`
	Type    string `json:"order_type"`
	Price   string `json:"price"`
	Ref     string `json:"ref_order_id"`
}

// book is an instrument the pairs cross on, at a price inside its band,
// between its own buyer and seller: a lane. Lane 0 is An buying from Binh;
// the others get accounts of their own (fund), so that orders of
// different lanes share neither a book nor an account.
type book struct{ ticker, isin, price, buyer, seller string }

// allBooks are the dev instruments -books picks from, in order.
var allBooks = []book{
	{"HPG", "VN000000HPG4", "27500", accountAn, accountBinh},
	{"FPT", "VN000000FPT1", "100000", "099C200011", "099C200012"},
	{"VNM", "VN000000VNM8", "62000", "099C200021", "099C200022"},
	{"PVS", "VN000000PVS0", "35000", "099C200031", "099C200032"},
	{"SHS", "VN000000SHS3", "13000", "099C200041", "099C200042"},
}

// books are the lanes of this run (-books): one lane serialises every
// order on one book and two accounts; several are what a market with
// many instruments and investors sees.
var books = allBooks[:1]

// setBooks picks the first n lanes; the probe follows their order
// channels.
func setBooks(n int) {
	books = allBooks[:n]
	orderChannels = nil
	for _, b := range books {
		orderChannels = append(orderChannels, "order:OrderExecutionReport:"+b.seller, "order:OrderExecutionReport:"+b.buyer)
	}
}

// pairOrder is the i-th order of a run: even ones the lane's sell of 100
// at its price, odd ones the buy that crosses it, so every order fills;
// pair i/2 goes to lane (i/2) mod len(books).
func pairOrder(ref string, i int) order {
	b := books[(i/2)%len(books)]
	o := order{Account: b.seller, Symbol: b.ticker, Side: "S", Qty: 100, Type: "LO", Price: b.price, Ref: ref}
	if i%2 == 1 {
		o.Account, o.Side = b.buyer, "B"
	}
	return o
}

// laneRequests are the workflow requests that set up the lanes: the
// accounts of lanes past the first (the trader may TRADE them), cash for
// each buyer and each book's stock for its seller.
func laneRequests() []map[string]any {
	var reqs []map[string]any
	for i, b := range books {
		if i > 0 {
			for _, code := range []string{b.buyer, b.seller} {
				reqs = append(reqs, createAccount(code), map[string]any{"request_type": "GRANT_PERMISSION", "payload": map[string]any{
					"user_id": traderEmail, "account_code": code, "level": "TRADE"}})
			}
		}
		reqs = append(reqs,
			map[string]any{"request_type": "DEPOSIT", "payload": map[string]any{"account_id": b.buyer, "amount": int64(10_000_000_000_000)}},
			map[string]any{"request_type": "ADD_STOCK", "payload": map[string]any{"account_id": b.seller, "symbol": b.isin,
				"quantity": 10_000_000, "avg_price": 10000}})
	}
	return reqs
}

func createAccount(code string) map[string]any {
	return map[string]any{"request_type": "CREATE_ACCOUNT", "payload": map[string]any{
		"account_code": code, "name": "Load " + code, "internal_client_code": code, "client_code": code,
		"comp_id": "VOS", "account_type": 1, "invest_code": "8000", "forn_invest_type_code": "00", "is_mm_account": false,
		"sender_sub_id": "00991", "email": code + "@oms.example", "phone": "+84900000099"}}
}

// enter posts one order; an answer other than 200 with isSuccess is an error.
func (a *api) enter(ctx context.Context, jwt string, o order) error {
	var ack struct {
		IsSuccess bool   `json:"isSuccess"`
		Detail    string `json:"detail"`
	}
	if err := a.post(ctx, "/api/v1/orders/new", jwt, o, &ack); err != nil {
		return err
	}
	if !ack.IsSuccess {
		return fmt.Errorf("not accepted: %s", ack.Detail)
	}
	return nil
}

// errorKind is the short name an error is counted under.
func errorKind(err error) string {
	var he httpError
	switch {
	case errors.Is(err, errCut):
		return "cut at the bound"
	case errors.As(err, &he):
		return fmt.Sprintf("HTTP %d", he.status)
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case strings.HasPrefix(err.Error(), "not accepted"):
		return "not accepted"
	}
	return "transport"
}
