// desktop-bridge: lets a phone drive a coding agent on this machine through the relay.
// Interactive terminal mode (prompts, single-key actions) or `--json` (JSON lines on stdout,
// line commands on stdin) for automation and tests.
#include <poll.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

#include "desktop-bridge/broker.hpp"
#include "desktop-bridge/diagnostics.hpp"
#include "desktop-bridge/join_output.hpp"
#include "desktop-bridge/qr.hpp"
#include "desktop-bridge/state_file.hpp"
#ifdef RC_BRIDGE_HAS_CLAUDE
#include "desktop-bridge/runtime_claude.hpp"
#endif
#ifdef RC_BRIDGE_HAS_CODEX
#include "desktop-bridge/runtime_codex.hpp"
#endif
#include "protocol/time.hpp"
#include "protocol/url.hpp"

using nlohmann::json;
using namespace rc::bridge;

namespace {

const char* usage_text =
    "Usage: desktop-bridge [options] [-- <exec command> [args...]]\n"
    "       desktop-bridge diagnostics [--state-file P] [--log F] [--out P|-]  (redacted bug-report bundle)\n"
    "\n"
    "Lets a phone drive a coding agent on this machine through a Remote Control relay.\n"
    "\n"
    "Options:\n"
    "  --relay URL          relay WebSocket URL (default ws://127.0.0.1:8787/ws; wss:// verified)\n"
    "  --join-url URL       PWA base URL for the join link (default http://localhost:4173/)\n"
    "  --runtime NAME       demo | exec | codex | claude (default demo)\n"
    "  --exec-arg           exec: pass the message as the last argument instead of stdin\n"
    "  --exec-max-output N  exec: max stdout bytes kept per reply (default 262144)\n"
    "  --exec-timeout-ms N  exec: kill the command after N ms (default: no limit)\n"
    "  --demo-delay-ms N    demo: delay between streamed words (default 60)\n"
    "  --state-file PATH    session file, mode 0600 (default ~/.config/remote-control/bridge-session.json)\n"
    "  --no-state           do not persist or restore the session\n"
    "  --ca-file PATH       PEM CA bundle for wss/https (default: system store)\n"
    "  --join-ttl S         join token lifetime in seconds (default 120, min 10)\n"
    "  --pair-timeout S     auto-deny pairing requests after S seconds (default 60)\n"
    "  --approvals          start with remote runtime approvals ON (default OFF)\n"
    "  --e2ee MODE          end-to-end encryption: required (default) | preferred | off\n"
    "  --auto-approve       approve every pairing request (demos only; insecure)\n"
    "  --push-subject S     VAPID contact, mailto:… or https://… (default mailto:remote-control@localhost)\n"
    "  --push-generic       push text is only \"Your agent needs you\" (no thread titles)\n"
    "  --push-pairing       also push when a pairing request waits on this desktop (default off)\n"
    "  --push-allow-loopback  TEST ONLY: accept loopback/private push endpoints\n"
    "  --push-ca-file PATH  TEST ONLY: PEM CA bundle for push services (default: system store)\n"
    "  --json               machine mode: JSON events on stdout, commands on stdin\n"
    "  --help               this text\n"
    "\n"
    "Interactive keys: a add device, d devices, r revoke, o approvals on/off, s stop (kill switch),\n"
    "                  y/n answer a pairing request, q quit (keep session), h help.\n"
    "JSON-mode stdin commands: approve <requestID> | deny <requestID> | add-device | devices |\n"
    "                  revoke <deviceID> | approvals on|off | stop | quit\n";

struct options {
  broker_config broker;
  std::string runtime = "demo";
  std::vector<std::string> exec_argv;
  exec_options exec;
  demo_options demo;
  std::string ca_file;
  std::string push_ca_file;  // test-only
  bool json_mode = false;
  bool no_state = false;
};

bool parse_args(int argc, char** argv, options& o, std::string& err) {
  o.broker.state_file = default_state_path();
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&](std::string& out) {
      if (i + 1 >= argc) {
        err = a + " needs a value";
        return false;
      }
      out = argv[++i];
      return true;
    };
    auto next_int = [&](long long& out, long long lo, long long hi) {
      std::string v;
      if (!next(v)) return false;
      try {
        std::size_t pos = 0;
        out = std::stoll(v, &pos);
        if (pos != v.size() || out < lo || out > hi) throw std::out_of_range("range");
      } catch (...) {
        err = a + ": expected an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
        return false;
      }
      return true;
    };
    long long n = 0;
    if (a == "--") {
      for (++i; i < argc; ++i) o.exec_argv.push_back(argv[i]);
      break;
    } else if (a == "--help" || a == "-h") {
      std::cout << usage_text;
      std::exit(0);
    } else if (a == "--relay") {
      if (!next(o.broker.relay_url)) return false;
    } else if (a == "--join-url") {
      if (!next(o.broker.join_base)) return false;
    } else if (a == "--runtime") {
      if (!next(o.runtime)) return false;
    } else if (a == "--state-file") {
      if (!next(o.broker.state_file)) return false;
    } else if (a == "--no-state") {
      o.no_state = true;
    } else if (a == "--ca-file") {
      if (!next(o.ca_file)) return false;
    } else if (a == "--json") {
      o.json_mode = true;
    } else if (a == "--auto-approve") {
      o.broker.auto_approve = true;
    } else if (a == "--approvals") {
      o.broker.approvals_default = true;
    } else if (a == "--e2ee") {  // docs/E2EE.md
      std::string v;
      if (!next(v)) return false;
      auto p = parse_e2ee_policy(v);
      if (!p) {
        err = "--e2ee must be required, preferred or off";
        return false;
      }
      o.broker.e2ee = *p;
    } else if (a == "--exec-arg") {
      o.exec.message_as_arg = true;
    } else if (a == "--exec-max-output") {
      if (!next_int(n, 1, 64LL * 1024 * 1024)) return false;
      o.exec.max_output_bytes = static_cast<std::size_t>(n);
    } else if (a == "--exec-timeout-ms") {
      if (!next_int(n, 0, 86400000)) return false;
      o.exec.timeout_ms = static_cast<int>(n);
    } else if (a == "--demo-delay-ms") {
      if (!next_int(n, 0, 10000)) return false;
      o.demo.word_delay_ms = static_cast<int>(n);
    } else if (a == "--join-ttl") {
      if (!next_int(n, 10, 86400)) return false;
      o.broker.join_ttl_s = n;
    } else if (a == "--push-subject") {  // docs/PUSH.md
      if (!next(o.broker.push.subject)) return false;
      if (!push::valid_subject(o.broker.push.subject)) {
        err = "--push-subject must be mailto:… or https://…";
        return false;
      }
    } else if (a == "--push-generic") {
      o.broker.push.generic = true;
    } else if (a == "--push-pairing") {
      o.broker.push.pairing = true;
    } else if (a == "--push-allow-loopback") {  // TEST ONLY
      o.broker.push.allow_local = true;
    } else if (a == "--push-ca-file") {  // TEST ONLY
      if (!next(o.push_ca_file)) return false;
    } else if (a == "--pair-timeout") {
      if (!next_int(n, 1, 3600)) return false;
      o.broker.pair_prompt_timeout_s = static_cast<int>(n);
    } else {
      err = "unknown option " + a + " (see --help)";
      return false;
    }
  }
  if (o.no_state) o.broker.state_file.clear();
  auto u = rc::proto::parse_url(o.broker.relay_url);
  if (!u || (u->scheme != "ws" && u->scheme != "wss")) {
    err = "--relay must be a ws:// or wss:// URL";
    return false;
  }
  auto j = rc::proto::parse_url(o.broker.join_base);
  if (!j || (j->scheme != "http" && j->scheme != "https")) {
    err = "--join-url must be an http(s) URL";
    return false;
  }
  if (o.runtime == "exec" && o.exec_argv.empty()) {
    err = "--runtime exec needs a command after --";
    return false;
  }
  if (o.runtime != "demo" && o.runtime != "exec" && o.runtime != "codex" && o.runtime != "claude") {
    err = "--runtime must be demo, exec, codex or claude";
    return false;
  }
  return true;
}

