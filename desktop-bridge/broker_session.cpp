// Broker: devices and pairing, the outbound stream (plaintext or E2EE records), inbound frames.
#include "desktop-bridge/broker_state.hpp"
#include "protocol/time.hpp"
#include "protocol/tokens.hpp"
#include "protocol/untrusted_json.hpp"
#include "protocol/url.hpp"
#include "protocol/wire.hpp"

namespace rc::bridge::detail {

void broker_state::list_devices(bool show) {
  if (!desc) return;
  auto sid = desc->session_id;
  post("/devices/list", auth_body(), [this, sid, show](const net::http_response& r) {
    if (!desc || desc->session_id != sid) return;
    if (!ok(r)) {
      if (r.status != 0 && http_invalidates_session(r.status, r.body))
        return invalidate("devices_list: " + describe(r));
      error("devices_list", describe(r), r.status, r.body);
      return;
    }
    std::vector<trusted_device> fresh;
    json list = json::array();
    try {
      auto j = rc::proto::parse_untrusted(r.body);
      for (auto& d : j.value("devices", json::array())) {
        trusted_device t;
        t.device_id = d.value("deviceID", "");
        t.name = d.value("deviceName", "");
        t.connected = d.value("connected", false);
        t.joined_at = d.value("joinedAt", "");
        t.last_seen_at = d.value("lastSeenAt", "");
        fresh.push_back(t);
        list.push_back({{"deviceID", t.device_id},
                        {"deviceName", t.name},
                        {"connected", t.connected},
                        {"joinedAt", t.joined_at},
                        {"lastSeenAt", t.last_seen_at},
                        {"push", pushes.subscribed(t.device_id)}});
        if (!t.connected) pushes.clear_visible(t.device_id);  // gone: its app may be closed
      }
    } catch (...) {
      error("devices_list", "invalid response");
      return;
    }
    for (auto& t : fresh) {
      bool known = std::any_of(devices.begin(), devices.end(),
                               [&](const trusted_device& o) { return o.device_id == t.device_id; });
      if (!known)
        emit({{"event", "device_paired"}, {"deviceID", t.device_id}, {"deviceName", t.name}});
    }
    devices = std::move(fresh);
    save();
    if (show) emit({{"event", "devices"}, {"devices", list}});
  });
}

void broker_state::revoke(const std::string& device_id) {
  if (!desc) return error("revoke", "no active session");
  if (!rc::proto::is_opaque(device_id, rc::proto::min_device_id_len))
    return error("revoke", "invalid device id");
  // Forget the pinned key first (fail closed even when the relay call fails): a revoked phone's
  // keys can no longer complete a handshake, so they decrypt nothing new.
  bool forgot = hub.forget_device(device_id);
  if (pushes.unsubscribe(device_id) || forgot) save();  // a revoked phone gets no more pushes
  json body = auth_body();
  body["deviceID"] = device_id;
  post("/devices/revoke", body, [this, device_id](const net::http_response& r) {
    if (!desc) return;
    if (!ok(r)) {
      if (r.status == 404 && r.body.find("device_not_found") != std::string::npos)
        return error("revoke", "device not found", r.status, r.body);
      if (r.status != 0 && http_invalidates_session(r.status, r.body))
        return invalidate("devices_revoke: " + describe(r));
      return error("revoke", describe(r), r.status, r.body);
    }
    devices.erase(std::remove_if(devices.begin(), devices.end(),
                                 [&](const trusted_device& d) { return d.device_id == device_id; }),
                  devices.end());
    save();
    emit({{"event", "device_revoked"}, {"deviceID", device_id}});
  });
}

void broker_state::add_device() {
  if (!desc || ph != phase::active) return error("add_device", "no active session");
  probe(
      [this](bool alive) {
        if (alive && desc) {
          emit({{"event", "add_device"},
                {"sessionID", desc->session_id},
                {"joinURL", join_url_now()},
                {"e2ee", e2ee_policy_name(hub.policy())}});
          save();
        }
      },
      true);
}

void broker_state::decide(const std::string& request_id, bool approved) {
  auto it = pair_requests.find(request_id);
  if (it == pair_requests.end())
    return error("pair_decision", "no pending pair request " + request_id);
  pair_requests.erase(it);
  if (ws && authed && desc)
    ws->send(dump({{"type", "relay.pair_decision"},
                   {"sessionID", desc->session_id},
                   {"requestID", request_id},
                   {"approved", approved}}));
  emit({{"event", "pair_decision"}, {"requestID", request_id}, {"approved", approved}});
}

void broker_state::send_envelope(const std::string& type, json body,
                                 const std::function<void(const std::string&, json&)>& personal) {
  if (!ws || !authed || !desc) return;
  json env = {{"schemaVersion", 2},
              {"sessionID", desc->session_id},
              {"seq", ++out_seq},
              {"timestamp", rc::proto::format_rfc3339_seconds_z(rc::proto::now_ms())},
              {"payload", {{"type", type}, {"payload", std::move(body)}}}};
  auto text = dump(env);
  // One record per open E2EE channel (each phone has its own keys); a plaintext copy only when
  // the policy allows it and some connected phone has no channel (docs/E2EE.md "Policy").
  if (personal) {
    for (auto& rec : hub.seal_each([&](const std::string& dev) {
           json e = env;
           personal(dev, e["payload"]["payload"]);
           return dump(e);
         }))
      ws->send(std::move(rec));
  } else {
    for (auto& rec : hub.seal_all(text)) ws->send(std::move(rec));
  }
  if (hub.plaintext_needed(device_count)) ws->send(std::move(text));
}

void broker_state::send_hello() {
  send_envelope("hello", {{"role", "desktop"},
                          {"clientName", "Remote Control Desktop Bridge"},
                          {"supportsRuntimeRequests", approvals}});
}

void broker_state::flush(bool forced) {
  flush_scheduled = false;
  if (!ws || !authed) return;
  for (auto& e : m.collect_events(approvals)) send_envelope("event", e);
  snapshot_limits lim;
  std::string text = dump(m.snapshot(approvals, lim));
  // The relay limits inbound frames to 64 KiB: shrink the window if the bounded snapshot
  // (plus JSON escaping and metadata) would still not fit — encrypted, after base64url (×4/3).
  const std::size_t cap = hub.open_channels() > 0 ? e2ee_hub::max_sealed_app_bytes - 512 : 60000;
  while (text.size() > cap && lim.text_budget > 1000) {
    lim.text_budget /= 2;
    lim.max_messages = std::max<std::size_t>(10, lim.max_messages / 2);
    text = dump(m.snapshot(approvals, lim));
  }
  if (!forced && text == last_snapshot) return;
  last_snapshot = text;
  // Web push is an E2EE-only feature: only the encrypted copies advertise it.
  send_envelope("snapshot", rc::proto::parse_untrusted(text, 1024),
                [](const std::string&, json& b) { b["capabilities"]["push"] = true; });
}

void broker_state::schedule_flush() {
  if (flush_scheduled) return;
  flush_scheduled = true;
  self->delayed_send(self, std::chrono::milliseconds(cfg.flush_debounce_ms), flush_atom::value);
}

void broker_state::on_ws_text(uint64_t gen, const std::string& text) {
  if (gen != ws_gen || !desc) return;
  // The relay is outside the trust boundary: bounded nesting, no exceptions.
  json j = rc::proto::parse_untrusted(text);
  if (!j.is_object()) return;
  if (j.contains("type") && j["type"].is_string()) return on_control(j);
  on_envelope(j);
}

void broker_state::on_control(const json& j) {
  auto type = j["type"].get<std::string>();
  if (j.contains("sessionID") && j["sessionID"].is_string() && j["sessionID"] != desc->session_id)
    return;
  if (type == "auth_ok") {
    authed = true;
    attempt = 0;
    trackers.clear();
    device_count = j.value("connectedDeviceCount", std::size_t{0});
    emit({{"event", "relay_connected"},
          {"sessionID", desc->session_id},
          {"connectedDeviceCount", device_count}});
    send_hello();
    m.reset_baselines();
    m.record_baselines();
    last_snapshot.clear();
    flush(true);
  } else if (type == "relay.device_count") {
    auto n = j.value("connectedDeviceCount", std::size_t{0});
    emit({{"event", "device_count"}, {"connectedDeviceCount", n}});
    if (n > device_count) {
      send_hello();
      list_devices(false);
    } else if (n < device_count) {  // a phone left: which one (its visibility no longer holds)
      if (n == 0) pushes.clear_all_visible();
      list_devices(false);
    }
    device_count = n;
  } else if (type == "relay.snapshot_request") {
    // `required`: a phone that never paired with E2EE gets a named refusal, not silence.
    auto dev = j.value("relayDeviceID", "");
    if (hub.policy() == e2ee_policy::required && !dev.empty() && !hub.is_pinned(dev))
      return refuse(dev, "e2ee_required");
    send_hello();
    flush(true);
    send_push_state();
  } else if (type == "relay.pair_request") {
    auto rid = j.value("requestID", "");
    if (rid.empty()) return;
    json ev = {{"event", "pair_request"}, {"requestID", rid}};
    if (j.contains("deviceName") && j["deviceName"].is_string()) ev["deviceName"] = j["deviceName"];
    ev["requesterIP"] = j.value("requesterIP", "");
    ev["requestedAt"] = j.value("requestedAt", "");
    ev["expiresAt"] = j.value("expiresAt", "");
    pair_requests[rid] = ev;
    emit(ev);
    if (cfg.auto_approve) return decide(rid, true);
    push_notify(push::kind::pairing, "", "Pairing request",
                "A device asks to pair: approve or deny it on the desktop.");
    int64_t timeout_ms = int64_t{cfg.pair_prompt_timeout_s} * 1000;
    if (auto exp = rc::proto::parse_rfc3339(j.value("expiresAt", "")))
      timeout_ms = std::clamp<int64_t>(*exp - rc::proto::now_ms(), 1000, timeout_ms);
    self->delayed_send(self, std::chrono::milliseconds(timeout_ms), pair_timeout_atom::value, rid);
  } else if (type == "relay.pair_result") {
    auto rid = j.value("requestID", "");
    bool approved = j.value("approved", false);
    pair_requests.erase(rid);
    emit({{"event", "pair_result"}, {"requestID", rid}, {"approved", approved}});
    if (approved) {
      desc->lease.mark_used(rc::proto::now_ms());
      save();
      list_devices(false);
    }
  } else if (type == "disconnect") {
    auto reason = j.value("reason", "");
    emit({{"event", "relay_disconnect"}, {"reason", reason}});
    if (disconnect_invalidates_session(reason)) invalidate("relay: " + reason);
  }
}

bool broker_state::envelope_header_ok(const json& env) const {
  return env.is_object() && env.contains("schemaVersion") && env["schemaVersion"] == 2 &&
         env.contains("sessionID") && env["sessionID"] == desc->session_id &&
         env.contains("timestamp") && env["timestamp"].is_string() && env.contains("seq") &&
         env["seq"].is_number_unsigned() && env.contains("payload") && env["payload"].is_object();
}

void broker_state::on_envelope(const json& env) {
  if (!envelope_header_ok(env)) return;
  auto& p = env["payload"];
  std::string device = env.value("relayDeviceID", "");
  std::string conn = env.value("relayConnectionID", "");
  if (p.value("type", "") == "e2ee") return on_e2ee(device, conn, p.value("payload", json()));
  if (auto why = hub.plaintext_refusal(device); !why.empty()) return refuse(device, why);
  process_command(env, conn);
}

void broker_state::refuse(const std::string& device, const std::string& reason) {
  if (ws && authed) ws->send(dump(hub.refusal(device, reason)));
  emit({{"event", "e2ee_refused"},
        {"deviceID", device},
        {"reason", reason},
        {"message", e2ee_reason_text(reason)}});
}

void broker_state::on_e2ee(const std::string& device, const std::string& conn, const json& body) {
  if (device.empty()) return;
  auto o = hub.on_frame(device, body, rc::proto::now_ms());
  if (ws && authed)
    for (auto& f : o.to_phone) ws->send(dump(f));
  if (o.changed) save();
  if (!o.refused.empty())
    emit({{"event", o.resync ? "e2ee_resync" : "e2ee_refused"},
          {"deviceID", device},
          {"reason", o.refused},
          {"message", e2ee_reason_text(o.refused)}});
  if (o.revoke) revoke(device);
  if (o.established) {
    emit({{"event", "e2ee_verified"}, {"deviceID", device}, {"safetyCode", o.safety}});
    send_hello();
    last_snapshot.clear();
    flush(true);
    send_push_state();
  }
  if (!o.app) return;
  // Decrypt-then-validate: the relay only saw ciphertext, so the desktop runs the relay's own
  // §9.3 validators on the plaintext command before anything reaches the runtime.
  json inner = rc::proto::parse_untrusted(*o.app);
  uint64_t seq = 0;
  auto v = inner.is_object() ? rc::proto::validate_command_envelope(inner, seq)
                             : rc::proto::verdict::fail(rc::proto::relay_error::invalid_payload,
                                                        "not a JSON object");
  if (v.ok()) v = rc::proto::validate_command_rules(inner, cfg.max_command_text_bytes);
  if (!v.ok() || !envelope_header_ok(inner)) {
    emit({{"event", "command_received"},
          {"status", "invalid"},
          {"reason", v.ok() ? "invalid_envelope" : v.code},
          {"deviceID", device}});
    return;
  }
  process_command(inner, conn, device);
}

void broker_state::process_command(const json& env, const std::string& conn,
                                   const std::string& e2ee_device) {
  auto& p = env["payload"];
  if (p.value("type", "") != "command" || !p.contains("payload") || !p["payload"].is_object())
    return;
  if (p["payload"].value("name", "").rfind("push.", 0) == 0)
    return on_push_command(env, conn, e2ee_device);
  uint64_t seq = env["seq"].get<uint64_t>();
  auto& tr = trackers.get(conn);
  auto res = tr.ingest(seq);
  bool stale = res.r == rc::proto::sequence_tracker::result::stale;
  if (res.r == rc::proto::sequence_tracker::result::gap)
    tr.force(seq);  // §8.3 hazard: accept forward jumps
  auto out = cp.process(p["payload"], seq, stale, m, rt.get(), approvals);
  if (!out.ack) {
    emit({{"event", "command_received"},
          {"name", out.name},
          {"commandID", out.command_id},
          {"status", "dropped"},
          {"seq", seq}});
    return;
  }
  json ev = {{"event", "command_received"},
             {"name", out.name},
             {"commandID", out.command_id},
             {"status", out.accepted ? "accepted" : "rejected"},
             {"seq", seq},
             {"replay", out.replay}};
  if (!out.reason.empty()) ev["reason"] = out.reason;
  emit(ev);
  for (auto& e : out.before_ack) send_envelope("event", e);
  send_envelope("command_ack", *out.ack);
  if (out.accepted && out.applied) flush(true);
}
}  // namespace rc::bridge::detail
