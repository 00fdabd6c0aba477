// The Streaming API end to end through the real JavaScript client,
// centrifuge-js (npm `centrifuge`, pinned in ../package.json), once per
// transport: WebSocket, HTTP-streaming and SSE (the last two with the
// bidirectional emulation on /emulation). Node 20 has neither WebSocket nor
// EventSource: `ws` and `eventsource` stand in for them.
//
//   node test/outside/stream/stream.mjs http://127.0.0.1:8080
//
// (or BASE=... in the environment) against a dev-mode omsd with its demo
// data and empty books (--dev-market-maker=false: the checks' orders fill
// each other): run.sh stream starts one per store. For each transport, a
// client configured with that transport alone checks
//
//   crossing   a sell and a buy that cross: both accounts' order channels
//              report each order, the last report equals GET /util/orders;
//              the last cash and holding reports equal the risk account view
//   deposit    a deposit approved through the workflow: exactly one cash
//              report, with the balance REST reads
//   market     the same on HPG's trade log, statistics and VN30: one trade
//              log entry at the pair's price, the day's volume up by it
//   refused    a nonexistent account's channels are refused (103)
//   recovery   a client away while 100 pairs (200 orders) fill recovers
//              all 400 order reports on reconnecting, contiguous, none twice
//   revocation a revoked grant ends the subscription (2100) within 2 s; a
//              logout ends the connection (4500) within 2 s, for good
//
// centrifuge-js 5.7.x can emit a channel's publications out of order:
// Centrifuge._dataReceived chains only the start of each transport
// message's dispatch, so when two messages arrive in one turn and the first
// carries several replies, the second's are dispatched among them. The
// subscription's recovery position then is the last publication emitted,
// not the highest, and a reconnect recovers one publication twice. 5.8.0
// chains the end of each dispatch; fixDispatchOrder() below makes 5.7.x do
// the same (STREAM_CLIENT_AS_IS=1 leaves the client as it is, to see the
// bug). Each client also taps its transport (the WebSocket frames, the
// HTTP-streaming body, the SSE events): every channel's pushed offsets must
// increase on the wire, which tells a server fault from a client one.
//
// Every wait is bounded. Exit 0 when every check passed, 1 otherwise.
import { Centrifuge } from 'centrifuge';
import WebSocket from 'ws';
import { EventSource } from 'eventsource';

// fixDispatchOrder replaces Centrifuge._dataReceived of 5.7.x by 5.8.0's:
// a transport message's replies are dispatched once the previous message's
// are done. Returns whether the client needed it.
function fixDispatchOrder() {
  const proto = Centrifuge.prototype;
  if (process.env.STREAM_CLIENT_AS_IS || !String(proto._dataReceived).includes('let finishDispatch')) return false;
  proto._dataReceived = function dataReceived(data) {
    if (this._serverPing > 0) this._waitServerPing();
    const replies = this._codec.decodeReplies(data);
    this._dispatchPromise = this._dispatchPromise.then(() => new Promise((resolve) => {
      this._dispatchSynchronized(replies, resolve);
    }));
  };
  return true;
}

const BASE = (process.argv[2] || process.env.BASE || '').replace(/\/+$/, '');
if (!/^https?:\/\//.test(BASE)) {
  console.error('usage: node stream.mjs BASE (the omsd URL, e.g. http://127.0.0.1:8080)');
  process.exit(2);
}

const TRANSPORTS = ['websocket', 'http_stream', 'sse'];
const AN = '099C000001'; // demo account: cash, FPT, VNM
const BINH = '099C000002'; // demo account: cash, HPG
const MISSING = '099C999999';
const PAIRS = 100; // the recovery check's pairs of orders
const USERS = {
  trader: ['trader@oms.example', 'demo-trader-pass'], // TRADE on both accounts
  maker: ['maker@oms.example', 'demo-maker-pass'], // VIEW on both
  checker: ['checker@oms.example', 'demo-checker-pass'],
  admin: ['admin@oms.example', 'demo-admin-pass'],
};
// The docs' OrderExecutionReport fields.
const REPORT_FIELDS = `user orderID originalReqID internalOrderID refOrderID origClOrdID externalOrderID
  externalSecondOrderID accountID symbol marketID orderSide orderStatus orderType originalPrice originalQty
  orderCurrentPrice orderCurrentQty filledQty avgFillPrice cancelledQty orderText unixUTCTimeMs
  createunixUTCTimeMs persisState algoID positionID parentOrderId`.split(/\s+/);
// The fields an order's last report shares with GET /util/orders.
const REST_FIELDS = ['orderID', 'orderStatus', 'filledQty', 'avgFillPrice', 'cancelledQty', 'orderCurrentQty',
  'orderCurrentPrice', 'originalQty', 'originalPrice', 'accountID', 'symbol', 'orderSide', 'orderType',
  'unixUTCTimeMs', 'createunixUTCTimeMs'];