// ---- output ---------------------------------------------------------------------------------

std::mutex out_mx;
join_countdown countdown;  // interactive join-link expiry line (join_output.hpp); guarded by out_mx

struct ui_state {
  std::mutex mx;
  std::condition_variable cv;
  bool stopped = false;
  int exit_code = 0;
  std::vector<std::string> pending_pairs;  // request IDs, newest last
  std::vector<std::pair<std::string, std::string>> devices;  // id, name
  bool approvals = false;
  bool expecting_revoke_digit = false;
};

class json_ui final : public ui_sink {
 public:
  explicit json_ui(ui_state& s) : s_(s) {}
  void emit(const json& ev) override {
    json e = ev;
    e["ts"] = rc::proto::format_rfc3339_ms(rc::proto::now_ms());
    {
      std::lock_guard<std::mutex> lk(out_mx);
      std::cout << e.dump(-1, ' ', false, json::error_handler_t::replace) << std::endl;
    }
    track(s_, ev);
  }
  static void track(ui_state& s, const json& ev) {
    std::lock_guard<std::mutex> lk(s.mx);
    auto name = ev.value("event", "");
    if (name == "stopped") {
      s.stopped = true;
      s.exit_code = ev.value("reason", "") == "start_failed" ? 1 : 0;
      s.cv.notify_all();
    } else if (name == "pair_request") {
      s.pending_pairs.push_back(ev.value("requestID", ""));
    } else if (name == "pair_result" || name == "pair_decision") {
      auto rid = ev.value("requestID", "");
      s.pending_pairs.erase(std::remove(s.pending_pairs.begin(), s.pending_pairs.end(), rid), s.pending_pairs.end());
    } else if (name == "devices") {
      s.devices.clear();
      for (auto& d : ev["devices"]) s.devices.emplace_back(d.value("deviceID", ""), d.value("deviceName", ""));
    } else if (name == "approvals") {
      s.approvals = ev.value("enabled", false);
    }
  }

