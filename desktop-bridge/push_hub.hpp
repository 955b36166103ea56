// Web push application server logic (docs/PUSH.md): the VAPID key, one subscription per E2EE
// device, visibility, what triggers a notification, burst collapsing, the bounded delivery
// queue with retries/back-off, and what each push service answer means. Pure logic (no CAF, no
// I/O): the broker sends the requests it returns and reports the answers.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "desktop-bridge/net.hpp"
#include "desktop-bridge/push_crypto.hpp"

namespace rc::bridge::push {

enum class kind { approval, turn, pairing };
const char* kind_name(kind k);

struct kinds {
  bool approval = true, turn = true, pairing = false;
  bool on(kind k) const;
  nlohmann::json to_json() const;
};

struct hub_config {
  std::string subject = "mailto:remote-control@localhost";  ///< VAPID `sub`
  bool generic = false;      ///< "Your agent needs you" instead of titles
  bool pairing = false;      ///< pairing requests may push (off by default)
  bool allow_local = false;  ///< test-only: loopback/private endpoints
  int max_attempts = 4;      ///< per notification
  int timeout_ms = 10000;    ///< per attempt
  int64_t max_backoff_ms = 15 * 60 * 1000;
};

class hub {
 public:
  static constexpr std::size_t max_subscriptions = 64;
  static constexpr std::size_t max_pending = 128;

  struct attempt {
    uint64_t id = 0;
    std::string device_id;
    net::http_request req;
    kind k = kind::turn;
  };
  struct answer {
    enum class what { delivered, retry, dropped, gone } w = what::dropped;
    std::string device_id;
    int64_t retry_at_ms = 0;  ///< retry: not before this time
  };

  explicit hub(hub_config c = {}) : cfg_(std::move(c)) {}
  const hub_config& config() const { return cfg_; }

  /// From the state file (`{"vapid": pkcs8, "subscriptions": {...}}`); invalid parts dropped.
  void load(const nlohmann::json& saved);
  nlohmann::json store() const;
  /// New session: new key on first use, no subscriptions.
  void reset();

  /// The VAPID public key (created on first use; `changed()` then reports a save is due).
  const bytes& vapid_public();
  bool take_changed();

  /// `push.subscribe` (already validated by validate_command_rules): "" or a refusal reason.
  std::string subscribe(const std::string& device, const nlohmann::json& subscription,
                        const nlohmann::json& kinds);
  bool unsubscribe(const std::string& device);
  bool subscribed(const std::string& device) const { return subs_.count(device) != 0; }
  /// `push.state` event body for `device`.
  nlohmann::json state(const std::string& device);

  /// Last `push.visibility` of a device with a live connection; cleared when it disconnects.
  void set_visible(const std::string& device, bool visible);
  void clear_visible(const std::string& device) { visible_.erase(device); }
  void clear_all_visible() { visible_.clear(); }
  bool visible(const std::string& device) const { return visible_.count(device) != 0; }

  /// A trigger: queues one notification per subscribed device that wants `k` and is not
  /// visible; a pending one for the same device/kind/thread is replaced (collapse). Returns the
  /// devices skipped because visible.
  std::vector<std::string> notify(kind k, const std::string& thread_id, const std::string& title,
                                  const std::string& text, int64_t now_ms);

  /// The next request to send (none in flight for its device, not backing off); nullopt when
  /// nothing is ready. `wake_ms` is set to the earliest back-off end when something waits.
  std::optional<attempt> next(int64_t now_ms, int64_t* wake_ms = nullptr);
  /// The push service's answer to attempt `id` (status 0 = transport error / timeout).
  answer on_response(uint64_t id, int status, const std::string& retry_after, int64_t now_ms);

  std::size_t pending() const { return pending_.size(); }

  /// Retry-After: delta-seconds or an HTTP date; nullopt when absent or unparsable.
  static std::optional<int64_t> parse_retry_after(const std::string& v, int64_t now_ms);
  /// Plaintext of a notification (`{v, kind, threadID?, title, body, ts}`, ≤ 3 KB).
  static std::string payload(kind k, const std::string& thread_id, const std::string& title,
                             const std::string& text, int64_t ts_ms);

 private:
  struct sub_rec {
    subscription s;
    struct kinds k;
  };
  struct note {
    std::string device;
    kind k = kind::turn;
    std::string thread_id, title, text;
    int64_t ts = 0;
    int attempts = 0;
    uint64_t in_flight = 0;  ///< attempt id, 0 = waiting
  };
  void ensure_key();
  void drop_device(const std::string& device);

  hub_config cfg_;
  std::unique_ptr<e2ee::identity_key> key_;
  bool changed_ = false;
  std::map<std::string, sub_rec> subs_;
  std::set<std::string> visible_;
  std::vector<note> pending_;               // oldest first
  std::map<std::string, int64_t> backoff_;  // device → not before (ms)
  std::map<std::string, int> failures_;     // device → consecutive failures
  uint64_t next_id_ = 1;
};

}  // namespace rc::bridge::push
