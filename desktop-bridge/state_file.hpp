// Credential file of the bridge (JSON, mode 0600): the session descriptor and trusted devices,
// so a restarted bridge resumes its session. An unreadable/invalid file is purged.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "desktop-bridge/model.hpp"

namespace rc::bridge {

struct saved_state {
  session_descriptor descriptor;
  std::vector<trusted_device> devices;
  bool approvals_enabled = false;
  /// E2EE (docs/E2EE.md): desktop identity key (PKCS#8 DER, base64url), pinned device keys
  /// (deviceID → SEC1 point, base64url), unused pairing secrets (base64url, expiry ms).
  std::string e2ee_identity;
  std::map<std::string, std::string> e2ee_pinned;
  std::vector<std::pair<std::string, int64_t>> e2ee_secrets;
  /// Web push (docs/PUSH.md): `{vapid: PKCS#8 base64url, subscriptions: {deviceID: {...}}}`.
  nlohmann::json push = nlohmann::json::object();
};

/// Default path: $XDG_CONFIG_HOME or ~/.config, + /remote-control/bridge-session.json.
std::string default_state_path();

/// Loads the file; nullopt when missing. An unreadable or invalid file is deleted
/// (`purged` set true) and nullopt returned.
std::optional<saved_state> load_state(const std::string& path, bool* purged = nullptr);

/// Atomically writes the file with mode 0600 (parent dirs created with 0700). False on error.
bool save_state(const std::string& path, const saved_state& s, std::string* error = nullptr);

/// Deletes the file (no error if missing).
void clear_state(const std::string& path);

}  // namespace rc::bridge