 private:
  ui_state& s_;
};

class human_ui final : public ui_sink {
 public:
  human_ui(ui_state& s, bool live, bool clip) : s_(s), live_(live), clip_(clip) {}
  void emit(const json& ev) override {
    json_ui::track(s_, ev);
    auto name = ev.value("event", "");
    std::ostringstream o;
    if (auto exp = rc::proto::parse_rfc3339(ev.value("joinTokenExpiresAt", ""))) expiry_ = *exp;
    bool link = name == "session_started" || name == "add_device" || name == "join_link";
    if (link) {
      auto url = ev.value("joinURL", "");
      if (name == "session_started")
        o << "\n" << (ev.value("restored", false) ? "Resumed" : "Started") << " remote-control session "
          << rc::proto::redact_id(ev.value("sessionID", "")) << "\n";
      else
        o << "\nNew join link (previous QR no longer works for new devices):\n";
      o << "Scan with your phone to pair:\n\n" << render_qr(url) << "\n";
      o << join_link_text(url, expiry_, rc::proto::now_ms(), clip_);
      o << "Keys: a add device | d devices | r revoke | o approvals on/off | s stop | q quit | h help\n";
    } else if (name == "pair_request") {
      o << "\n*** Pairing request " << ev.value("requestID", "") << " from device \""
        << ev.value("deviceName", "(unnamed)") << "\" at " << ev.value("requesterIP", "?")
        << " (expires " << ev.value("expiresAt", "") << ")\n    Approve? press y (yes) or n (no)\n";
    } else if (name == "pair_result") {
      o << "Pairing " << (ev.value("approved", false) ? "approved" : "denied") << ".\n";
    } else if (name == "pair_request_timeout") {
      o << "Pairing request timed out; denied.\n";
    } else if (name == "device_paired") {
      o << "Device paired: " << ev.value("deviceName", "") << " (" << ev.value("deviceID", "") << ")\n";
    } else if (name == "devices") {
      auto& d = ev["devices"];
      if (d.empty()) o << "No trusted devices.\n";
      int i = 1;
      for (auto& x : d)
        o << "  " << i++ << ". " << x.value("deviceName", "") << "  id=" << x.value("deviceID", "")
          << (x.value("connected", false) ? "  [connected]" : "")
          << (x.value("push", false) ? "  [push on]" : "") << "  last seen " << x.value("lastSeenAt", "") << "\n";
    } else if (name == "e2ee_verified") {
      o << "End-to-end encrypted: device " << ev.value("deviceID", "") << " verified. Safety code "
        << ev.value("safetyCode", "") << " (compare with the phone).\n";
    } else if (name == "e2ee_refused" || name == "e2ee_resync") {
      o << (name == "e2ee_refused" ? "E2EE REFUSED" : "E2EE resync") << " for device "
        << ev.value("deviceID", "") << ": " << ev.value("message", "") << " (" << ev.value("reason", "")
        << ")\n";
    } else if (name == "push_subscribed" || name == "push_unsubscribed") {
      o << "Push notifications " << (name == "push_subscribed" ? "ON" : "OFF") << " for device "
        << ev.value("deviceID", "") << ".\n";
    } else if (name == "device_revoked") {
      o << "Revoked device " << ev.value("deviceID", "") << ".\n";
    } else if (name == "command_received") {
      o << "Phone command " << ev.value("name", "") << " → " << ev.value("status", "")
        << (ev.contains("reason") ? " (" + ev.value("reason", "") + ")" : "") << "\n";
    } else if (name == "relay_connected") {
      o << "Connected to relay (" << ev.value("connectedDeviceCount", 0) << " phone(s) online).\n";
    } else if (name == "relay_disconnected") {
      o << "Relay connection lost (" << ev.value("code", 0) << " " << ev.value("reason", "") << ").\n";
    } else if (name == "reconnect_scheduled") {
      o << "Reconnecting in " << ev.value("delayMs", 0) / 1000.0 << " s (attempt " << ev.value("attempt", 0) << ")...\n";
    } else if (name == "session_ended") {
      o << ev.value("message", "") << " (" << ev.value("reason", "") << ")\n";
    } else if (name == "approvals") {
      o << "Remote approvals are now " << (ev.value("enabled", false) ? "ON" : "OFF") << ".\n";
    } else if (name == "error") {
      o << "Error (" << ev.value("where", "") << "): " << ev.value("message", "") << "\n";
    } else if (name == "stopped") {
      o << "Stopped (" << ev.value("reason", "") << ").\n";
    } else if (name == "device_count") {
      o << ev.value("connectedDeviceCount", 0) << " phone(s) online.\n";
    } else if (name == "runtime_status") {
      o << "Agent runtime: " << (ev.value("connected", false) ? "online" : "offline") << " "
        << ev.value("detail", "") << "\n";
    } else {
      return;  // quiet for internal events (pair_decision, relay_disconnect, ...)
    }
    std::lock_guard<std::mutex> lk(out_mx);
    std::cout << countdown.clear() << o.str() << std::flush;
    if (live_ && link) countdown.start(expiry_);
    if (name == "device_paired" || name == "stopped" || name == "session_ended") std::cout << countdown.stop() << std::flush;
  }