// The docs' fields, and omsd's settlement extension (omsd_: pending T+2
// cash and shares, as on the REST account view; docs/streaming.md).
const CASH_FIELDS = ['type', 'account_id', 'cash_available', 'cash_hold', 'bypass_cash', 'bypass_stock', 'ts_ns', 'omsd_cash_pending'];
const HOLDING_FIELDS = ['type', 'account_id', 'symbol', 'sellable_qty', 'hold_qty', 'avg_price', 'ts_ns', 'omsd_pending_qty'];
// The docs' TradeLog fields, and omsd's productStat and vnIndex (docs/streaming.md).
const TRADE_FIELDS = ['id', 'seq', 'symbol', 'unixTime', 'price', 'volume', 'change', 'way', 'boardID'];
const STAT_FIELDS = `id seq time symbol boardID nomiPrc lsPrc change changePct trades totVol totVal buyUpVol sellDownVol
  auctionVol priceStats`.split(/\s+/);
const INDEX_FIELDS = `indexCode time value prevClose change changePct totVol totVal advances declines unchanged
  constituents`.split(/\s+/);

const orderCh = (account) => `order:OrderExecutionReport:${account}`;
const accountCh = (account) => `order:Account:${account}`;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const show = (v) => JSON.stringify(v);

function fail(message) {
  throw new Error(message);
}

function wantEqual(got, want, what) {
  if (show(got) !== show(want)) fail(`${what}: got ${show(got)}, want ${show(want)}`);
}

// ---- REST ------------------------------------------------------------------

async function api(method, path, { jwt, body, headers = {}, want = 200 } = {}) {
  const h = { ...headers };
  if (jwt) h.Authorization = `Bearer ${jwt}`;
  if (body !== undefined) h['Content-Type'] = 'application/json';
  const res = await fetch(BASE + path, {
    method,
    headers: h,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  if (res.status !== want) fail(`${method} ${path}: HTTP ${res.status}, want ${want}: ${text.slice(0, 400)}`);
  return text ? JSON.parse(text) : null;
}

// login returns { jwt, session } of a fresh session.
async function login(who) {
  const [identifier, password] = USERS[who];
  const r = await api('POST', '/api/auth/login', { body: { identifier, password } });
  if (!r.jwt || !r.sessionToken) fail(`login ${identifier}: ${show(r)}`);
  return { jwt: r.jwt, session: r.sessionToken };
}

async function placeOrder(jwt, account, side, ref, qty = 100, price = '27500') {
  const body = { account_id: account, symbol: 'HPG', side, qty, order_type: 'LO', price, ref_order_id: ref };
  const r = await api('POST', '/api/v1/orders/new', { jwt, body });
  if (r.isSuccess !== true) fail(`order ${ref}: ${show(r)}`);
}

async function orderByReq(jwt, ref) {
  const r = await api('GET', `/api/v1/util/orders?original_req_id=${encodeURIComponent(ref)}`, { jwt });
  if (!Array.isArray(r.orders) || r.orders.length !== 1) fail(`orders with original_req_id ${ref}: ${show(r)}`);
  return r.orders[0];
}

const riskAccount = (jwt, account) => api('GET', `/api/v1/oms/risk/accounts/${account}`, { jwt });

// ---- the stream client -------------------------------------------------------

function transportEndpoint(transport) {
  const base = transport === 'websocket' ? BASE.replace(/^http/, 'ws') : BASE;
  return { transport, endpoint: `${base}/connection/${transport}` };
}

// The taps: each hands every text message the server sent, as it came, to
// tap (a JSON reply per line), and passes it on unchanged.

function tappedWebSocket(tap) {
  return class extends WebSocket {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (ev) => tap(String(ev.data)));
    }
  };
}

function tappedEventSource(tap) {
  return class extends EventSource {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (ev) => tap(ev.data));
    }
  };
}

