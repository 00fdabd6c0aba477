// Scripted FIX 4.2 initiator built on the QuickFIX C++ engine, driven by a
// line protocol on stdin and reporting events on stdout (see README.md).
// Used by the Go end-to-end tests of the FIX acceptor as an independent,
// real-world counterparty.

#include <quickfix/Application.h>
#include <quickfix/FileLog.h>
#include <quickfix/FileStore.h>
#include <quickfix/Message.h>
#include <quickfix/Session.h>
#include <quickfix/SessionSettings.h>
#include <quickfix/SocketInitiator.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

std::mutex outMutex;

// emit prints one event line and flushes it at once; QuickFIX calls back
// from its own thread, so every line goes through the same mutex.
void emit(const std::string& line) {
  std::lock_guard<std::mutex> lock(outMutex);
  std::fputs(line.c_str(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

// pipes renders a message with SOH (0x01) shown as '|'.
std::string pipes(const FIX::Message& message) {
  std::string text = message.toString();
  for (char& c : text)
    if (c == '\001') c = '|';
  return text;
}

using Clock = std::chrono::steady_clock;

// field is tag's value in the body, or "" when it is not set.
std::string field(const FIX::FieldMap& map, int tag) {
  return map.isSetField(tag) ? map.getField(tag) : std::string();
}

std::string msgType(const FIX::Message& m) { return field(m.getHeader(), 35); }

// LoadRun is one `load` command: the command thread sends the orders,
// QuickFIX's thread takes their reports. Every field is under mu.
struct LoadRun {
  std::string prefix, account, symbol, side;
  bool cancel = true;  // false (`keep`): the orders stay in the book
  std::mutex mu;
  std::condition_variable changed;
  std::map<std::string, Clock::time_point> waiting;  // ClOrdID -> send time
  std::vector<long long> micros;                      // ER(new) round trips
  int ok = 0, rejected = 0, cancelsSent = 0, cancelsDone = 0, cancelsRefused = 0;
  std::string firstReject, firstCancelReject;
  Clock::time_point lastActivity = Clock::now();  // last send or report
  Clock::time_point lastAnswer = Clock::now();    // last ER(new) or reject

  // waitUntil waits (lock held) until done() holds; false once nothing
  // has been sent or received for stallLimit.
  template <class Done>
  bool waitUntil(std::unique_lock<std::mutex>& lock, Done done) {
    const auto stallLimit = std::chrono::seconds(10);
    while (!done()) {
      if (Clock::now() >= lastActivity + stallLimit) return false;
      changed.wait_until(lock, lastActivity + stallLimit);
    }
    return true;
  }

  // onReport takes one report; true when it is the first
  // ExecutionReport(new) of one of this run's orders, with the cancel of
  // that order to send in cancel.
  bool onReport(const FIX::Message& m, FIX::Message& cancel) {
    std::string type = msgType(m), id = field(m, 11), exec = field(m, 150);
    if (id.compare(0, prefix.size(), prefix) != 0) return false;
    std::lock_guard<std::mutex> lock(mu);
    Clock::time_point now = Clock::now();
    lastActivity = now;
    changed.notify_all();
    auto it = waiting.find(id);
    if (type == "9") {
      cancelsDone++;
      if (++cancelsRefused == 1) firstCancelReject = field(m, 58);
    } else if (type == "8" && exec == "4") {
      cancelsDone++;
    } else if (type == "8" && exec == "8" && it != waiting.end()) {
      if (++rejected == 1) firstReject = field(m, 58);
      lastAnswer = now;
      waiting.erase(it);
    } else if (type == "8" && exec == "0" && it != waiting.end()) {
      micros.push_back(std::chrono::duration_cast<std::chrono::microseconds>(
                           now - it->second).count());
      ok++;
      lastAnswer = now;
      waiting.erase(it);
      if (!this->cancel) return false;
      cancel = cancelFor(id);
      cancelsSent++;
      return true;
    }
    return false;
  }

  FIX::Message cancelFor(const std::string& id) const {
    FIX::Message m;
    m.getHeader().setField(FIX::BeginString(FIX::BeginString_FIX42));
    m.getHeader().setField(35, "F");
    m.setField(41, id);
    m.setField(11, id + "c");
    m.setField(55, symbol);
    m.setField(54, side);
    m.setField(FIX::UtcTimeStampField(60, FIX::UtcTimeStamp(), 3));
    return m;
  }
};

class App : public FIX::Application {
 public:
  // quietPrefix starts every load ClOrdID: their messages are not printed.
  explicit App(std::string quietPrefix) : quiet_(std::move(quietPrefix)) {}

  void setLoad(std::shared_ptr<LoadRun> run) {
    std::lock_guard<std::mutex> lock(loadMutex_);
    load_ = std::move(run);
  }

  void onCreate(const FIX::SessionID&) override { emit("created"); }
  void onLogon(const FIX::SessionID&) override { emit("logon"); }
  void onLogout(const FIX::SessionID&) override { emit("logout"); }
  void toAdmin(FIX::Message& m, const FIX::SessionID&) override {
    emit("out " + pipes(m));
  }
  void toApp(FIX::Message& m, const FIX::SessionID&)
      throw(FIX::DoNotSend) override {
    if (!isLoad(m)) emit("out " + pipes(m));
  }
  void fromAdmin(const FIX::Message& m, const FIX::SessionID&)
      throw(FIX::FieldNotFound, FIX::IncorrectDataFormat,
            FIX::IncorrectTagValue, FIX::RejectLogon) override {
    emit("in " + pipes(m));
  }
  // Every application message (ExecutionReport, OrderCancelReject, ...) is
  // only printed: nothing is thrown, so QuickFIX itself rejects only what
  // fails its own session-level or data-dictionary validation. Reports of
  // a running load are counted instead, and answered with a cancel.
  void fromApp(const FIX::Message& m, const FIX::SessionID& id)
      throw(FIX::FieldNotFound, FIX::IncorrectDataFormat,
            FIX::IncorrectTagValue, FIX::UnsupportedMessageType) override {
    if (!isLoad(m)) {
      emit("in " + pipes(m));
      return;
    }
    std::shared_ptr<LoadRun> run;
    {
      std::lock_guard<std::mutex> lock(loadMutex_);
      run = load_;
    }
    FIX::Message cancel;
    if (run && run->onReport(m, cancel)) FIX::Session::sendToTarget(cancel, id);
  }

 private:
  bool isLoad(const FIX::Message& m) const {
    std::string type = msgType(m);
    if (type != "D" && type != "F" && type != "8" && type != "9") return false;
    return field(m, 11).compare(0, quiet_.size(), quiet_) == 0 ||
           field(m, 41).compare(0, quiet_.size(), quiet_) == 0;
  }

  const std::string quiet_;
  std::mutex loadMutex_;
  std::shared_ptr<LoadRun> load_;  // the running load, if any
};

// number parses a whole decimal integer or throws a readable error.
int number(const std::string& text) {
  std::size_t used = 0;
  int value = 0;
  try {
    value = std::stoi(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (text.empty() || used != text.size())
    throw std::runtime_error("not a number: '" + text + "'");
  return value;
}

bool isTimestampTag(int tag) { return tag == 52 || tag == 60 || tag == 122; }

// setOne puts tag=value into the header or the body of message.
void setOne(FIX::Message& message, int tag, const std::string& value) {
  FIX::FieldMap& map = FIX::Message::isHeaderField(tag)
                           ? static_cast<FIX::FieldMap&>(message.getHeader())
                           : static_cast<FIX::FieldMap&>(message);
  if (value == "now" && isTimestampTag(tag))
    map.setField(FIX::UtcTimeStampField(tag, FIX::UtcTimeStamp(), 3));
  else
    map.setField(tag, value);
}

// buildMessage parses "35=D|11=C1|..." (35 first) into a message.
FIX::Message buildMessage(const std::string& spec) {
  FIX::Message message;
  message.getHeader().setField(FIX::BeginString(FIX::BeginString_FIX42));
  std::istringstream fields(spec);
  std::string field;
  bool first = true;
  while (std::getline(fields, field, '|')) {
    if (field.empty()) continue;
    std::string::size_type eq = field.find('=');
    if (eq == std::string::npos || eq == 0)
      throw std::runtime_error("bad field '" + field + "'");
    int tag = number(field.substr(0, eq));
    if (first && tag != 35) throw std::runtime_error("first field must be 35");
    first = false;
    setOne(message, tag, field.substr(eq + 1));
  }
  if (first) throw std::runtime_error("no fields");
  return message;
}

class Driver {
 public:
  explicit Driver(const std::string& settingsFile)
      : settings_(settingsFile),
        store_(settings_),
        quiet_("ld" + std::to_string(std::time(nullptr)) + "-"),
        app_(quiet_) {
    if (settings_.getSessions().size() != 1)
      throw std::runtime_error("settings must define exactly one session");
    session_ = *settings_.getSessions().begin();
    if (settings_.get(session_).has("FileLogPath")) {
      log_.reset(new FIX::FileLogFactory(settings_));
      initiator_.reset(
          new FIX::SocketInitiator(app_, store_, settings_, *log_));
    } else {
      initiator_.reset(new FIX::SocketInitiator(app_, store_, settings_));
    }
  }

  // run reads commands until quit or EOF; it returns the exit code.
  int run() {
    emit("ready");
    std::string line;
    while (std::getline(std::cin, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty()) continue;
      std::string verb = line.substr(0, line.find(' '));
      std::string arg =
          line.size() > verb.size() ? line.substr(verb.size() + 1) : "";
      if (verb == "quit") break;
      try {
        if (dispatch(verb, arg)) emit("ok " + verb);
      } catch (const std::exception& e) {
        emit(std::string("error ") + e.what());
      }
    }
    stop();
    return 0;
  }

 private:
  // dispatch runs one command; false means it failed and already said why.
  bool dispatch(const std::string& verb, const std::string& arg) {
    if (verb == "start") return start();
    if (verb == "stop") return stop();
    if (verb == "send") return send(arg);
    if (verb == "load") return load(arg);
    if (verb == "next-sender") session().setNextSenderMsgSeqNum(number(arg));
    else if (verb == "next-target") session().setNextTargetMsgSeqNum(number(arg));
    else if (verb == "logout") session().logout(arg);
    else if (verb == "logon") session().logon();
    else if (verb == "reset") session().reset();
    else throw std::runtime_error("unknown command '" + verb + "'");
    return true;
  }

  bool start() {
    if (!started_) initiator_->start();
    started_ = true;
    return true;
  }

  bool stop() {
    if (started_) initiator_->stop();
    started_ = false;
    return true;
  }

  // send refuses while logged off: QuickFIX would otherwise pass the
  // message to toApp, store it and use up a sequence number without
  // transmitting it.
  bool send(const std::string& spec) {
    FIX::Message message = buildMessage(spec);
    if (!session().isLoggedOn()) {
      emit("error send: not logged on");
      return false;
    }
    if (FIX::Session::sendToTarget(message, session_)) return true;
    emit("error send: sendToTarget failed");
    return false;
  }

  // load runs `load N RATE ACCOUNT SYMBOL SIDE QTY PRICE` (README.md).
  bool load(const std::string& arg) {
    std::istringstream in(arg);
    std::string n, rate, qty, price, mode = "cancel";
    auto run = std::make_shared<LoadRun>();
    if (!(in >> n >> rate >> run->account >> run->symbol >> run->side >> qty >>
          price) ||
        (in >> mode && mode != "cancel" && mode != "keep"))
      throw std::runtime_error(
          "usage: load N RATE ACCOUNT SYMBOL SIDE QTY PRICE [cancel|keep]");
    run->cancel = mode == "cancel";
    int count = number(n), perSecond = number(rate);
    if (count <= 0 || perSecond < 0)
      throw std::runtime_error("load: N must be > 0 and RATE >= 0");
    if (!session().isLoggedOn()) throw std::runtime_error("load: not logged on");
    run->prefix = quiet_ + std::to_string(++loads_) + "-";
    app_.setLoad(run);
    struct Unset {
      App& app;
      ~Unset() { app.setLoad(nullptr); }
    } unset{app_};
    Sent sent = drive(*run, count, perSecond, qty, price);
    return summarize(*run, count, sent);
  }

  // Sent is what drive did: orders sent, first and last send, and whether
  // it stopped waiting because omsd went quiet.
  struct Sent {
    int count = 0;
    Clock::time_point start = Clock::now(), last = start;
    bool stalled = false, sendFailed = false;
  };

  // drive sends the orders at perSecond (0: as fast as it can) with at
  // most 64 (perSecond 0) or 256 orders awaiting their first report, and
  // waits for those reports and for the cancels' outcomes. The bound keeps
  // queues and cash holds finite when omsd falls behind: a sender that
  // hits it falls behind the schedule (sent_per_s says so).
  Sent drive(LoadRun& run, int count, int perSecond, const std::string& qty,
             const std::string& price) {
    const std::size_t window = perSecond == 0 ? 64 : 256;
    Sent s;
    std::unique_lock<std::mutex> lock(run.mu);
    run.lastActivity = run.lastAnswer = s.start;
    for (int i = 0; i < count; i++) {
      if (perSecond > 0) {
        lock.unlock();
        std::this_thread::sleep_until(
            s.start + std::chrono::microseconds(1000000LL * i / perSecond));
        lock.lock();
      }
      if (!run.waitUntil(lock, [&] { return run.waiting.size() < window; })) {
        s.stalled = true;
        break;
      }
      std::string id = run.prefix + std::to_string(i);
      s.last = run.lastActivity = Clock::now();
      run.waiting[id] = s.last;
      lock.unlock();  // never held across QuickFIX: its thread takes it too
      FIX::Message order = buildMessage(
          "35=D|1=" + run.account + "|11=" + id + "|21=1|55=" + run.symbol +
          "|54=" + run.side + "|38=" + qty + "|40=2|44=" + price +
          "|59=0|60=now");
      s.sendFailed = !FIX::Session::sendToTarget(order, session_);
      lock.lock();
      if (s.sendFailed) {
        run.waiting.erase(id);
        break;
      }
      s.count++;
    }
    s.stalled = !run.waitUntil(lock, [&] { return run.waiting.empty(); }) ||
                !run.waitUntil(lock, [&] {
                  return run.cancelsDone >= run.cancelsSent;
                }) ||
                s.stalled;
    return s;
  }

  // summarize prints the load line, and an error line if any order was
  // refused or left unanswered, or any cancel was refused.
  bool summarize(LoadRun& run, int count, const Sent& s) {
    std::lock_guard<std::mutex> lock(run.mu);
    std::vector<long long> v = run.micros;
    std::sort(v.begin(), v.end());
    auto pct = [&](double p) -> long long {
      if (v.empty()) return 0;
      std::size_t k = static_cast<std::size_t>(p * v.size() + 0.999999);
      return v[std::min(v.size(), std::max<std::size_t>(k, 1)) - 1];
    };
    auto secs = [](Clock::duration d) {
      return std::chrono::duration<double>(d).count();
    };
    double sending = secs(s.last - s.start);
    double perS = s.count > 1 && sending > 0 ? (s.count - 1) / sending : s.count;
    char line[256];
    std::snprintf(line, sizeof line,
                  "load n=%d ok=%d rejected=%d sent_per_s=%.0f p50_us=%lld "
                  "p90_us=%lld p99_us=%lld max_us=%lld elapsed_s=%.3f",
                  count, run.ok, run.rejected, perS, pct(0.50), pct(0.90),
                  pct(0.99), v.empty() ? 0LL : v.back(),
                  secs(run.lastAnswer - s.start));
    emit(line);
    std::string problems;
    if (run.rejected > 0)
      problems += "; " + std::to_string(run.rejected) + " rejected (first: " +
                  run.firstReject + ")";
    if (int missing = count - run.ok - run.rejected)
      problems += "; " + std::to_string(missing) + " without a report";
    if (run.cancelsRefused > 0)
      problems += "; " + std::to_string(run.cancelsRefused) +
                  " cancels refused (first: " + run.firstCancelReject + ")";
    if (s.sendFailed) problems += "; sending failed after " + std::to_string(s.count);
    if (s.stalled) problems += "; stalled: nothing for 10 s";
    if (problems.empty()) return true;
    emit("error load: " + problems.substr(2));
    return false;
  }

  FIX::Session& session() {
    FIX::Session* s = FIX::Session::lookupSession(session_);
    if (!s) throw std::runtime_error("no session " + session_.toString());
    return *s;
  }

  FIX::SessionSettings settings_;
  FIX::FileStoreFactory store_;
  const std::string quiet_;  // starts every load ClOrdID
  App app_;
  std::unique_ptr<FIX::LogFactory> log_;
  std::unique_ptr<FIX::SocketInitiator> initiator_;
  FIX::SessionID session_;
  bool started_ = false;
  int loads_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s SETTINGS_FILE\n", argv[0]);
    return 2;
  }
  try {
    Driver driver(argv[1]);
    return driver.run();
  } catch (const std::exception& e) {
    emit(std::string("error ") + e.what());
    return 1;
  }
}
