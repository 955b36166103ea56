#include "desktop-bridge/join_output.hpp"

#include <openssl/evp.h>

#include <vector>

#include "protocol/time.hpp"

namespace rc::bridge {

namespace {
const char* const erase_line = "\r\x1b[2K";
}  // namespace

std::string osc52_sequence(std::string_view text) {
  if (text.empty() || text.size() > osc52_max_text) return {};
  for (unsigned char c : text)
    if (c < 0x20 || c == 0x7f) return {};  // no ESC/BEL smuggling into the terminal
  std::vector<unsigned char> b64(4 * ((text.size() + 2) / 3) + 1);
  int n = EVP_EncodeBlock(b64.data(), reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n <= 0) return {};
  std::string out = "\x1b]52;c;";
  out.append(reinterpret_cast<const char*>(b64.data()), static_cast<std::size_t>(n));
  out += '\a';
  return out;
}

bool osc52_allowed(bool stdout_is_tty, const char* term, const char* opt_out) {
  if (!stdout_is_tty) return false;
  if (opt_out && *opt_out) return false;
  if (!term || !*term) return false;
  return std::string_view(term) != "dumb";
}

std::string format_remaining(int64_t remaining_ms) {
  int64_t s = remaining_ms <= 0 ? 0 : (remaining_ms + 999) / 1000;  // 0.2 s left still reads 0:01
  auto two = [](int64_t v) { return (v < 10 ? "0" : "") + std::to_string(v); };
  if (s >= 3600) return std::to_string(s / 3600) + ":" + two(s / 60 % 60) + ":" + two(s % 60);
  return std::to_string(s / 60) + ":" + two(s % 60);
}

std::string join_link_text(const std::string& url, int64_t expires_ms, int64_t now_ms,
                           bool clipboard) {
  std::string o = "Join link (copy):\n" + url + "\n";
  o += "Treat this link like a password: anyone who has it can ask to pair with this machine "
       "until it expires. Do not paste it in chats or tickets.\n";
  if (expires_ms > 0) {
    auto at = rc::proto::format_rfc3339_ms(expires_ms);  // YYYY-MM-DDTHH:MM:SS...
    o += "Single-use; expires in " + format_remaining(expires_ms - now_ms) + " (" +
         (at.size() >= 19 ? at.substr(11, 8) : at) + " UTC). Press 'a' for a fresh one.\n";
  } else {
    o += "The link is single-use and expires; press 'a' for a fresh one.\n";
  }
  std::string seq = clipboard ? osc52_sequence(url) : std::string();
  if (!seq.empty())
    o +=
        seq +
        "Sent to your clipboard (OSC 52) where the terminal allows it; else copy the line above.\n";
  else
    o += "Clipboard copy not available here (no terminal, TERM=dumb or opted out): copy the line "
         "above.\n";
  return o;
}

void join_countdown::start(int64_t expires_ms) {
  expires_ms_ = expires_ms;
  active_ = expires_ms > 0;
  last_.clear();
}

std::string join_countdown::stop() {
  std::string out = clear();
  active_ = false;
  return out;
}

std::string join_countdown::tick(int64_t now_ms) {
  if (!active_) return {};
  if (now_ms >= expires_ms_) {
    active_ = false;
    shown_ = false;
    return std::string(erase_line) + "Join link expired; press 'a' for a fresh one.\n";
  }
  std::string text =
      "Join link expires in " + format_remaining(expires_ms_ - now_ms) + " (a: new link, h: help)";
  if (shown_ && text == last_) return {};
  last_ = text;
  shown_ = true;
  return erase_line + text;
}

std::string join_countdown::clear() {
  if (!shown_) return {};
  shown_ = false;
  return erase_line;
}

}  // namespace rc::bridge