function tappedFetch(tap) {
  return async (url, options) => {
    const res = await fetch(url, options);
    if (!String(url).endsWith('/connection/http_stream') || !res.body) return res;
    const decoder = new TextDecoder();
    let partial = '';
    const body = res.body.pipeThrough(new TransformStream({
      transform(chunk, controller) {
        const lines = (partial + decoder.decode(chunk, { stream: true })).split('\n');
        partial = lines.pop();
        tap(lines.join('\n'));
        controller.enqueue(chunk);
      },
    }));
    return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
}

// StreamClient is one centrifuge-js client on one transport alone, and
// everything it saw.
class StreamClient {
  // data is the connect data ({ accounts: 'all' }: the server subscribes
  // the client to its accounts' channels), none when absent.
  constructor(transport, jwt, data) {
    this.transport = transport;
    this.connected = []; // the transport each connection used
    this.disconnects = []; // codes
    this.errors = [];
    this.pubs = new Map(); // channel → [{ offset, data }] as the client emitted them
    this.wire = new Map(); // channel → the offsets of the publications pushed, as they came
    this.subscribed = new Map(); // channel → [SubscribedContext]
    this.unsubscribed = new Map(); // channel → [code]
    this.serverSubs = new Map(); // channel → [SubscribedContext] of server-side subscriptions
    this.connectData = null; // the connect reply's data
    const tap = (text) => this.tap(text);
    this.client = new Centrifuge([transportEndpoint(transport)], {
      token: jwt,
      websocket: tappedWebSocket(tap),
      fetch: tappedFetch(tap),
      readableStream: globalThis.ReadableStream,
      eventsource: tappedEventSource(tap),
      emulationEndpoint: `${BASE}/emulation`,
      networkEventTarget: null,
      minReconnectDelay: 100,
      maxReconnectDelay: 1000,
      timeout: 5000,
      ...(data ? { data } : {}),
    });
    this.client.on('connected', (ctx) => {
      this.connected.push(ctx.transport);
      this.connectData = ctx.data ?? null;
    });
    // Server-side subscriptions: their events come on the client.
    this.client.on('subscribed', (ctx) => {
      if (!this.serverSubs.has(ctx.channel)) this.serverSubs.set(ctx.channel, []);
      this.serverSubs.get(ctx.channel).push(ctx);
    });
    this.client.on('publication', (ctx) => {
      if (!this.pubs.has(ctx.channel)) this.pubs.set(ctx.channel, []);
      this.pubs.get(ctx.channel).push({ offset: ctx.offset, data: ctx.data });
    });
    this.client.on('disconnected', (ctx) => this.disconnects.push(ctx.code));
    this.client.on('error', (ctx) => this.errors.push(ctx));
  }

  // tap records the publications pushed in a message from the server.
  tap(text) {
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      let reply;
      try {
        reply = JSON.parse(line);
      } catch {
        this.errors.push({ type: 'wire', error: { message: `not JSON on the wire: ${line.slice(0, 200)}` } });
        continue;
      }
      const push = reply.push;
      if (push?.pub && push.channel) {
        if (!this.wire.has(push.channel)) this.wire.set(push.channel, []);
        this.wire.get(push.channel).push(Number(push.pub.offset ?? 0));
      }
    }
  }

  // wireOrder returns how each channel's pushed publications broke order
  // on the wire ('' when none did): every offset must exceed the one before.
  wireOrder() {
    const out = [];
    for (const [ch, offsets] of this.wire) {
      const bad = offsets.findIndex((o, i) => i > 0 && o <= offsets[i - 1]);
      if (bad > 0) out.push(`${ch}: offset ${offsets[bad]} pushed after ${offsets[bad - 1]}`);
    }
    return out.join('; ');
  }

  // inversions counts the publications the client emitted after one with a
  // higher offset of the same channel.
  inversions() {
    let n = 0;
    for (const pubs of this.pubs.values()) {
      pubs.forEach((p, i) => { if (i > 0 && p.offset < pubs[i - 1].offset) n++; });
    }
    return n;
  }

  // waitFor polls cond until it holds; fails after ms.
  async waitFor(cond, ms, what) {
    const start = Date.now();
    for (;;) {
      if (cond()) return Date.now() - start;
      if (Date.now() - start > ms) {
        const errs = this.errors.map((e) => `${e.type}: ${e.error?.code} ${e.error?.message}`).slice(-3);
        fail(`not ${what} within ${ms} ms (client ${this.client.state}, disconnects ${show(this.disconnects)}, ` +
          `errors ${show(errs)})`);
      }
      await sleep(10);
    }
  }

  async connect() {
    const n = this.connected.length;
    this.client.connect();
    await this.waitFor(() => this.connected.length > n, 10_000, `connected over ${this.transport}`);
    wantEqual(this.connected.at(-1), this.transport, 'the transport connected');
  }

  disconnect() {
    this.client.disconnect();
  }

  // subscribe subscribes to ch (recoverable) and returns at once.
  subscribe(ch) {
    for (const m of [this.pubs, this.subscribed, this.unsubscribed]) if (!m.has(ch)) m.set(ch, []);
    const sub = this.client.getSubscription(ch) || this.client.newSubscription(ch, { recoverable: true });
    if (sub.listenerCount('publication') === 0) {
      sub.on('publication', (ctx) => {
        if (ctx.data === null || typeof ctx.data !== 'object' || Array.isArray(ctx.data)) {
          this.errors.push({ type: 'publication', error: { message: `${ch}: not a JSON object: ${show(ctx.data)}` } });
        }
        this.pubs.get(ch).push({ offset: ctx.offset, data: ctx.data });
      });
      sub.on('subscribed', (ctx) => {
        // Recovered publications are delivered right after this event, in
        // the same turn: count them once it is over.
        const ev = { ...ctx, recoveredCount: 0 };
        const n = this.pubs.get(ch).length;
        queueMicrotask(() => { ev.recoveredCount = this.pubs.get(ch).length - n; });
        this.subscribed.get(ch).push(ev);
      });
      sub.on('unsubscribed', (ctx) => this.unsubscribed.get(ch).push(ctx.code));
      sub.on('error', (ctx) => this.errors.push(ctx));
    }
    sub.subscribe();
    return sub;
  }

  // subscribeAll subscribes to every channel and waits until each is.
  async subscribeAll(...chs) {
    const count = (m, ch) => m.get(ch)?.length ?? 0;
    const before = chs.map((ch) => [count(this.subscribed, ch), count(this.unsubscribed, ch)]);
    chs.forEach((ch) => this.subscribe(ch));
    for (const [i, ch] of chs.entries()) {
      const [subs, unsubs] = before[i];
      await this.waitFor(() => count(this.subscribed, ch) > subs || count(this.unsubscribed, ch) > unsubs,
        5000, `subscribed to ${ch}`);
      if (count(this.unsubscribed, ch) > unsubs) {
        fail(`${ch}: unsubscribed with ${show(this.unsubscribed.get(ch).slice(unsubs))}`);
      }
    }
  }

  // received returns ch's publications so far, as the client emitted them.
  received(ch) {
    return [...(this.pubs.get(ch) ?? [])];
  }

  data(ch) {
    return this.received(ch).map((p) => p.data);
  }
}

