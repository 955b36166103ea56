// Join-link output (OSC 52, secret warning, expiry countdown) and the redacted diagnostics bundle.
#define CAF_SUITE bridge_join_diag
#include "caf/test/unit_test.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "desktop-bridge/diagnostics.hpp"
#include "desktop-bridge/join_output.hpp"
#include "desktop-bridge/state_file.hpp"
#include "protocol/time.hpp"
#include "protocol/tokens.hpp"

using namespace rc::bridge;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

/// base64 (standard alphabet, padded) decoder for checking the OSC 52 payload.
std::string b64_decode(const std::string& in) {
  const std::string abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  int val = 0, bits = -8;
  for (char c : in) {
    if (c == '=') break;
    auto p = abc.find(c);
    if (p == std::string::npos) return "<bad base64>";
    val = (val << 6) + static_cast<int>(p);
    bits += 6;
    if (bits >= 0) {
      out += static_cast<char>((val >> bits) & 0xff);
      bits -= 8;
    }
  }
  return out;
}

struct temp_dir {
  std::string path;
  temp_dir() {
    char d[] = "/tmp/rc-bridge-diag-XXXXXX";
    CAF_REQUIRE(::mkdtemp(d) != nullptr);
    path = d;
  }
  ~temp_dir() {
    for (const char* f : {"/state.json", "/bridge.log", "/bundle.json", "/bad.json"})
      ::unlink((path + f).c_str());
    ::rmdir(path.c_str());
  }
};

}  // namespace

CAF_TEST(osc52 sequence carries the link base64 encoded and refuses control characters) {
  std::string url = "https://pwa.example/#sid=abc&jt=def&relay=wss%3A%2F%2Fr";
  auto seq = osc52_sequence(url);
  CAF_REQUIRE(seq.size() > 8);
  CAF_CHECK_EQUAL(seq.substr(0, 7), "\x1b]52;c;");
  CAF_CHECK_EQUAL(seq.back(), '\a');
  CAF_CHECK_EQUAL(b64_decode(seq.substr(7, seq.size() - 8)), url);
  CAF_CHECK_EQUAL(osc52_sequence(""), "");
  CAF_CHECK_EQUAL(osc52_sequence("a\x1b]0;evil\a"), "");
  CAF_CHECK_EQUAL(osc52_sequence("line\nbreak"), "");
  CAF_CHECK_EQUAL(osc52_sequence(std::string(osc52_max_text + 1, 'a')), "");
  CAF_CHECK(!osc52_sequence(std::string(osc52_max_text, 'a')).empty());
}

CAF_TEST(osc52 only to a terminal that is not dumb and not opted out) {
  CAF_CHECK(osc52_allowed(true, "xterm-256color", nullptr));
  CAF_CHECK(osc52_allowed(true, "tmux-256color", ""));
  CAF_CHECK(!osc52_allowed(false, "xterm-256color", nullptr));  // pipe / log file
  CAF_CHECK(!osc52_allowed(true, "dumb", nullptr));
  CAF_CHECK(!osc52_allowed(true, nullptr, nullptr));
  CAF_CHECK(!osc52_allowed(true, "", nullptr));
  CAF_CHECK(!osc52_allowed(true, "xterm", "1"));
}

CAF_TEST(remaining time formatting) {
  CAF_CHECK_EQUAL(format_remaining(-5), "0:00");
  CAF_CHECK_EQUAL(format_remaining(0), "0:00");
  CAF_CHECK_EQUAL(format_remaining(200), "0:01");
  CAF_CHECK_EQUAL(format_remaining(61000), "1:01");
  CAF_CHECK_EQUAL(format_remaining(119001), "2:00");
  CAF_CHECK_EQUAL(format_remaining(3600000), "1:00:00");
  CAF_CHECK_EQUAL(format_remaining(3725000), "1:02:05");
}

