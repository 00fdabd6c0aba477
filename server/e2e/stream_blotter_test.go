package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/vero-oms/omsd/server/stream"
	"github.com/vero-oms/omsd/server/venue"
)

// TestStreamBlotter drives the live blotter (GET /stream) in headless
// Chromium against the real program: it signs in through the page's form,
// waits for both demo accounts, then places orders over REST and checks
// that the page shows them and the balances they change from the Streaming
// API (not a reload), within a bound. With OMSD_WRITE_SCREENSHOT=1 it
// writes the README's screenshot, docs/stream.png.
func TestStreamBlotter(t *testing.T) {
	t.Parallel()
	bin := chromium(t)
	e := start(t, "memory", withDemoData)
	checkBlotterAssets(t, e)
	tr := e.login(nil, traderEmail, traderPass).jwt
	b := newBrowser(t, bin)

	begin := time.Now()
	b.do("sign in",
		chromedp.EmulateViewport(1280, 780),
		chromedp.Navigate(e.base+"/stream"),
		chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), traderEmail),
		chromedp.SendKeys(chromedp.CSS("#password"), traderPass),
		chromedp.Click(chromedp.CSS("#signin-submit")),
	)
	b.waitFor(20*time.Second, "both demo accounts, subscribed", func(p blotterPage) bool {
		return p.Status == "live" && p.Accounts[accountAn] != nil && p.Accounts[accountBinh] != nil
	})
	t.Logf("signed in and live after %v", time.Since(begin).Round(time.Millisecond))
	if p := b.page(); p.Signin {
		t.Fatal("the sign-in form is still shown")
	}
	wantBalancesEqualREST(t, e, tr, b)

	// A resting buy: the order appears as NEW and its cash goes on hold.
	_, holdBefore, _ := e.account(t, tr, accountBinh)
	e.order(t, tr, lo(accountBinh, "FPT", "B", 100, "95000", "blotter-1"))
	placed := time.Now()
	id := e.orderByReq(t, tr, "blotter-1")["orderID"].(string)
	p := b.waitFor(10*time.Second, "blotter-1 NEW and its cash hold", func(p blotterPage) bool {
		o := p.order("blotter-1")
		return o != nil && o.Status == "NEW" && p.Accounts[accountBinh].CashHold == holdBefore+9_500_000
	})
	t.Logf("order placed over REST to shown on the page: %v", time.Since(placed).Round(time.Millisecond))
	o := p.order("blotter-1")
	want := []string{accountBinh, "blotter-1", "FPT", "Buy", "LO", "NEW", "100", "0", "95,000", "—"}
	if o.ID != id || o.Via != "stream" || strings.Join(o.Cells[1:], "|") != strings.Join(want, "|") {
		t.Errorf("blotter-1 row: id %s (REST %s), via %s, cells %q, want %q", o.ID, id, o.Via, o.Cells[1:], want)
	}
	if got, want := p.Accounts[accountBinh].CashHoldText, groupThousands(holdBefore+9_500_000); got != want || holdBefore != 0 {
		t.Errorf("%s cash on hold shows %q, want %q (hold before %v)", accountBinh, got, want, holdBefore)
	}
	wantBalancesEqualREST(t, e, tr, b)
	wantMarketEqualsBook(t, e, b, "FPT-G1", "VN000000FPT1")

	// A crossing sell fills both: statuses, cash and the new FPT holding
	// of 099C000002 follow live.
	e.order(t, tr, lo(accountAn, "FPT", "S", 100, "95000", "blotter-2"))
	p = b.waitFor(10*time.Second, "both orders filled and the FPT holding", func(p blotterPage) bool {
		b1, b2 := p.order("blotter-1"), p.order("blotter-2")
		return b1 != nil && b1.Status == "FILLED" && b2 != nil && b2.Status == "FILLED" &&
			p.Accounts[accountBinh].Holdings["VN000000FPT1"] != nil && p.Accounts[accountBinh].CashHold == holdBefore
	})
	if o := p.order("blotter-1"); o.Cells[8] != "100" || o.Cells[10] != "95,000" || o.Via != "stream" {
		t.Errorf("filled blotter-1 row: %q via %s", o.Cells, o.Via)
	}
	wantBalancesEqualREST(t, e, tr, b)
	// The trade in the market panel: 100 at 95 000, the seller hit the bid.
	p = b.waitFor(10*time.Second, "the FPT trade", func(p blotterPage) bool { return len(p.Market.Trades) == 1 })
	if got := p.Market.Trades[0]; strings.Join(got[1:], "|") != "95,000|100|Sell" {
		t.Errorf("FPT trade on the page: %q", got)
	}
	wantMarketEqualsBook(t, e, b, "FPT-G1", "VN000000FPT1")
	if p = b.page(); !strings.HasPrefix(p.Market.Info, "last 95,000 (") || !strings.Contains(p.Market.Info, "volume 100 ·") {
		t.Errorf("FPT product info on the page: %q", p.Market.Info)
	}

	// A resting sell puts shares on hold.
	e.order(t, tr, lo(accountBinh, "HPG", "S", 500, "28000", "blotter-3"))
	p = b.waitFor(10*time.Second, "blotter-3 NEW and its HPG on hold", func(p blotterPage) bool {
		o, h := p.order("blotter-3"), p.Accounts[accountBinh].Holdings["VN000000HPG4"]
		return o != nil && o.Status == "NEW" && len(h) == 5 && h[2] == "500"
	})
	if got := p.Accounts[accountBinh].Holdings["VN000000HPG4"]; got[1] != "19,500" {
		t.Errorf("HPG holding of %s: %q", accountBinh, got)
	}
	if got := p.Accounts[accountBinh].CashAvailableText; got != "240,500,000.50" {
		t.Errorf("%s cash available shows %q", accountBinh, got)
	}
	wantBalancesEqualREST(t, e, tr, b)
	var reqs []string
	for _, o := range p.Orders {
		reqs = append(reqs, o.Req)
	}
	if strings.Join(reqs, ",") != "blotter-3,blotter-2,blotter-1" {
		t.Errorf("orders on the page, newest first: %v", reqs)
	}
	if p.StatusText != "live · websocket" {
		t.Errorf("status %q", p.StatusText)
	}
	// A resting FPT buy shows in the market panel's depth.
	e.order(t, tr, lo(accountBinh, "FPT", "B", 200, "94000", "blotter-4"))
	wantMarketEqualsBook(t, e, b, "FPT-G1", "VN000000FPT1")
	b.screenshot()
	t.Logf("test body (chromium start to screenshot): %v", time.Since(begin).Round(time.Millisecond))

	// Another board: HPG's depth holds blotter-3; a board that does not
	// exist is refused and said so.
	b.do("show HPG", chromedp.SetValue(chromedp.CSS("#market-input"), "hpg"), chromedp.Click(chromedp.CSS("#market-submit")))
	wantMarketEqualsBook(t, e, b, "HPG-G1", "VN000000HPG4")
	b.do("show NOPE", chromedp.SetValue(chromedp.CSS("#market-input"), "NOPE"), chromedp.Click(chromedp.CSS("#market-submit")))
	b.waitFor(10*time.Second, "NOPE refused", func(p blotterPage) bool {
		return p.Market.Board == "NOPE-G1" && p.Market.Error == "NOPE-G1: no such board" && len(p.Market.Depth) == 0
	})

	b.do("sign out", chromedp.Click(chromedp.CSS("#signout")), chromedp.WaitVisible(chromedp.CSS("#email")))
	if p := b.page(); p.Status != "signed-out" || len(p.Accounts) != 0 || len(p.Orders) != 0 || p.Market.Board != "" || len(p.Market.Trades) != 0 {
		t.Errorf("after signing out the page shows %+v", p)
	}
	b.noConsoleErrors()
}