// ---- report helpers ----------------------------------------------------------

// statuses lists the orderStatus of every report of the order entered as ref.
function statuses(reports, ref) {
  return reports.filter((m) => m.originalReqID === ref).map((m) => m.orderStatus);
}

function lastWhere(list, keep) {
  for (let i = list.length - 1; i >= 0; i--) if (keep(list[i])) return list[i];
  return undefined;
}

function wantFields(what, m, fields) {
  const missing = fields.filter((f) => !(f in m));
  const extra = Object.keys(m).filter((f) => !fields.includes(f));
  if (missing.length || extra.length) fail(`${what}: missing ${show(missing)}, unexpected ${show(extra)} in ${show(m)}`);
}

// wantContiguous checks each offset follows the one before: nothing
// missed, nothing twice.
function wantContiguous(ch, pubs) {
  for (let i = 1; i < pubs.length; i++) {
    if (pubs[i].offset !== pubs[i - 1].offset + 1) {
      const around = pubs.slice(Math.max(0, i - 3), i + 4).map((p) => `${p.offset} ${show(p.data)}`);
      fail(`${ch}: offset ${pubs[i].offset} follows ${pubs[i - 1].offset} (publication ${i} of ${pubs.length}; ` +
        `offsets ${show(pubs.map((p) => p.offset))}; around it:\n    ${around.join('\n    ')})`);
    }
  }
}

// accountMismatch compares an account channel's last cash report and last
// holding report per symbol with GET /oms/risk/accounts/{id}; it returns
// what differs, or '' when nothing does.
async function accountMismatch(s, jwt, account) {
  const rest = await riskAccount(jwt, account);
  const reports = s.data(accountCh(account));
  const out = [];
  const cash = lastWhere(reports, (m) => m.type === 'account');
  if (!cash) {
    out.push('no cash report');
  } else {
    wantFields(`${account} cash report`, cash, CASH_FIELDS);
    if (cash.account_id !== account || cash.cash_available !== rest.cash_available || cash.cash_hold !== rest.cash_hold) {
      out.push(`last cash report ${show(cash)}, REST cash_available ${rest.cash_available} cash_hold ${rest.cash_hold}`);
    }
  }
  const symbols = new Set(reports.filter((m) => m.type === 'holding').map((m) => m.symbol));
  if (symbols.size === 0) out.push('no holding report');
  for (const symbol of symbols) {
    const h = lastWhere(reports, (m) => m.type === 'holding' && m.symbol === symbol);
    wantFields(`${account} holding report`, h, HOLDING_FIELDS);
    const want = (rest.holdings ?? []).find((x) => x.symbol === symbol);
    if (!want || h.sellable_qty !== want.sellable_qty || h.hold_qty !== want.hold_qty || h.account_id !== account) {
      out.push(`${symbol}: last holding report ${show(h)}, REST ${show(want)}`);
    }
  }
  return out.join('; ');
}

