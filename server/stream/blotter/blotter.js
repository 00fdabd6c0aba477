// The live blotter (GET /stream): a small real user of the REST API and the
// Streaming API. It signs in (POST /api/auth/login), loads the caller's
// accounts and orders over REST, subscribes to each account's order and
// account channels with centrifuge-js (vendored beside this file) and keeps
// the orders and balances tables up to date from what they publish.
//
// Consistency: a REST snapshot is (re)loaded every time a subscription starts
// without recovering what it missed (the first subscribe, or a reconnect
// whose position fell out of the history); publications that arrive while a
// snapshot loads are held and applied after it, in order, so the page ends
// on the latest state. No secrets go into URLs or storage: the JWT and the
// session token live in this page's memory only.
//
// The market panel subscribes to one board's depth, trade log and product
// info channels; the server hands a new subscriber the current depth and
// product info, and the trade log from then on.
(function () {
  "use strict";

  var $ = function (id) { return document.getElementById(id); };
  // Paths are resolved against the page's address, so the page also works
  // behind a path prefix.
  var url = function (p) { return new URL(p, document.baseURI).href; };
  var ORDER = "order:OrderExecutionReport:", ACCOUNT = "order:Account:";
  var SNAPSHOT_ORDERS = 500; // newest orders loaded over REST
  var MAX_ROWS = 1000;       // orders kept on the page

  var S = {
    jwt: "", sessionToken: "", user: "",
    accounts: new Map(), // id -> { cash_available, cash_hold, holdings: Map(symbol -> holding), access }
    orders: new Map(),   // orderID -> { report, row }
    client: null, transport: "",
    subs: new Map(),     // channel -> Subscription
    live: new Set(),     // channels subscribed now
    reloading: false, reloadTimer: 0, reloadAgain: false, held: [],
    market: null,        // { board: "FPT-G1", subs: [Subscription] }
  };
  var MARKET_KINDS = ["depth", "tradeLog", "productInfo"];
  var MAX_TRADES = 30;   // trades kept in the market panel

  // ---- formatting -----------------------------------------------------------
  var intFmt = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
  var decFmt = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  // num groups thousands; amounts with a fraction show two decimals.
  function num(v) {
    if (typeof v !== "number" || !isFinite(v)) { return "—"; }
    return (Number.isInteger(v) ? intFmt : decFmt).format(v);
  }
  function price(v) { return v ? num(v) : "—"; }
  function time(ms) {
    if (!ms) { return "—"; }
    var d = new Date(ms);
    return d.toLocaleTimeString("en-GB", { hour12: false });
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }
  function flash(e) {
    e.classList.remove("flash");
    void e.offsetWidth; // restart the animation
    e.classList.add("flash");
  }

  // ---- status ---------------------------------------------------------------
  function setStatus(state, text) {
    var s = $("status");
    s.dataset.state = state;
    s.textContent = text;
  }
  function updateStatus() {
    if (!S.client) { return; }
    var state = S.client.state;
    if (state === "connected") {
      var all = S.live.size === S.subs.size;
      if (S.reloading || S.reloadTimer || !all) { setStatus("loading", "loading · " + S.transport); }
      else { setStatus("live", "live · " + S.transport); }
    } else if (state === "connecting") {
      setStatus("connecting", "connecting…");
    }
  }

  // ---- REST -----------------------------------------------------------------
  function errorText(r, m) {
    return (m && (m.message || m.detail || m.error)) || ("HTTP " + r.status);
  }
  async function readJSON(r) {
    try { return await r.json(); } catch (e) { return null; }
  }
  // refreshToken asks for a fresh JWT of the session (GET /api/auth/session);
  // a session that ended is the client's UnauthorizedError (no reconnect).
  async function refreshToken() {
    var r = await fetch(url("api/auth/session"), { headers: { "X-Session-Token": S.sessionToken }, cache: "no-store" });
    if (r.status === 400 || r.status === 401) { throw new Centrifuge.UnauthorizedError("session ended"); }
    var m = await readJSON(r);
    if (!r.ok || !m || !m.tokenized) { throw new Error("session refresh: " + errorText(r, m)); }
    S.jwt = m.tokenized;
    return S.jwt;
  }
  // get reads a REST resource with the bearer JWT, refreshing it once when
  // it expired.
  async function get(path) {
    for (var attempt = 0; ; attempt++) {
      var r = await fetch(url(path), { headers: { Authorization: "Bearer " + S.jwt }, cache: "no-store" });
      if (r.status === 401 && attempt === 0) { await refreshToken(); continue; }
      var m = await readJSON(r);
      if (!r.ok) { throw new Error(path + ": " + errorText(r, m)); }
      return m;
    }
  }
  async function loadSnapshot() {
    var both = await Promise.all([get("api/v1/oms/risk/accounts"), get("api/v1/util/orders?limit=" + SNAPSHOT_ORDERS)]);
    return { accounts: both[0] || [], orders: (both[1] && both[1].orders) || [] };
  }

  // ---- balances -------------------------------------------------------------
  function account(id) {
    var a = S.accounts.get(id);
    if (!a) {
      a = { cash_available: undefined, cash_hold: undefined, holdings: new Map(), access: "ok" };
      S.accounts.set(id, a);
    }
    return a;
  }
  function applySnapshot(snap) {
    var seen = new Set();
    snap.accounts.forEach(function (v) {
      var id = v.account_id || v.account_code;
      if (!id) { return; }
      seen.add(id);
      var a = account(id);
      a.cash_available = v.cash_available; a.cash_hold = v.cash_hold; a.access = "ok";
      a.holdings = new Map();
      (v.holdings || []).forEach(function (h) { a.holdings.set(h.symbol, h); });
      renderAccount(id);
    });
    S.accounts.forEach(function (a, id) {
      if (!seen.has(id) && a.access === "ok") { a.access = "no access"; renderAccount(id); }
    });
    // Oldest first, so the newest rows end on top.
    snap.orders.slice().reverse().forEach(function (o) { upsertOrder(o, "rest"); });
    $("no-orders").hidden = S.orders.size > 0;
    subscribeAll();
  }
  function applyAccountReport(m) {
    var a = account(m.account_id);
    if (m.type === "account") {
      a.cash_available = m.cash_available; a.cash_hold = m.cash_hold;
    } else if (m.type === "holding") {
      if (!m.sellable_qty && !m.hold_qty && !m.omsd_pending_qty) { a.holdings.delete(m.symbol); } // the position is gone
      else { a.holdings.set(m.symbol, m); }
    }
    renderAccount(m.account_id, m.type === "holding" ? m.symbol : "cash");
  }
  function renderAccount(id, changed) {
    var a = S.accounts.get(id), box = document.querySelector('.account[data-account="' + CSS.escape(id) + '"]');
    if (!box) {
      box = el("div", "account");
      box.dataset.account = id;
      var list = $("balances"), next = Array.prototype.find.call(list.children, function (c) { return c.dataset.account > id; });
      list.insertBefore(box, next || null);
    }
    box.replaceChildren();
    var h = el("h3", "", id);
    if (a.access !== "ok") { h.appendChild(el("span", "revoked", "(" + a.access + ")")); }
    box.appendChild(h);
    var dl = el("dl");
    [["cash_available", "Cash available"], ["cash_hold", "Cash on hold"]].forEach(function (f) {
      dl.appendChild(el("dt", "", f[1]));
      var dd = el("dd", "", num(a[f[0]]));
      dd.dataset.field = f[0];
      dd.dataset.value = String(a[f[0]]);
      dl.appendChild(dd);
      if (changed === "cash") { flash(dd); }
    });
    box.appendChild(dl);
    box.appendChild(holdingsTable(a, changed));
  }
  function holdingsTable(a, changed) {
    var t = el("table", "holdings"), head = el("tr");
    [["Holding", ""], ["Sellable", "num"], ["On hold", "num"], ["Pending (T+2)", "num"], ["Avg price", "num"]].forEach(function (c) { head.appendChild(el("th", c[1], c[0])); });
    t.appendChild(el("thead")).appendChild(head);
    var body = t.appendChild(el("tbody"));
    Array.from(a.holdings.keys()).sort().forEach(function (sym) {
      var h = a.holdings.get(sym), tr = el("tr");
      tr.dataset.symbol = sym;
      tr.appendChild(el("td", "", sym));
      tr.appendChild(el("td", "num", num(h.sellable_qty)));
      tr.appendChild(el("td", "num", num(h.hold_qty)));
      tr.appendChild(el("td", "num", num(h.omsd_pending_qty || 0)));
      tr.appendChild(el("td", "num", price(h.avg_price)));
      body.appendChild(tr);
      if (changed === sym) { flash(tr); }
    });
    if (a.holdings.size === 0) {
      var none = el("td", "muted", "no holdings");
      none.colSpan = 5;
      body.appendChild(el("tr")).appendChild(none);
    }
    return t;
  }

  // ---- orders ---------------------------------------------------------------
  var COLUMNS = [
    function (o) { return [time(o.createunixUTCTimeMs), ""]; },
    function (o) { return [o.accountID, ""]; },
    function (o) { return [o.originalReqID || o.refOrderID || "", "ref"]; },
    function (o) { return [o.symbol, ""]; },
    function (o) { return [o.orderSide === "B" ? "Buy" : o.orderSide === "S" ? "Sell" : o.orderSide, "side-" + o.orderSide]; },
    function (o) { return [o.orderType, ""]; },
    function (o) { return [o.orderStatus, "status"]; },
    function (o) { return [num(o.orderCurrentQty), "num"]; },
    function (o) { return [num(o.filledQty), "num"]; },
    function (o) { return [price(o.orderCurrentPrice), "num"]; },
    function (o) { return [o.filledQty ? price(o.avgFillPrice) : "—", "num"]; },
  ];
  // newer sorts an order before another: entered later, then higher id.
  function newer(a, b) {
    if ((a.createunixUTCTimeMs || 0) !== (b.createunixUTCTimeMs || 0)) { return (a.createunixUTCTimeMs || 0) > (b.createunixUTCTimeMs || 0); }
    return Number(a.orderID) > Number(b.orderID);
  }
  function upsertOrder(o, via) {
    if (!o || !o.orderID) { return; }
    var cur = S.orders.get(o.orderID), row = cur ? cur.row : el("tr");
    row.dataset.orderId = o.orderID;
    row.dataset.req = o.originalReqID || "";
    row.dataset.account = o.accountID || "";
    row.dataset.status = o.orderStatus || "";
    row.dataset.via = via;
    row.title = "order " + o.orderID + ", last change " + time(o.unixUTCTimeMs) + (o.orderText ? ": " + o.orderText : "");
    row.replaceChildren();
    COLUMNS.forEach(function (col) {
      var v = col(o);
      row.appendChild(el("td", v[1], v[0]));
    });
    if (!cur) {
      S.orders.set(o.orderID, { report: o, row: row });
      var body = document.querySelector("#orders tbody"), next = body.firstElementChild;
      while (next && !newer(o, S.orders.get(next.dataset.orderId).report)) { next = next.nextElementSibling; }
      body.insertBefore(row, next);
      trimOrders(body);
    } else {
      cur.report = o;
    }
    if (via === "stream") { flash(row); }
    $("no-orders").hidden = true;
  }
  function trimOrders(body) {
    while (body.children.length > MAX_ROWS) {
      var last = body.lastElementChild;
      S.orders.delete(last.dataset.orderId);
      body.removeChild(last);
    }
  }

  // ---- market ---------------------------------------------------------------
  // watchMarket shows one board: "FPT" is the round-lot board FPT-G1.
  function watchMarket(input) {
    var c = S.client, v = input.trim().toUpperCase();
    if (!c || !v) { return; }
    var board = v.indexOf("-") > 0 ? v : v + "-G1";
    if (S.market && S.market.board === board) { return; } // shown already
    unwatchMarket();
    S.market = { board: board, subs: [] };
    $("market-board").textContent = board;
    showMarketError("");
    $("market-info").textContent = "";
    document.querySelector("#depth tbody").replaceChildren();
    document.querySelector("#trades tbody").replaceChildren();
    var m = S.market, current = function () { return S.client === c && S.market === m; };
    MARKET_KINDS.forEach(function (kind) {
      var sub = c.newSubscription("mkt:" + kind + ":" + board);
      sub.on("publication", function (ctx) { if (current()) { applyMarket(kind, ctx.data); } });
      sub.on("unsubscribed", function (ctx) {
        if (current() && ctx.code !== 0) { showMarketError(board + ": " + (ctx.code === 108 ? "no such board" : ctx.reason)); }
      });
      m.subs.push(sub);
      sub.subscribe();
    });
  }
  function unwatchMarket() {
    var m = S.market;
    S.market = null;
    if (!m) { return; }
    m.subs.forEach(function (sub) { if (S.client) { S.client.removeSubscription(sub); } else { sub.unsubscribe(); } });
  }
  function showMarketError(text) {
    var e = $("market-error");
    e.textContent = text;
    e.hidden = !text;
  }
  function applyMarket(kind, d) {
    if (kind === "depth") { renderDepth(d); }
    else if (kind === "tradeLog") { addTrade(d); }
    else if (kind === "productInfo") { renderInfo(d); }
  }
  function renderDepth(d) {
    var bids = d.bidPriceDepth || [], asks = d.askPriceDepth || [], body = document.querySelector("#depth tbody");
    body.replaceChildren();
    for (var i = 0; i < Math.max(bids.length, asks.length); i++) {
      var tr = el("tr"), b = bids[i], a = asks[i];
      tr.dataset.level = String(i);
      tr.appendChild(el("td", "num bid", b ? num(b.vol) : ""));
      tr.appendChild(el("td", "num bid", b ? price(b.prc) : ""));
      tr.appendChild(el("td", "num ask", a ? price(a.prc) : ""));
      tr.appendChild(el("td", "num ask", a ? num(a.vol) : ""));
      body.appendChild(tr);
    }
    if (!bids.length && !asks.length) {
      var none = el("td", "muted", "the book is empty");
      none.colSpan = 4;
      body.appendChild(el("tr")).appendChild(none);
    }
  }
  function addTrade(x) {
    var body = document.querySelector("#trades tbody"), tr = el("tr");
    var taker = x.way === 1 ? "Buy" : x.way === 2 ? "Sell" : "Auction";
    tr.dataset.id = x.id;
    tr.appendChild(el("td", "", time(x.unixTime)));
    tr.appendChild(el("td", "num", price(x.price)));
    tr.appendChild(el("td", "num", num(x.volume)));
    tr.appendChild(el("td", "taker-" + taker, taker));
    body.insertBefore(tr, body.firstElementChild);
    while (body.children.length > MAX_TRADES) { body.removeChild(body.lastElementChild); }
    flash(tr);
  }
  function renderInfo(p) {
    var change = p.lsVol ? p.lsPrc - p.nomiPrc : 0;
    $("market-info").textContent = "last " + price(p.lsVol ? p.lsPrc : 0) + (p.lsVol ? " (" + (change > 0 ? "+" : "") + num(change) + ")" : "") +
      " · volume " + num(p.totVol) + " · reference " + price(p.nomiPrc) + " · " + p.tradingSession;
  }

  // ---- streaming ------------------------------------------------------------
  function onPublication(channel, data) {
    if (S.reloading || S.reloadTimer) { S.held.push([channel, data]); return; }
    apply(channel, data);
  }
  function apply(channel, data) {
    if (channel.indexOf(ORDER) === 0) { upsertOrder(data, "stream"); }
    else if (channel.indexOf(ACCOUNT) === 0) { applyAccountReport(data); }
  }
  // scheduleReload loads the REST snapshot again (once for a burst of
  // subscriptions), holding publications meanwhile.
  function scheduleReload() {
    if (S.reloading) { S.reloadAgain = true; return; }
    if (!S.reloadTimer) { S.reloadTimer = setTimeout(reload, 30); }
    updateStatus();
  }
  async function reload() {
    S.reloadTimer = 0;
    S.reloading = true;
    try {
      applySnapshot(await loadSnapshot());
    } catch (e) {
      if (e instanceof Centrifuge.UnauthorizedError) { ended("session ended"); return; }
      S.reloadAgain = true; // try again shortly
      await new Promise(function (res) { setTimeout(res, 2000); });
    }
    S.reloading = false;
    var held = S.held;
    S.held = [];
    held.forEach(function (p) { apply(p[0], p[1]); });
    if (S.reloadAgain) { S.reloadAgain = false; scheduleReload(); }
    updateStatus();
  }
  function subscribeAll() {
    if (!S.client) { return; }
    S.accounts.forEach(function (a, id) {
      if (a.access !== "ok") { return; }
      [ORDER + id, ACCOUNT + id].forEach(function (ch) { if (!S.subs.has(ch)) { subscribe(ch, id); } });
    });
    updateStatus();
  }
  function subscribe(ch, id) {
    var c = S.client, sub = c.newSubscription(ch, { recoverable: true });
    var mine = function () { return S.client === c; }; // not a client of an earlier sign-in
    S.subs.set(ch, sub);
    sub.on("publication", function (ctx) { if (mine()) { onPublication(ch, ctx.data); } });
    sub.on("subscribed", function (ctx) {
      if (!mine()) { return; }
      S.live.add(ch);
      if (!(ctx.wasRecovering && ctx.recovered)) { scheduleReload(); } // the first time, or missed something
      updateStatus();
    });
    sub.on("subscribing", function () { if (mine()) { S.live.delete(ch); updateStatus(); } });
    sub.on("unsubscribed", function (ctx) {
      if (!mine()) { return; }
      // Refused (103) or a revoked grant (2100): this account is gone from view.
      S.live.delete(ch);
      S.subs.delete(ch);
      c.removeSubscription(sub);
      account(id).access = ctx.code === 2100 ? "access revoked" : "no access";
      renderAccount(id);
      updateStatus();
    });
    sub.subscribe();
  }
  function connect() {
    var ws = new URL("connection/websocket", document.baseURI);
    ws.protocol = ws.protocol === "https:" ? "wss:" : "ws:";
    var c = new Centrifuge([
      { transport: "websocket", endpoint: ws.href },
      { transport: "http_stream", endpoint: url("connection/http_stream") },
      { transport: "sse", endpoint: url("connection/sse") },
    ], { token: S.jwt, getToken: function () { return refreshToken(); }, emulationEndpoint: url("emulation") });
    S.client = c;
    c.on("connecting", function () { S.live.clear(); updateStatus(); });
    c.on("connected", function (ctx) { S.transport = ctx.transport; updateStatus(); });
    c.on("disconnected", function (ctx) {
      if (S.client === c && ctx.code !== 0) { ended("disconnected: " + ctx.reason + " (" + ctx.code + ")"); }
    });
    subscribeAll();
    watchMarket($("market-input").value);
    c.connect();
  }

  // ---- session --------------------------------------------------------------
  function reset() {
    unwatchMarket();
    var c = S.client;
    S.client = null;
    if (c) { c.disconnect(); }
    S.jwt = ""; S.sessionToken = ""; S.user = "";
    S.accounts.clear(); S.orders.clear(); S.subs.clear(); S.live.clear(); S.held = [];
    clearTimeout(S.reloadTimer);
    S.reloadTimer = 0; S.reloading = false; S.reloadAgain = false;
    $("balances").replaceChildren();
    document.querySelector("#orders tbody").replaceChildren();
    document.querySelector("#depth tbody").replaceChildren();
    document.querySelector("#trades tbody").replaceChildren();
    $("market-info").textContent = "";
    $("market-board").textContent = "";
    showMarketError("");
    $("blotter").hidden = true;
    $("who").hidden = true;
    $("signin").hidden = false;
    setStatus("signed-out", "signed out");
  }
  function ended(why) {
    reset();
    setStatus("ended", "session ended");
    showError(why + ". Sign in again.");
  }
  function showError(text) {
    var e = $("signin-error");
    e.textContent = text;
    e.hidden = !text;
  }
  async function signIn(ev) {
    ev.preventDefault();
    var button = $("signin-submit"), email = $("email").value.trim(), pw = $("password");
    button.disabled = true;
    showError("");
    setStatus("loading", "signing in…");
    try {
      var r = await fetch(url("api/auth/login"), {
        method: "POST", headers: { "Content-Type": "application/json" }, cache: "no-store",
        body: JSON.stringify({ identifier: email, password: pw.value }),
      });
      var m = await readJSON(r);
      if (!r.ok || !m || !m.jwt) { throw new Error("Sign-in failed: " + errorText(r, m)); }
      pw.value = "";
      S.jwt = m.jwt; S.sessionToken = m.sessionToken; S.user = email;
      applySnapshot(await loadSnapshot());
      $("user").textContent = email;
      $("signin").hidden = true;
      $("who").hidden = false;
      $("blotter").hidden = false;
      connect();
    } catch (e) {
      var token = S.sessionToken;
      reset();
      showError(e.message || String(e));
      if (token) { logout(token); }
    } finally {
      button.disabled = false;
    }
  }
  function signOut() {
    var token = S.sessionToken;
    reset();
    if (token) { logout(token); }
  }
  async function logout(token) {
    try { await fetch(url("api/auth/logout"), { method: "POST", headers: { "X-Session-Token": token } }); } catch (e) { /* ends with the JWT anyway */ }
  }

  $("signin").addEventListener("submit", signIn);
  $("signout").addEventListener("click", signOut);
  $("market-form").addEventListener("submit", function (ev) { ev.preventDefault(); watchMarket($("market-input").value); });
})();
