// Interactive output around the join link (issue 15): OSC 52 clipboard copy (only to a terminal),
// the "treat this link like a password" line, the expiry and a live countdown status line.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace rc::bridge {

/// Longest text sent to the clipboard via OSC 52 (terminals cap the sequence; a join link is ~400
/// B).
inline constexpr std::size_t osc52_max_text = 4096;

/// OSC 52 "set clipboard" sequence (ESC ] 52 ; c ; base64 BEL) for `text`; "" when the text is
/// empty, longer than osc52_max_text or contains control characters.
std::string osc52_sequence(std::string_view text);

/// Whether to send OSC 52 at all: only when stdout is a TTY, TERM is set and not "dumb", and the
/// opt-out variable (REMOTE_CONTROL_NO_CLIPBOARD) is unset or empty. Never into logs or pipes.
bool osc52_allowed(bool stdout_is_tty, const char* term, const char* opt_out);

/// Remaining time as "m:ss" ("h:mm:ss" from one hour); "0:00" when past.
std::string format_remaining(int64_t remaining_ms);

/// The text printed with a fresh join link: the link, the secret warning, the expiry, then either
/// the OSC 52 sequence with a "copied" line (`clipboard`) or the fallback line.
std::string join_link_text(const std::string& url, int64_t expires_ms, int64_t now_ms,
                           bool clipboard);

/// The status line that counts down to the join link's expiry in interactive mode. Not
/// thread-safe: the caller holds its output mutex around every call and write.
class join_countdown {
 public:
  void start(int64_t expires_ms);
  /// Hides the line for good (a device paired, the session ended).
  std::string stop();
  bool active() const { return active_; }
  /// Bytes to write now: the line when its text changed or it was erased, the "expired" line once
  /// (ending with a newline, then the countdown is over), else "".
  std::string tick(int64_t now_ms);
  /// Bytes that erase the status line before other output ("" when it is not shown).
  std::string clear();

 private:
  int64_t expires_ms_ = 0;
  bool active_ = false;
  bool shown_ = false;
  std::string last_;
};

}  // namespace rc::bridge