// wantAccountReports waits (5 s at most) until both accounts' last reports
// equal the risk account view.
async function wantAccountReports(s, jwt) {
  for (const account of [AN, BINH]) {
    const deadline = Date.now() + 5000;
    for (;;) {
      const diff = await accountMismatch(s, jwt, account);
      if (!diff) break;
      if (Date.now() > deadline) fail(`${accountCh(account)}: ${diff}`);
      await sleep(50);
    }
    wantContiguous(accountCh(account), s.received(accountCh(account)));
  }
}

// wantLastReportIsRest checks an order's last report against GET /util/orders.
async function wantLastReportIsRest(s, jwt, account, ref) {
  const rest = await orderByReq(jwt, ref);
  const got = lastWhere(s.data(orderCh(account)), (m) => m.originalReqID === ref);
  for (const f of REST_FIELDS) {
    if (got[f] !== rest[f]) fail(`${ref} ${f}: stream ${show(got[f])}, REST ${show(rest[f])}`);
  }
}

// pair enters a resting sell and a buy that takes it, both 100 HPG at
// 27500, and returns [the resting order's ref, the taker's ref].
async function pair(jwt, seller, buyer, ref) {
  await placeOrder(jwt, seller, 'S', `${ref}-s`);
  await placeOrder(jwt, buyer, 'B', `${ref}-b`);
  return [`${ref}-s`, `${ref}-b`];
}

// ---- the checks ------------------------------------------------------------------

// crossing: Binh's resting sell and An's buy fill each other.
async function checkCrossing(ctx) {
  const { s, trader, prefix } = ctx;
  const [sell, buy] = await pair(trader.jwt, BINH, AN, `${prefix}-x`);
  await s.waitFor(() => statuses(s.data(orderCh(BINH)), sell).includes('FILLED') &&
    statuses(s.data(orderCh(AN)), buy).includes('FILLED'), 5000, 'both orders reported FILLED');
  if (!statuses(s.data(orderCh(BINH)), sell).includes('FILLED')) {
    fail(`${sell} not filled by ${buy} (is omsd's dev market maker on? the checks need --dev-market-maker=false)`);
  }
  wantEqual(statuses(s.data(orderCh(BINH)), sell), ['NEW', 'FILLED'], `${sell} reports`);
  wantEqual(statuses(s.data(orderCh(AN)), buy), ['PENDING_NEW', 'FILLED'], `${buy} reports`);
  for (const account of [AN, BINH]) {
    wantContiguous(orderCh(account), s.received(orderCh(account)));
    s.data(orderCh(account)).forEach((m) => wantFields(`${orderCh(account)} report`, m, REPORT_FIELDS));
  }
  await wantLastReportIsRest(s, trader.jwt, BINH, sell);
  await wantLastReportIsRest(s, trader.jwt, AN, buy);
  await wantAccountReports(s, trader.jwt);
}

// all accounts: a client that connects with the data { accounts: 'all' }
// is subscribed by the server to the channels of the accounts it holds a
// grant on (the connect reply lists them) and gets a crossing pair's
// reports there.
async function checkAllAccounts(ctx) {
  const { trader, prefix, transport } = ctx;
  const a = new StreamClient(transport, trader.jwt, { accounts: 'all' });
  ctx.clients.push(a);
  await a.connect();
  const mine = a.connectData?.accounts ?? [];
  if (!mine.includes(AN) || !mine.includes(BINH)) fail(`connect reply data ${show(a.connectData)}: want ${AN} and ${BINH} among its accounts`);
  const chs = [AN, BINH].flatMap((account) => [orderCh(account), accountCh(account)]);
  await a.waitFor(() => chs.every((ch) => a.serverSubs.has(ch)), 5000, 'subscribed by the server to both accounts');
  const [sell, buy] = await pair(trader.jwt, BINH, AN, `${prefix}-all`);
  await a.waitFor(() => statuses(a.data(orderCh(BINH)), sell).includes('FILLED') &&
    statuses(a.data(orderCh(AN)), buy).includes('FILLED'), 5000, 'both orders reported FILLED to the server-side subscriptions');
  await a.waitFor(() => a.received(accountCh(AN)).length > 0 && a.received(accountCh(BINH)).length > 0, 5000, 'account reports');
  a.disconnect();
  return `${mine.length} accounts`;
}

