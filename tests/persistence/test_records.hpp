#pragma once

// Sample records shared by the persistence suites.

#include <string>

#include "persistence/session_record.hpp"
#include "persistence/state_store.hpp"

namespace rc::test {

/// A session with two devices: one with grace tokens, one without; join token used.
inline persistence::session_record full_session(const std::string& id = "sess-full") {
  using namespace persistence;
  session_record rec;
  rec.session_id = id;
  rec.join_token = "join-" + id;
  rec.join_token_expires_at_ms = 1741760569000;
  rec.join_token_used_at_ms = 1741760460000;
  rec.desktop_session_token = "desk-" + id;
  rec.relay_web_socket_url = "wss://relay.example/ws";
  rec.idle_timeout_seconds = 1800;
  rec.created_at_ms = 1741760449000;
  rec.last_activity_at_ms = 1741760450000;
  device_record phone;
  phone.current_session_token = "K3";
  phone.retired_session_tokens = {{"K1", 1741760480000}, {"K2", 1741760490000}};
  phone.name = "iPhone \"Pro\" / Zoë 📱";
  phone.joined_at_ms = 1741760450000;
  phone.last_seen_at_ms = 1741760455000;
  device_record tablet;
  tablet.current_session_token = "T1";
  tablet.name = "iPad";
  tablet.joined_at_ms = 1741760451000;
  tablet.last_seen_at_ms = 1741760452000;
  rec.devices.emplace("dev-phone", phone);
  rec.devices.emplace("dev-tablet", tablet);
  return rec;
}

/// A fresh session waiting for its first phone: no devices, join token unused (null).
inline persistence::session_record fresh_session(const std::string& id = "sess-fresh") {
  persistence::session_record rec;
  rec.session_id = id;
  rec.join_token = "join-" + id;
  rec.join_token_expires_at_ms = 1741760569000;
  rec.desktop_session_token = "desk-" + id;
  rec.relay_web_socket_url = "wss://relay.example/ws";
  rec.idle_timeout_seconds = 600;
  rec.created_at_ms = 1741760449000;
  rec.last_activity_at_ms = 1741760449000;
  return rec;
}

inline std::string str(persistence::store_status s) {
  return persistence::to_string(s);
}

}  // namespace rc::test