CAF_TEST(join link text warns it is a secret and shows the expiry and the clipboard or
         fallback line) {
  std::string url = "http://localhost:4173/#sid=S&jt=T";
  int64_t now = 1'700'000'000'000;
  auto with = join_link_text(url, now + 120'000, now, true);
  CAF_CHECK(with.find(url) != std::string::npos);
  CAF_CHECK(with.find("Treat this link like a password") != std::string::npos);
  CAF_CHECK(with.find("expires in 2:00") != std::string::npos);
  CAF_CHECK(with.find(osc52_sequence(url)) != std::string::npos);
  CAF_CHECK(with.find("clipboard (OSC 52)") != std::string::npos);
  auto without = join_link_text(url, now + 120'000, now, false);
  CAF_CHECK(without.find('\x1b') == std::string::npos);  // nothing for a log or a pipe
  CAF_CHECK(without.find("copy the line above") != std::string::npos);
  CAF_CHECK(without.find("Treat this link like a password") != std::string::npos);
}

CAF_TEST(countdown redraws when the text changes and clears before other output and ends once) {
  join_countdown c;
  int64_t now = 1'000'000;
  CAF_CHECK_EQUAL(c.tick(now), "");  // not started
  c.start(now + 5000);
  auto first = c.tick(now);
  CAF_CHECK_EQUAL(first.substr(0, 5), "\r\x1b[2K");
  CAF_CHECK(first.find("expires in 0:05") != std::string::npos);
  CAF_CHECK(first.find('\n') == std::string::npos);  // a status line, not a log line
  CAF_CHECK_EQUAL(c.tick(now + 100), "");            // same text: nothing written
  CAF_CHECK_EQUAL(c.clear(), "\r\x1b[2K");
  CAF_CHECK_EQUAL(c.clear(), "");
  CAF_CHECK(c.tick(now + 200).find("0:05") != std::string::npos);  // redrawn after a clear
  CAF_CHECK(c.tick(now + 1500).find("0:04") != std::string::npos);
  auto done = c.tick(now + 5000);
  CAF_CHECK(done.find("expired") != std::string::npos);
  CAF_CHECK_EQUAL(done.back(), '\n');
  CAF_CHECK(!c.active());
  CAF_CHECK_EQUAL(c.tick(now + 6000), "");
  c.start(now + 9000);
  CAF_CHECK(!c.tick(now).empty());
  CAF_CHECK_EQUAL(c.stop(), "\r\x1b[2K");
  CAF_CHECK_EQUAL(c.tick(now + 1000), "");
}

CAF_TEST(text redaction keeps plain words and removes tokens in every form) {
  std::string tok = "Zq3xV9sKpL2mN8bR4tY6wE1uI0oPaSdFgHjKlZxCvB";  // 42 chars base64url
  std::vector<std::string> none;
  auto r =
      redact_text("reconnect: replaced_by_new_pair_start at 2026-12-02T16:38:40.123+00:00", none);
  CAF_CHECK_EQUAL(r, "reconnect: replaced_by_new_pair_start at 2026-12-02T16:38:40.123+00:00");
  for (std::string line :
       {"token=" + tok, "{\"deviceSessionToken\":\"" + tok + "\"}", "Authorization: Bearer " + tok,
        "join http://h/#sid=S&jt=" + tok + "&relay=x", "bare " + tok + " in text"}) {
    auto out = redact_text(line, none);
    CAF_CHECK(out.find(tok) == std::string::npos);
    CAF_CHECK(out.find(tok.substr(0, 12)) == std::string::npos);
    CAF_CHECK(out.find("[REDACTED]") != std::string::npos);
  }
  // a short known secret (below the generic 22-char rule) is removed because the state names it
  CAF_CHECK_EQUAL(redact_text("secret is shortpw123 ok", {"shortpw123"}),
                  "secret is [REDACTED] ok");
}

CAF_TEST(diagnostics bundle has versions and config and log lines but no planted token) {
  temp_dir d;
  const std::string planted_desktop = "PLANTEDdesktopTOKEN0123456789abcdefABCDEF";
  const std::string planted_device = "PLANTEDdeviceTOKEN_9876543210zyxwvuZYXWVU";
  saved_state s;
  s.descriptor = session_descriptor::make(
      "http://localhost:4173/", "wss://relay.example/ws?t=qs_secret_value_42", rc::proto::now_ms());
  s.descriptor.desktop_token = rc::proto::secret(planted_desktop);
  s.devices.push_back({"DEVICEid123456", "Ana's phone", true, "2026-12-01T10:00:00Z", ""});
  s.e2ee_identity = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg" + std::string(20, 'k');
  s.e2ee_pinned["DEVICEid123456"] = "BPinnedPublicKeyPoint0123456789abcdefXYZ";
  s.e2ee_secrets.emplace_back("pairingSecret_ABCdef0123456789xyz", rc::proto::now_ms() + 60000);
  const std::string state_path = d.path + "/state.json";
  CAF_REQUIRE(save_state(state_path, s));
  const std::string before = slurp(state_path);
  const std::string join_token = s.descriptor.lease.token.reveal();
  {
    std::ofstream log(d.path + "/bridge.log");
    for (int i = 0; i < 300; ++i) log << "line " << i << " relay_disconnected connection_lost\n";
    log << "{\"event\":\"session_started\",\"joinURL\":\"" << s.descriptor.join_url << "\"}\n";
    log << "auth with " << planted_desktop << " and " << planted_device << "\n";
    log << "{\"nextDeviceSessionToken\":\"" << planted_device << "\"}\n";
    log << "final line: replaced_by_new_pair_start\n";
  }
  diagnostics_options o;
  o.state_file = state_path;
  o.log_file = d.path + "/bridge.log";
  o.log_lines = 50;
  auto bundle = build_diagnostics(o);
  auto text = bundle.dump(2);
  for (const std::string& secret :
       {planted_desktop, planted_device, join_token, s.e2ee_identity, s.e2ee_pinned.begin()->second,
        s.e2ee_secrets[0].first, std::string("qs_secret_value_42"), s.descriptor.join_url,
        s.descriptor.session_id}) {
    if (text.find(secret) != std::string::npos) CAF_MESSAGE("leaked: " << secret.substr(0, 10));
    CAF_CHECK(text.find(secret) == std::string::npos);
  }
  CAF_CHECK(text.find("PLANTED") == std::string::npos);
  CAF_CHECK(bundle["versions"].contains("bridge"));
  CAF_CHECK(bundle["versions"].contains("openssl"));
  CAF_CHECK(bundle["versions"].contains("caf"));
  CAF_CHECK_EQUAL(bundle["config"]["stateFile"]["mode"], "0600");
  CAF_CHECK_EQUAL(bundle["config"]["stateFile"]["content"]["trustedDevices"][0]["deviceName"],
                  "Ana's phone");
  CAF_CHECK_EQUAL(bundle["config"]["stateFile"]["content"]["session"]["relayWebSocketURL"],
                  "wss://relay.example/ws [query/fragment removed]");
  CAF_CHECK_EQUAL(bundle["config"]["stateFile"]["content"]["session"]["sessionID"],
                  rc::proto::redact_id(s.descriptor.session_id));
  CAF_REQUIRE(bundle["log"]["lines"].is_array());
  CAF_CHECK_EQUAL(bundle["log"]["lines"].size(), 50u);
  CAF_CHECK_EQUAL(bundle["log"]["lines"].back(), "final line: replaced_by_new_pair_start");
  CAF_CHECK_EQUAL(bundle["log"]["omittedEarlierLines"], 254u);
  CAF_CHECK_EQUAL(slurp(state_path), before);  // read only
}

CAF_TEST(diagnostics never purges an invalid state file and writes the bundle 0600) {
  temp_dir d;
  const std::string bad = d.path + "/bad.json";
  {
    std::ofstream out(bad);
    out << "{not json "
        << "PLANTEDtokenInBrokenFile0123456789";
  }
  std::string out_path = d.path + "/bundle.json";
  std::vector<std::string> args = {"diagnostics", "--state-file", bad, "--out", out_path};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  std::ostringstream out, err;
  CAF_CHECK_EQUAL(run_diagnostics(static_cast<int>(argv.size()), argv.data(), out, err), 0);
  CAF_CHECK(::access(bad.c_str(), F_OK) == 0);
  struct stat st {};
  CAF_REQUIRE_EQUAL(::stat(out_path.c_str(), &st), 0);
  CAF_CHECK_EQUAL(st.st_mode & 0777, 0600u);
  auto bundle = slurp(out_path);
  CAF_CHECK(bundle.find("PLANTED") == std::string::npos);
  CAF_CHECK(bundle.find("not JSON") != std::string::npos);
  std::vector<std::string> wrong = {"diagnostics", "--lines", "0"};
  std::vector<char*> wargv;
  for (auto& a : wrong) wargv.push_back(a.data());
  CAF_CHECK_EQUAL(run_diagnostics(static_cast<int>(wargv.size()), wargv.data(), out, err), 2);
}