// market: a crossing pair on HPG shows on its market channels: one trade
// log entry at the pair's price and quantity (a buyer taking the offer),
// the day's statistics up by it, and VN30 (HPG is a constituent) again.
async function checkMarket(ctx) {
  const { s, trader, prefix } = ctx;
  const trades = 'mkt:tradeLog:HPG-G1';
  const stat = 'mkt:productStat:HPG-G1';
  const index = 'mkt:vnIndex:VN30';
  await s.subscribeAll(trades, stat, index);
  // A new subscriber gets the statistics and the index as they are now.
  await s.waitFor(() => s.received(stat).length > 0 && s.received(index).length > 0, 5000, 'the market snapshots');
  await sleep(300); // market data goes out every 100 ms: the crossing check's trade is out by now
  const before = { vol: s.data(stat).at(-1).totVol, trades: s.received(trades).length, index: s.received(index).length };
  await pair(trader.jwt, BINH, AN, `${prefix}-m`);
  await s.waitFor(() => s.received(trades).length > before.trades && s.data(stat).at(-1).totVol === before.vol + 100 &&
    s.received(index).length > before.index, 5000, 'the trade on the market channels');
  const t = s.data(trades).at(-1);
  wantFields('trade log entry', t, TRADE_FIELDS);
  if (s.received(trades).length !== before.trades + 1 || t.price !== 27500 || t.volume !== 100 || t.way !== 1 ||
    t.symbol !== 'HPG' || t.boardID !== 'G1') {
    fail(`trade log after the pair: ${show(s.data(trades).slice(before.trades))}`);
  }
  const st = s.data(stat).at(-1);
  wantFields('product stat', st, STAT_FIELDS);
  if (st.lsPrc !== 27500 || !st.priceStats.some((p) => p.prc === 27500 && p.vol >= 100)) fail(`product stat: ${show(st)}`);
  const ix = s.data(index).at(-1);
  wantFields('VN30', ix, INDEX_FIELDS);
  if (ix.indexCode !== 'VN30' || !(ix.value > 0) || ix.constituents !== 3 || ix.advances + ix.declines + ix.unchanged !== 3) {
    fail(`VN30: ${show(ix)}`);
  }
  for (const ch of [trades, stat, index]) s.client.removeSubscription(s.client.getSubscription(ch));
}

// deposit: a DEPOSIT the maker files and the checker approves.
async function checkDeposit(ctx) {
  const { s, maker, checker, trader } = ctx;
  const ch = accountCh(BINH);
  const before = s.received(ch).length;
  const was = await riskAccount(trader.jwt, BINH);
  const r = await api('POST', '/api/v1/util/requests', {
    jwt: maker.jwt, body: { request_type: 'DEPOSIT', payload: { account_id: BINH, amount: 1000000.25 } },
  });
  if (!r.id) fail(`deposit request without an id: ${show(r)}`);
  await api('POST', `/api/v1/util/requests/${r.id}/approve`, { jwt: checker.jwt, body: { note: 'ok' } });
  await s.waitFor(() => s.received(ch).length > before, 5000, 'the deposit reported');
  await sleep(300); // nothing else follows
  const reports = s.data(ch).slice(before);
  const now = await riskAccount(trader.jwt, BINH);
  if (reports.length !== 1) fail(`${ch}: ${reports.length} reports after the deposit, want 1: ${show(reports)}`);
  const [m] = reports;
  wantFields(`${ch} cash report`, m, CASH_FIELDS);
  if (m.type !== 'account' || m.account_id !== BINH || m.cash_available !== now.cash_available || m.cash_hold !== now.cash_hold) {
    fail(`${ch}: after the deposit ${show(m)}; REST cash_available ${now.cash_available} cash_hold ${now.cash_hold}`);
  }
  if (Math.abs(now.cash_available - was.cash_available - 1000000.25) > 1e-6) {
    fail(`REST cash_available ${was.cash_available} → ${now.cash_available} after a deposit of 1000000.25`);
  }
  wantContiguous(ch, s.received(ch));
}

// refused: a nonexistent account's channels.
async function checkRefused(ctx) {
  const { s } = ctx;
  for (const ch of [orderCh(MISSING), accountCh(MISSING)]) {
    s.subscribe(ch);
    await s.waitFor(() => s.unsubscribed.get(ch).length > 0 || s.subscribed.get(ch).length > 0, 5000, `refused ${ch}`);
    if (s.subscribed.get(ch).length > 0) fail(`${ch}: subscribed`);
    wantEqual(s.unsubscribed.get(ch)[0], 103, `${ch} refused with`);
    s.client.removeSubscription(s.client.getSubscription(ch));
  }
}