 private:
  ui_state& s_;
  bool live_, clip_;
  int64_t expiry_ = 0;
};

void say(const std::string& s) {
  std::lock_guard<std::mutex> lk(out_mx);
  std::cout << countdown.clear() << s << std::flush;
}

// ---- input ------------------------------------------------------------------------------------

void handle_line(const std::string& line, caf::actor& broker, bool json_mode) {
  std::istringstream in(line);
  std::string cmd, arg;
  in >> cmd >> arg;
  auto bad = [&](const std::string& msg) {
    if (json_mode) {
      std::lock_guard<std::mutex> lk(out_mx);
      std::cout << json({{"event", "error"}, {"where", "stdin"}, {"message", msg}}).dump() << std::endl;
    } else {
      say(msg + "\n");
    }
  };
  if (cmd.empty()) return;
  if (cmd == "approve" || cmd == "deny") {
    if (arg.empty()) return bad(cmd + " needs a requestID");
    caf::anon_send(broker, decide_atom::value, arg, cmd == "approve");
  } else if (cmd == "add-device") {
    caf::anon_send(broker, add_device_atom::value);
  } else if (cmd == "devices") {
    caf::anon_send(broker, devices_atom::value);
  } else if (cmd == "revoke") {
    if (arg.empty()) return bad("revoke needs a deviceID");
    caf::anon_send(broker, revoke_atom::value, arg);
  } else if (cmd == "approvals") {
    if (arg != "on" && arg != "off") return bad("approvals on|off");
    caf::anon_send(broker, approvals_atom::value, arg == "on");
  } else if (cmd == "stop") {
    caf::anon_send(broker, stop_atom::value);
  } else if (cmd == "quit") {
    caf::anon_send(broker, quit_atom::value);
  } else {
    bad("unknown command: " + cmd);
  }
}

