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

// orderChannels are the channels the reports of the load's orders reach;
// quietChannels are a quiet account's, on which nothing is published.
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

// fund gives the demo accounts enough for 10^5 pairs through the
// maker-checker workflow: a deposit to An (the buyer) and HPG to Binh
// (the seller); with quiet, it also creates the quiet account and grants
// the trader VIEW on it.
func (a *api) fund(ctx context.Context, quiet bool) error {
	maker, err := a.login(ctx, makerEmail, makerPass)
	if err != nil {
		return err
	}
	checker, err := a.login(ctx, checkerEmail, checkerPass)
	if err != nil {
		return err
	}
	requests := []map[string]any{
		{"request_type": "DEPOSIT", "payload": map[string]any{"account_id": accountAn, "amount": int64(1_000_000_000_000)}},
		{"request_type": "ADD_STOCK", "payload": map[string]any{"account_id": accountBinh, "symbol": "VN000000HPG4",
			"quantity": 10_000_000, "avg_price": 27000}},
	}
	if quiet {
		requests = append(requests, map[string]any{"request_type": "CREATE_ACCOUNT", "payload": map[string]any{
			"account_code": accountQuiet, "name": "Quiet", "internal_client_code": accountQuiet, "client_code": accountQuiet,
			"comp_id": "VOS", "account_type": 1, "invest_code": "8000", "forn_invest_type_code": "00", "is_mm_account": false,
			"sender_sub_id": "00991", "email": "quiet@oms.example", "phone": "+84900000099"}},
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

// pairOrder is the i-th order of a run: even ones Binh's sell of 100 HPG
// at 27 500, odd ones An's buy that crosses it, so every order fills.
func pairOrder(ref string, i int) order {
	o := order{Account: accountBinh, Symbol: "HPG", Side: "S", Qty: 100, Type: "LO", Price: "27500", Ref: ref}
	if i%2 == 1 {
		o.Account, o.Side = accountAn, "B"
	}
	return o
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