// recovery: the client is away while PAIRS pairs fill, then comes back.
async function checkRecovery(ctx) {
  const { s, trader, prefix } = ctx;
  const chans = [orderCh(AN), orderCh(BINH), accountCh(AN), accountCh(BINH)];
  const subscribedBefore = chans.map((ch) => s.subscribed.get(ch).length);
  const reportsBefore = [AN, BINH].map((a) => s.received(orderCh(a)).length);
  s.disconnect();
  await s.waitFor(() => s.client.state === 'disconnected', 5000, 'disconnected');

  // Binh sells to An, then An sells back to Binh: the holdings stay put.
  const refs = []; // { seller, buyer, refs: [the resting sell's ref, the taking buy's ref] }
  for (let i = 0; i < PAIRS; i++) {
    const [seller, buyer] = i % 2 === 0 ? [BINH, AN] : [AN, BINH];
    refs.push({ seller, buyer, refs: await pair(trader.jwt, seller, buyer, `${prefix}-r${i}`) });
  }
  await sleep(300); // let the publisher catch up: what follows is recovered

  await s.connect();
  const recovered = []; // per channel: how many publications the resubscription recovered
  for (const [i, ch] of chans.entries()) {
    await s.waitFor(() => s.subscribed.get(ch).length > subscribedBefore[i], 5000, `resubscribed to ${ch}`);
    const ev = s.subscribed.get(ch).at(-1);
    if (!ev.wasRecovering || !ev.recovered) {
      fail(`${ch}: resubscribed without recovery: wasRecovering ${ev.wasRecovering}, recovered ${ev.recovered}`);
    }
    if (i < 2 && !ev.hasRecoveredPublications) fail(`${ch}: resubscribed with no publication recovered`);
    recovered.push(ev);
  }
  const lastPair = refs.at(-1);
  await s.waitFor(() => statuses(s.data(orderCh(lastPair.buyer)), lastPair.refs[1]).includes('FILLED') &&
    statuses(s.data(orderCh(lastPair.seller)), lastPair.refs[0]).includes('FILLED'), 10_000, 'every order recovered');
  await sleep(200); // nothing else follows

  for (const [i, account] of [AN, BINH].entries()) {
    const ch = orderCh(account);
    const all = s.received(ch);
    const away = all.slice(reportsBefore[i]);
    if (away.length !== 2 * PAIRS) fail(`${ch}: ${away.length} reports after reconnecting, want ${2 * PAIRS}`);
    const offsets = new Set(all.map((p) => p.offset));
    if (offsets.size !== all.length) fail(`${ch}: ${all.length - offsets.size} reports received twice`);
    wantContiguous(ch, all);
  }
  for (const { seller, buyer, refs: [resting, taker] } of refs) {
    wantEqual(statuses(s.data(orderCh(seller)), resting), ['NEW', 'FILLED'], `${resting} reports`);
    wantEqual(statuses(s.data(orderCh(buyer)), taker), ['PENDING_NEW', 'FILLED'], `${taker} reports`);
  }
  await wantLastReportIsRest(s, trader.jwt, lastPair.seller, lastPair.refs[0]);
  await wantLastReportIsRest(s, trader.jwt, lastPair.buyer, lastPair.refs[1]);
  await wantAccountReports(s, trader.jwt);
  const counts = recovered.map((ev) => ev.recoveredCount).join('+');
  return `${counts} publications recovered on order An, order Binh, account An, account Binh`;
}

// revocation: the maker's own client; its VIEW grant on An is revoked (and
// given back), then its session ends.
async function checkRevocation(ctx) {
  const { maker, admin, transport } = ctx;
  const m = new StreamClient(transport, maker.jwt);
  ctx.clients.push(m);
  await m.connect();
  await m.subscribeAll(orderCh(AN), orderCh(BINH));
  const grant = { user_id: USERS.maker[0], account_code: AN };

  await api('DELETE', '/api/v1/util/admin/permissions', { jwt: admin.jwt, body: grant });
  const took = await m.waitFor(() => m.unsubscribed.get(orderCh(AN)).length > 0, 2000, 'unsubscribed on revoke');
  wantEqual(m.unsubscribed.get(orderCh(AN))[0], 2100, 'revoked grant: unsubscribed with');
  wantEqual(m.client.getSubscription(orderCh(BINH)).state, 'subscribed', 'the other account\'s subscription');
  // Subscribing again is refused, until the grant is back.
  m.subscribe(orderCh(AN));
  await m.waitFor(() => m.unsubscribed.get(orderCh(AN)).length > 1 || m.subscribed.get(orderCh(AN)).length > 1,
    2000, 'refused again');
  wantEqual(m.unsubscribed.get(orderCh(AN))[1], 103, 'subscribing without the grant: refused with');
  await api('POST', '/api/v1/util/admin/permissions', { jwt: admin.jwt, body: { ...grant, level: 'VIEW' } });
  await m.subscribeAll(orderCh(AN));

  await api('POST', '/api/auth/logout', { headers: { 'X-Session-Token': maker.session }, want: 204 });
  const tookLogout = await m.waitFor(() => m.disconnects.length > 0, 2000, 'disconnected on logout');
  wantEqual(m.disconnects, [4500], 'logout: disconnected with');
  const connections = m.connected.length;
  await sleep(500);
  if (m.client.state !== 'disconnected' || m.connected.length !== connections) {
    fail(`after logout the client is ${m.client.state} (${m.connected.length - connections} reconnections)`);
  }
  return `revoke → 2100 in ${took} ms, logout → 4500 in ${tookLogout} ms`;
}

