// Desktop side of E2EE (docs/E2EE.md): identity key, pinned device keys, single-use pairing
// secrets, one handshake/record channel per device, policy (required / preferred / off).
// Pure logic (no CAF, no I/O): the broker sends the frames it returns.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "desktop-bridge/e2ee.hpp"

namespace rc::bridge {

enum class e2ee_policy { required, preferred, off };
std::optional<e2ee_policy> parse_e2ee_policy(std::string_view s);
const char* e2ee_policy_name(e2ee_policy p);
/// User-facing text for a named refusal / rejection reason.
std::string e2ee_reason_text(const std::string& reason);

class e2ee_hub {
 public:
  static constexpr std::size_t max_secrets = 4;
  static constexpr std::size_t max_channels = 64;
  /// Devices told to resync whose stale in-flight frames are dropped until their next hello.
  static constexpr std::size_t max_resyncing = 256;
  /// Largest app envelope whose record frame (base64url ×4/3 + tag + wrapper) still fits the
  /// relay's 64 KiB inbound frame limit, with room for long ids.
  static constexpr std::size_t max_sealed_app_bytes = 48000;

  struct outcome {
    std::vector<nlohmann::json> to_phone;  ///< desktop → phone frames, in order
    std::optional<std::string> app;        ///< decrypted app JSON (validate before use)
    std::string refused;                   ///< named reason when something failed
    bool established = false;              ///< the channel just opened (resend hello/snapshot)
    bool changed = false;                  ///< persisted state changed (save)
    bool revoke = false;                   ///< the device failed the QR proof: revoke it
    std::string safety;                    ///< safety code once established
    bool dropped = false;  ///< stale frame of a torn-down channel (resync already sent)
    bool resync = false;   ///< `refused` names a resync (a new handshake follows), not a refusal
  };

  explicit e2ee_hub(e2ee_policy p = e2ee_policy::required) : policy_(p) {}
  e2ee_policy policy() const { return policy_; }
  void set_policy(e2ee_policy p) { policy_ = p; }

  /// New identity and no pins (new session).
  void reset();
  /// From the state file; false (and reset()) when the stored identity is unusable.
  bool load(const std::string& identity_b64, const std::map<std::string, std::string>& pinned,
            const std::vector<std::pair<std::string, int64_t>>& secrets);
  void store(std::string& identity_b64, std::map<std::string, std::string>& pinned,
             std::vector<std::pair<std::string, int64_t>>& secrets) const;
  void set_session(std::string sid) { sid_ = std::move(sid); }

  /// `&dk=…&ps=…` for a join link shown now (fresh single-use secret); empty when off.
  std::string join_fragment(int64_t expires_ms, int64_t now_ms);

  /// A phone → desktop `payload.type:"e2ee"` body from `device_id` (as injected by the relay).
  outcome on_frame(const std::string& device_id, const nlohmann::json& body, int64_t now_ms);
  /// Refusal reason for a plaintext command from `device_id`, or empty when allowed.
  std::string plaintext_refusal(const std::string& device_id) const;
  /// Frame telling `device_id` why it was refused.
  nlohmann::json refusal(const std::string& device_id, const std::string& reason) const;

  /// Encrypts one app envelope for every open channel.
  std::vector<std::string> seal_all(const std::string& plaintext);
  /// One record per open channel, each with that device's own plaintext (same seq for all).
  std::vector<std::string> seal_each(
      const std::function<std::string(const std::string& device_id)>& plaintext_for);
  /// Plaintext copies still go out (preferred only, while a connected phone has no channel).
  bool plaintext_needed(std::size_t connected_devices) const;
  std::size_t open_channels() const;

  bool is_pinned(const std::string& device_id) const { return pinned_.count(device_id) != 0; }
  /// Revoke: forget the pinned key and any channel.
  bool forget_device(const std::string& device_id);
  /// Relay socket lost: every channel ends with it.
  void drop_channels();
  const e2ee::bytes& identity_point() const;

 private:
  struct channel;
  outcome on_hello(const std::string& device_id, const nlohmann::json& body, int64_t now_ms);
  outcome on_finish(const std::string& device_id, const nlohmann::json& body);
  outcome on_record(const std::string& device_id, const nlohmann::json& body);
  /// Names `reason` to the phone (tagged with `ch`'s handshake) and ends `ch`; with
  /// `whole_device` also the device's open channel. Stale frames then drop until a new hello.
  outcome fail(const std::string& device_id, const std::string& reason, bool resync,
               const channel* ch = nullptr, bool whole_device = true);
  outcome stale_or_fail(const std::string& device_id);
  nlohmann::json frame(const std::string& device_id, const channel* ch, const char* kind) const;
  std::string rec_frame(const std::string& device_id, channel& ch, const std::string& plaintext);

  e2ee_policy policy_;
  std::string sid_;
  std::unique_ptr<e2ee::identity_key> identity_;
  std::map<std::string, e2ee::bytes> pinned_;
  std::vector<std::pair<e2ee::bytes, int64_t>> secrets_;  // newest last
  // A handshake runs in `pending_` and replaces the device's open channel only once the phone's
  // finish signature and confirm checked out: an injected (replayed) handshake that fails leaves
  // the working channel alone.
  std::map<std::string, std::shared_ptr<channel>> channels_;  // open
  std::map<std::string, std::shared_ptr<channel>> pending_;   // handshake in progress
  std::set<std::string> resyncing_;
};

}  // namespace rc::bridge