// TestStreamBlotterFallbacks: in a browser without WebSocket the page
// falls back to HTTP-streaming, and without fetch streams to SSE (both
// through /emulation), under the same CSP.
func TestStreamBlotterFallbacks(t *testing.T) {
	t.Parallel()
	bin := chromium(t)
	e := start(t, "memory", withDemoData)
	tr := e.login(nil, traderEmail, traderPass).jwt
	first := newBrowser(t, bin)
	for i, c := range []struct{ transport, hide string }{
		{"http_stream", "window.WebSocket = undefined;"},
		{"sse", "window.WebSocket = undefined; window.ReadableStream = undefined;"},
	} {
		b := first
		if i > 0 {
			b = first.newTab()
		}
		b.do("sign in",
			chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
				_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: c.hide})
				return err
			}),
			chromedp.Navigate(e.base+"/stream"),
			chromedp.SendKeys(chromedp.CSS("#email"), traderEmail),
			chromedp.SendKeys(chromedp.CSS("#password"), traderPass),
			chromedp.Click(chromedp.CSS("#signin-submit")),
		)
		b.waitFor(20*time.Second, "live", func(p blotterPage) bool { return p.Status == "live" })
		ref := fmt.Sprintf("fallback-%d", i)
		e.order(t, tr, lo(accountBinh, "FPT", "B", 100, "95000", ref))
		p := b.waitFor(10*time.Second, ref+" from the stream", func(p blotterPage) bool {
			o := p.order(ref)
			return o != nil && o.Status == "NEW" && o.Via == "stream"
		})
		if p.StatusText != "live · "+c.transport {
			t.Errorf("status %q, want the %s transport", p.StatusText, c.transport)
		}
		wantBalancesEqualREST(t, e, tr, b)
		b.noConsoleErrors()
	}
}