const CHECKS = [
  ['crossing', checkCrossing],
  ['market', checkMarket],
  ['deposit', checkDeposit],
  ['all accounts', checkAllAccounts],
  ['refused', checkRefused],
  ['recovery', checkRecovery],
  ['revocation', checkRevocation],
];

// ---- the run -----------------------------------------------------------------------

const results = { passed: 0, failed: 0 };
const strays = []; // rejections nothing handled (say, an emulation POST that failed)
process.on('unhandledRejection', (err) => strays.push(String(err?.stack ?? err)));

async function runTransport(transport, tag) {
  const ctx = { transport, prefix: `js-${tag}-${Date.now().toString(36)}`, clients: [] };
  console.log(`== ${transport}`);
  let i = 0;
  let current = 'setup';
  try {
    for (const who of Object.keys(USERS)) ctx[who] = await login(who);
    ctx.s = new StreamClient(transport, ctx.trader.jwt);
    ctx.clients.push(ctx.s);
    await ctx.s.connect();
    await ctx.s.subscribeAll(orderCh(AN), orderCh(BINH), accountCh(AN), accountCh(BINH));
    for (; i < CHECKS.length; i++) {
      const [name, check] = CHECKS[i];
      current = name;
      const start = Date.now();
      const note = await check(ctx);
      const strayErrors = ctx.clients.flatMap((c) => c.errors.filter((e) => e.type === 'publication' || e.type === 'wire'));
      if (strayErrors.length) fail(strayErrors.map((e) => e.error.message).join('; '));
      const wire = ctx.clients.map((c) => c.wireOrder()).filter(Boolean);
      if (wire.length) fail(`out of order on the wire: ${wire.join('; ')}`);
      console.log(`ok   ${transport} ${name} (${Date.now() - start} ms${note ? `; ${note}` : ''})`);
      results.passed++;
    }
  } catch (err) {
    console.log(`FAIL ${transport} ${current}: ${err.message}`);
    results.failed += CHECKS.length - i; // the checks after it depend on it
  } finally {
    ctx.clients.forEach((c) => c.disconnect());
  }
  const pushed = ctx.clients.reduce((n, c) => n + [...c.wire.values()].reduce((m, o) => m + o.length, 0), 0);
  const inversions = ctx.clients.reduce((n, c) => n + c.inversions(), 0);
  console.log(`     ${transport}: ${pushed} publications pushed live; ${inversions} emitted out of order by the client`);
}

// fund gives both demo accounts what the checks trade with. Equities
// settle T+2 in omsd (docs/trading.md), so what an account buys is not
// sellable and what it sells is not spendable the same day: An gets HPG
// to sell back and Binh cash to buy with, through the maker-checker
// workflow, before any client subscribes.
async function fund() {
  const maker = await login('maker');
  const checker = await login('checker');
  for (const [request_type, payload] of [
    ['ADD_STOCK', { account_id: AN, symbol: 'VN000000HPG4', quantity: 20000, avg_price: 27500 }],
    ['DEPOSIT', { account_id: BINH, amount: 1000000000 }],
  ]) {
    const r = await api('POST', '/api/v1/util/requests', { jwt: maker.jwt, body: { request_type, payload } });
    const a = await api('POST', `/api/v1/util/requests/${r.id}/approve`, { jwt: checker.jwt, body: { note: 'stream checks' } });
    if (a.status !== 'APPLIED') fail(`${request_type} for the checks: ${show(a)}`);
  }
}

const tags = { websocket: 'ws', http_stream: 'hs', sse: 'sse' };
await fund();
if (fixDispatchOrder()) console.log('== centrifuge-js 5.7.x: dispatch order fixed as in 5.8.0 (see the header)');
const started = Date.now();
for (const transport of TRANSPORTS) await runTransport(transport, tags[transport]);
console.log(`== ${TRANSPORTS.join(', ')} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
if (strays.length) {
  console.log(`FAIL unhandled rejections:\n${strays.join('\n')}`);
  results.failed++;
}
console.log(`stream: ${results.passed} passed, ${results.failed} failed`);
process.exit(results.failed ? 1 : 0);
