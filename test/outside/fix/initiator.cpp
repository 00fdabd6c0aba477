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

#include <cstdio>
#include <iostream>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>

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

class App : public FIX::Application {
 public:
  void onCreate(const FIX::SessionID&) override { emit("created"); }
  void onLogon(const FIX::SessionID&) override { emit("logon"); }
  void onLogout(const FIX::SessionID&) override { emit("logout"); }
  void toAdmin(FIX::Message& m, const FIX::SessionID&) override {
    emit("out " + pipes(m));
  }
  void toApp(FIX::Message& m, const FIX::SessionID&)
      throw(FIX::DoNotSend) override {
    emit("out " + pipes(m));
  }
  void fromAdmin(const FIX::Message& m, const FIX::SessionID&)
      throw(FIX::FieldNotFound, FIX::IncorrectDataFormat,
            FIX::IncorrectTagValue, FIX::RejectLogon) override {
    emit("in " + pipes(m));
  }
  // Every application message (ExecutionReport, OrderCancelReject, ...) is
  // only printed: nothing is thrown, so QuickFIX itself rejects only what
  // fails its own session-level or data-dictionary validation.
  void fromApp(const FIX::Message& m, const FIX::SessionID&)
      throw(FIX::FieldNotFound, FIX::IncorrectDataFormat,
            FIX::IncorrectTagValue, FIX::UnsupportedMessageType) override {
    emit("in " + pipes(m));
  }
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
      : settings_(settingsFile), store_(settings_) {
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

  FIX::Session& session() {
    FIX::Session* s = FIX::Session::lookupSession(session_);
    if (!s) throw std::runtime_error("no session " + session_.toString());
    return *s;
  }

  FIX::SessionSettings settings_;
  FIX::FileStoreFactory store_;
  App app_;
  std::unique_ptr<FIX::LogFactory> log_;
  std::unique_ptr<FIX::SocketInitiator> initiator_;
  FIX::SessionID session_;
  bool started_ = false;
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