// wantMarketEqualsBook waits up to 10 s for the page's market panel to show
// board with the depth of the simulator's book of isin (top 10 levels).
func wantMarketEqualsBook(t *testing.T, e *env, b *browser, board, isin string) {
	t.Helper()
	book, ok := e.app.Trading.Simulator().Book(isin)
	if !ok {
		t.Fatalf("no book of %s", isin)
	}
	b.waitFor(10*time.Second, board+" depth equal to the book", func(p blotterPage) bool {
		bids, asks := book.Depth(venue.Buy), book.Depth(venue.Sell)
		rows := min(max(len(bids), len(asks)), 10)
		if p.Market.Board != board || len(p.Market.Depth) != rows {
			return false
		}
		for i, row := range p.Market.Depth {
			want := []string{"", "", "", ""}
			if i < len(bids) {
				want[0], want[1] = groupThousands(float64(bids[i].Qty)), groupThousands(bids[i].Price.Decimal().InexactFloat64())
			}
			if i < len(asks) {
				want[2], want[3] = groupThousands(asks[i].Price.Decimal().InexactFloat64()), groupThousands(float64(asks[i].Qty))
			}
			if strings.Join(row, "|") != strings.Join(want, "|") {
				return false
			}
		}
		return true
	})
}

// checkBlotterAssets checks the page's and the assets' headers, the
// vendored client's checksum against blotter/VERSION, and that any other
// path under /stream/ is the API's 404.
func checkBlotterAssets(t *testing.T, e *env) {
	t.Helper()
	page := e.do(nil, "GET", "/stream", nil)
	h := page.header
	if page.status != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/html") || h.Get("Cache-Control") != "no-cache" ||
		h.Get("ETag") == "" || h.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("GET /stream: %d %v", page.status, h)
	}
	if got := h.Get("Content-Security-Policy"); got != stream.BlotterCSP || !strings.Contains(got, "default-src 'none'") ||
		!strings.Contains(got, "script-src 'self';") || strings.Contains(got, "unsafe") {
		t.Errorf("CSP %q", got)
	}
	if strings.Contains(string(page.body), "<script>") || strings.Contains(string(page.body), " style=") {
		t.Error("inline script or style in the blotter page (the CSP forbids them)")
	}
	for path, want := range map[string]string{
		"/stream/centrifuge.js":      "globalThis.Centrifuge",
		"/stream/blotter.js":         "order:OrderExecutionReport:",
		"/stream/blotter.css":        "#balances",
		"/stream/icon.svg":           "<svg",
		"/stream/centrifuge.LICENSE": "MIT License",
		"/stream/VERSION":            "centrifuge 5.7.4",
	} {
		r := e.do(nil, "GET", path, nil)
		if r.status != 200 || !strings.Contains(string(r.body), want) || r.header.Get("Cache-Control") != "public, max-age=3600" ||
			r.header.Get("Content-Security-Policy") != stream.BlotterCSP {
			t.Errorf("%s: status %d, headers %v, has %q: %v", path, r.status, r.header, want, strings.Contains(string(r.body), want))
		}
	}
	version, err := os.ReadFile("../stream/blotter/VERSION")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(e.do(nil, "GET", "/stream/centrifuge.js", nil).body)
	if !strings.Contains(string(version), "sha256 "+hex.EncodeToString(sum[:])) {
		t.Errorf("served centrifuge.js (sha256 %x) is not the one blotter/VERSION names", sum)
	}
	if r := e.do(nil, "HEAD", "/stream", nil); r.status != 200 || len(r.body) != 0 || r.header.Get("Content-Security-Policy") != stream.BlotterCSP {
		t.Errorf("HEAD /stream: %d %q", r.status, r.body)
	}
	if r := e.do(nil, "POST", "/stream", "{}"); r.status != 405 {
		t.Errorf("POST /stream: %d", r.status)
	}
	expect(t, e.do(nil, "GET", "/stream/nothing", nil), 404, "not_found")
}