void interactive_keys(caf::actor broker, ui_state& st, std::atomic<bool>& done) {
  termios old{};
  bool raw = ::tcgetattr(0, &old) == 0;
  if (raw) {
    termios t = old;
    t.c_lflag &= static_cast<tcflag_t>(~(ICANON | ECHO));
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    ::tcsetattr(0, TCSANOW, &t);
  }
  while (!done) {
    {
      std::lock_guard<std::mutex> out(out_mx);
      std::cout << countdown.tick(rc::proto::now_ms()) << std::flush;
    }
    pollfd p{0, POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    char c;
    if (::read(0, &c, 1) != 1) break;
    std::unique_lock<std::mutex> lk(st.mx);
    if (st.expecting_revoke_digit) {
      st.expecting_revoke_digit = false;
      if (c >= '1' && c <= '9' && static_cast<std::size_t>(c - '1') < st.devices.size()) {
        auto id = st.devices[static_cast<std::size_t>(c - '1')].first;
        lk.unlock();
        caf::anon_send(broker, revoke_atom::value, id);
      } else {
        lk.unlock();
        say("Revoke cancelled.\n");
      }
      continue;
    }
    switch (c) {
      case 'a':
        lk.unlock();
        caf::anon_send(broker, add_device_atom::value);
        break;
      case 'd':
        lk.unlock();
        caf::anon_send(broker, devices_atom::value);
        break;
      case 'r':
        if (st.devices.empty()) {
          lk.unlock();
          say("Press d first to load the device list, then r.\n");
        } else {
          st.expecting_revoke_digit = true;
          std::string list = "Revoke which device? press its number (other key cancels):\n";
          for (std::size_t i = 0; i < st.devices.size() && i < 9; ++i)
            list += "  " + std::to_string(i + 1) + ". " + st.devices[i].second + " (" + st.devices[i].first + ")\n";
          lk.unlock();
          say(list);
        }
        break;
      case 'o': {
        bool on = !st.approvals;
        lk.unlock();
        caf::anon_send(broker, approvals_atom::value, on);
        break;
      }
      case 's':
        lk.unlock();
        say("Stopping remote control (kill switch)...\n");
        caf::anon_send(broker, stop_atom::value);
        break;
      case 'q':
        lk.unlock();
        caf::anon_send(broker, quit_atom::value);
        break;
      case 'y':
      case 'n':
        if (st.pending_pairs.empty()) {
          lk.unlock();
          say("No pairing request pending.\n");
        } else {
          auto rid = st.pending_pairs.back();
          lk.unlock();
          caf::anon_send(broker, decide_atom::value, rid, c == 'y');
        }
        break;
      case 'h':
      case '?':
        lk.unlock();
        say("Keys: a add device | d devices | r revoke | o approvals on/off | s stop | y/n pairing | q quit\n");
        break;
      default:
        break;
    }
  }
  if (raw) ::tcsetattr(0, TCSANOW, &old);
}

void line_input(caf::actor broker, bool json_mode, std::atomic<bool>& done) {
  std::string buf;
  while (!done) {
    pollfd p{0, POLLIN, 0};
    int r = ::poll(&p, 1, 200);
    if (r <= 0) continue;
    char tmp[1024];
    auto n = ::read(0, tmp, sizeof tmp);
    if (n <= 0) return;  // EOF: keep running until stop/quit/signal
    buf.append(tmp, static_cast<std::size_t>(n));
    std::size_t pos;
    while ((pos = buf.find('\n')) != std::string::npos) {
      auto line = buf.substr(0, pos);
      buf.erase(0, pos + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      handle_line(line, broker, json_mode);
    }
    if (buf.size() > 4096) buf.clear();
  }
}

}  // namespace

namespace rc::bridge {
namespace {
class net_transport final : public transport {
 public:
  explicit net_transport(std::shared_ptr<net::io_service> io) : io_(std::move(io)) {}
  void post(const std::string& url, std::string body, int timeout_ms,
            std::function<void(net::http_response)> cb) override {
    io_->http_post(url, std::move(body), timeout_ms, std::move(cb));
  }
  std::shared_ptr<net::ws_connection> connect(const std::string& url, net::ws_handlers h) override {
    return io_->ws_connect(url, std::move(h));
  }
  void push_post(net::http_request req, std::function<void(net::http_response)> cb) override {
    io_->push_post(std::move(req), std::move(cb));
  }

 private:
  std::shared_ptr<net::io_service> io_;
};
}  // namespace
std::shared_ptr<transport> make_net_transport(std::shared_ptr<net::io_service> io) {
  return std::make_shared<net_transport>(std::move(io));
}
}  // namespace rc::bridge

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "diagnostics") return run_diagnostics(argc - 1, argv + 1, std::cout, std::cerr);
  options opts;
  std::string err;
  if (!parse_args(argc, argv, opts, err)) {
    std::cerr << "desktop-bridge: " << err << "\n";
    return 2;
  }
  if (opts.broker.auto_approve)
    std::cerr << "WARNING: --auto-approve accepts EVERY pairing request: anyone with the join link can "
                 "control this machine's agent. Use only for demos.\n";

  // Signals are handled by one thread (sigwait); block them everywhere else.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  std::shared_ptr<runtime> rt;
  if (opts.runtime == "demo") {
    rt = make_demo_runtime(opts.demo);
  } else if (opts.runtime == "exec") {
    opts.exec.argv = opts.exec_argv;
    rt = make_exec_runtime(opts.exec);
  } else if (opts.runtime == "claude") {
#ifdef RC_BRIDGE_HAS_CLAUDE
    auto co = parse_claude_options(opts.exec_argv);  // words after `--` (runtime_claude.hpp)
    if (!co.config_error.empty()) {
      std::cerr << "desktop-bridge: claude: " << co.config_error << "\n";
      return 2;
    }
    rt = make_claude_runtime(std::move(co));
#else
    std::cerr << "desktop-bridge: the claude runtime is not built into this binary\n";
    return 2;
#endif
  } else {
#ifdef RC_BRIDGE_HAS_CODEX
    auto co = parse_codex_options(opts.exec_argv);  // words after `--` (runtime_codex.hpp)
    if (!co.config_error.empty()) {
      std::cerr << "desktop-bridge: codex: " << co.config_error << "\n";
      return 2;
    }
    rt = make_codex_runtime(std::move(co));
#else
    std::cerr << "desktop-bridge: the codex runtime is not built into this binary\n";
    return 2;
#endif
  }

  std::shared_ptr<net::io_service> io;
  try {
    io = std::make_shared<net::io_service>(opts.ca_file, opts.push_ca_file);
  } catch (const std::exception& e) {
    std::cerr << "desktop-bridge: TLS setup failed: " << e.what() << "\n";
    return 2;
  }

  ui_state st;
  st.approvals = opts.broker.approvals_default;
  std::shared_ptr<ui_sink> ui;
  if (opts.json_mode)
    ui = std::make_shared<json_ui>(st);
  else
    ui = std::make_shared<human_ui>(st, ::isatty(0) && ::isatty(1),
                                    osc52_allowed(::isatty(1), std::getenv("TERM"), std::getenv("REMOTE_CONTROL_NO_CLIPBOARD")));

  int code = 0;
  {
    caf::actor_system_config cfg;
    cfg.set("scheduler.max-threads", 2);
    caf::actor_system sys{cfg};
    auto broker = spawn_broker(sys, opts.broker, make_net_transport(io), rt, ui);
    caf::anon_send(broker, start_atom::value);

    std::atomic<bool> done{false};
    std::thread sig_thread([&] {
      int sig = 0;
      while (!done) {
        timespec ts{0, 200 * 1000 * 1000};
        sig = sigtimedwait(&sigs, nullptr, &ts);
        if (sig > 0) {
          caf::anon_send(broker, quit_atom::value);  // teardown keeps the session (no /pair/stop)
          break;
        }
      }
    });
    std::thread input([&] {
      if (!opts.json_mode && ::isatty(0))
        interactive_keys(broker, st, done);
      else
        line_input(broker, opts.json_mode, done);
    });

    {
      std::unique_lock<std::mutex> lk(st.mx);
      st.cv.wait(lk, [&] { return st.stopped; });
      code = st.exit_code;
    }
    done = true;
    input.join();
    sig_thread.join();
    rt->stop();
    caf::anon_send_exit(broker, caf::exit_reason::user_shutdown);
    sys.await_all_actors_done();
    io->stop();
  }
  return code;
}