// blotterPage is what the page shows, read from its DOM.
type blotterPage struct {
	Status     string                     `json:"status"`
	StatusText string                     `json:"status_text"`
	Signin     bool                       `json:"signin"`
	Accounts   map[string]*blotterAccount `json:"accounts"`
	Orders     []blotterOrder             `json:"orders"`
	Market     blotterMarket              `json:"market"`
}

// blotterMarket is the market panel: the board shown, its product info
// line, an error, the depth rows and the trades (newest first), as cells.
type blotterMarket struct {
	Board  string     `json:"board"`
	Info   string     `json:"info"`
	Error  string     `json:"error"`
	Depth  [][]string `json:"depth"`
	Trades [][]string `json:"trades"`
}

type blotterAccount struct {
	Access            string              `json:"access"`
	CashAvailable     float64             `json:"cash_available"`
	CashAvailableText string              `json:"cash_available_text"`
	CashHold          float64             `json:"cash_hold"`
	CashHoldText      string              `json:"cash_hold_text"`
	Holdings          map[string][]string `json:"holdings"` // symbol -> cells
}

type blotterOrder struct {
	ID     string   `json:"id"`
	Req    string   `json:"req"`
	Status string   `json:"status"`
	Via    string   `json:"via"`
	Cells  []string `json:"cells"`
}

func (p blotterPage) order(req string) *blotterOrder {
	for i := range p.Orders {
		if p.Orders[i].Req == req {
			return &p.Orders[i]
		}
	}
	return nil
}

// readBlotter reads the page's state from the DOM: what a person sees.
const readBlotter = `(() => {
  const text = (e) => e ? e.textContent.trim() : "";
  const accounts = {};
  for (const box of document.querySelectorAll("#balances .account")) {
    const dd = (f) => box.querySelector('dd[data-field="' + f + '"]');
    const holdings = {};
    for (const tr of box.querySelectorAll("tr[data-symbol]")) holdings[tr.dataset.symbol] = [...tr.cells].map(text);
    const rev = box.querySelector("h3 .revoked");
    accounts[box.dataset.account] = { access: rev ? text(rev) : "ok",
      cash_available: Number(dd("cash_available").dataset.value), cash_hold: Number(dd("cash_hold").dataset.value),
      cash_available_text: text(dd("cash_available")), cash_hold_text: text(dd("cash_hold")), holdings };
  }
  const orders = [...document.querySelectorAll("#orders tbody tr")].map((tr) => ({
    id: tr.dataset.orderId, req: tr.dataset.req, status: tr.dataset.status, via: tr.dataset.via, cells: [...tr.cells].map(text) }));
  const rows = (sel) => [...document.querySelectorAll(sel)].map((tr) => [...tr.cells].map(text));
  const err = document.getElementById("market-error");
  const market = { board: text(document.getElementById("market-board")), info: text(document.getElementById("market-info")),
    error: err.hidden ? "" : text(err), depth: rows("#depth tbody tr[data-level]"), trades: rows("#trades tbody tr") };
  return { status: document.getElementById("status").dataset.state, status_text: text(document.getElementById("status")), signin: !document.getElementById("signin").hidden, accounts, orders, market };
})()`

// wantBalancesEqualREST checks every account the page shows against the
// risk account view: cash, and each holding's sellable and held quantity.
// It waits up to 10 s for them to agree.
func wantBalancesEqualREST(t *testing.T, e *env, jwt string, b *browser) {
	t.Helper()
	// An order's report and its account's report travel on two channels,
	// so the page may show one before the other: wait for both.
	var diffs []string
	deadline := time.Now().Add(10 * time.Second)
	for {
		if diffs = balanceDiffs(t, e, jwt, b.page()); len(diffs) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, d := range diffs {
		t.Error(d)
	}
}

// balanceDiffs compares the page's balances of both demo accounts with
// GET /oms/risk/accounts/{id}.
func balanceDiffs(t *testing.T, e *env, jwt string, p blotterPage) []string {
	t.Helper()
	var diffs []string
	for _, acct := range []string{accountAn, accountBinh} {
		a := p.Accounts[acct]
		cash, hold, holdings := e.account(t, jwt, acct)
		if a == nil || a.CashAvailable != cash || a.CashHold != hold || len(a.Holdings) != len(holdings) {
			diffs = append(diffs, fmt.Sprintf("%s on the page %+v, REST cash %v hold %v holdings %v", acct, a, cash, hold, holdings))
			continue
		}
		for sym, q := range holdings {
			cells := a.Holdings[sym]
			if len(cells) != 5 || cells[1] != groupThousands(q[0]) || cells[2] != groupThousands(q[1]) || cells[3] != groupThousands(q[2]) {
				diffs = append(diffs, fmt.Sprintf("%s holding %s on the page %q, REST sellable %v hold %v pending %v", acct, sym, cells, q[0], q[1], q[2]))
			}
		}
	}
	return diffs
}

// groupThousands formats a whole number as the page does (en-US).
func groupThousands(v float64) string {
	s := strconv.FormatInt(int64(v), 10)
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// browser is one headless Chromium tab with its console collected.
type browser struct {
	t       *testing.T
	ctx     context.Context
	mu      sync.Mutex
	console []string
	errors  []string
}

// newBrowser starts Chromium (the binary chromium(t) found) headless,
// without the sandbox (tests run as root in CI), with one tab, and closes
// it at cleanup.
func newBrowser(t *testing.T, bin string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc) // after the tabs' cleanups (they run in reverse order)
	return openTab(t, actx)
}

// newTab opens another tab in b's browser.
func (b *browser) newTab() *browser { return openTab(b.t, b.ctx) }

// openTab opens a tab (and starts the browser, for its first tab) and
// collects what the page logs.
func openTab(t *testing.T, parent context.Context) *browser {
	ctx, cancelTab := chromedp.NewContext(parent)
	b := &browser{t: t, ctx: ctx}
	done := make(chan struct{})
	messages := chromedp.Console(ctx)
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			b.mu.Lock()
			line := fmt.Sprintf("%s %s:%d %s", m.Type, m.URL, m.Line+1, m.Text)
			b.console = append(b.console, line)
			if m.IsException() || m.Type == "error" {
				b.errors = append(b.errors, line)
			}
			b.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancelTab()
		<-done
		if t.Failed() {
			b.mu.Lock()
			t.Logf("browser console:\n%s", strings.Join(b.console, "\n"))
			b.mu.Unlock()
		}
	})
	return b
}

// do runs steps, bounded by 20 s.
func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// page reads what the page shows now.
func (b *browser) page() blotterPage {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](readBlotter))
	if err != nil {
		b.t.Fatalf("reading the page: %v", err)
	}
	var p blotterPage
	if err := json.Unmarshal(raw, &p); err != nil {
		b.t.Fatalf("reading the page: %v: %s", err, raw)
	}
	return p
}

// waitFor polls the page until ok holds, at most within.
func (b *browser) waitFor(within time.Duration, what string, ok func(blotterPage) bool) blotterPage {
	b.t.Helper()
	deadline := time.Now().Add(within)
	for {
		p := b.page()
		if ok(p) {
			return p
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("the page did not show %s within %v; it shows %+v", what, within, p)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// screenshot captures the viewport as PNG; with OMSD_WRITE_SCREENSHOT=1 it
// writes it to docs/stream.png (the README's picture; CI leaves it alone).
func (b *browser) screenshot() {
	b.t.Helper()
	write := os.Getenv("OMSD_WRITE_SCREENSHOT") == "1"
	if write {
		time.Sleep(1300 * time.Millisecond) // let the rows' change highlight fade
	}
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		b.t.Fatalf("screenshot: %v (%d bytes)", err, len(png))
	}
	if write {
		if err := os.WriteFile("../../docs/stream.png", png, 0o644); err != nil {
			b.t.Fatal(err)
		}
		b.t.Logf("wrote docs/stream.png (%d bytes)", len(png))
	}
}

// noConsoleErrors fails on an uncaught exception or a browser error (a
// CSP violation, a failed request) on the page.
func (b *browser) noConsoleErrors() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.errors) > 0 {
		b.t.Errorf("the page logged errors:\n%s", strings.Join(b.errors, "\n"))
	}
}
