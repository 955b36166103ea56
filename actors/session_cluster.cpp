// Session actor, multi-node unit (CONFIG_REFERENCE §4.5, §5): publishing to peers, the local
// socket census, envelopes from peers, and adopting persisted copies (restore / merge).
// Without a bus every publish is a no-op.
#include <algorithm>

#include "actors/cluster.hpp"
#include "actors/session_ops.hpp"
#include "protocol/tokens.hpp"
#include "protocol/wire.hpp"

namespace rc::actors {

void session_ops::publish(const char* tgt, std::string payload, std::optional<std::string> device) {
  if (bus())
    self->send(st().cluster, publish_atom::value,
               make_envelope(sid(), tgt, std::move(payload), std::move(device)));
}

void session_ops::publish_control(const char* tgt, std::string payload) {
  if (bus())
    self->send(st().cluster, publish_atom::value, control_atom::value,
               make_envelope(sid(), tgt, std::move(payload)));
}

std::string session_ops::refresh_payload() {
  return proto::json{{"type", "relay.session_refresh"}, {"sessionID", sid()}}.dump();
}

/// Tells the cluster actor how many local sockets we hold (it (un)subscribes the subject).
void session_ops::report_sockets() {
  push_routes();
  if (!bus()) return;
  self->send(st().cluster, sockets_atom::value, sid(), static_cast<bool>(st().desktop),
             static_cast<uint64_t>(st().mobiles.size()));
  if (!st().desktop && st().mobiles.empty()) {  // unsubscribed: remote presence unknown
    st().remote_desktop = false;
    st().remote_desktop_instance.clear();
  }
}

void session_ops::announce() {
  if (!st().initialized || st().closed || !bus()) return;
  if (st().desktop) publish(target::mobile, proto::msg_desktop_status(sid(), true));
  if (st().mobiles.empty()) return;
  device_count_to_desktop();
  // Phones here without a known desktop: ask (the peer that came back may not have seen us
  // go, so it would not re-announce by itself). The answer tells the phones.
  if (!st().desktop && !st().remote_desktop) probe_presence();
}

void session_ops::probe_presence() {
  publish_control(target::probe, proto::json{{"type", "relay.desktop_status_probe"},
                                             {"sessionID", sid()},
                                             {"requestingInstanceID", ctx->instance_id}}
                                     .dump());
}

void session_ops::gate_probe() {
  if (!bus() || st().closed || desktop_present()) return;
  int64_t t = now();
  if (st().last_gate_probe_ms != 0 && t - st().last_gate_probe_ms < st().gate_probe_interval_ms)
    return;
  st().last_gate_probe_ms = t;
  probe_presence();
}

void session_ops::publish_command(std::string text, const std::string& device_id) {
  if (!bus()) return undelivered(device_id);
  self->send(st().cluster, publish_atom::value, ack_atom::value,
             make_envelope(sid(), target::desktop, std::move(text)), st().remote_desktop_instance,
             device_id);
}

void session_ops::undelivered(const std::string& device_id) {
  if (st().closed) return;
  if (auto c = st().device_conn.find(device_id); c != st().device_conn.end())
    if (auto m = st().mobiles.find(c->second); m != st().mobiles.end())
      send_text(m->second.peer, proto::msg_relay_error(proto::relay_error::desktop_offline,
                                                       proto::err::desktop_offline_msg));
  if (st().desktop) return;
  if (!st().remote_desktop) return gate_probe();
  set_remote_desktop(false, {}, true);
  probe_presence();
}

/// Remote presence changes (desktop_status from a peer, probe answer, member gone).
void session_ops::set_remote_desktop(bool v, const std::string& instance, bool tell_mobiles) {
  if (st().desktop) return;  // the local socket is authoritative
  bool before = st().remote_desktop;
  st().remote_desktop = v;
  st().remote_desktop_instance = v ? instance : std::string();
  if (before == v) return;
  tell_presence(v);
  if (tell_mobiles) {
    auto status = std::make_shared<const std::string>(proto::msg_desktop_status(sid(), v));
    for (auto& [cid, slot] : st().mobiles) slot.peer->send(status);
  }
}

/// Envelope from a peer (already verified): CONFIG_REFERENCE §5.4 and the control kinds.
void session_ops::from_bus(const persistence::bus_envelope& e) {
  if (!st().initialized || st().closed) return;
  // Peers are authenticated, but the payload is a desktop's frame: any member may have any type.
  auto j = proto::parse_untrusted(e.payload);
  std::string type = proto::string_member(j, "type");
  if (e.target == target::pair_decision) {
    std::string rid = proto::string_member(j, "requestID");
    bool approved = proto::bool_member(j, "approved", false);
    if (!st().pending || !proto::constant_time_equal(rid, st().pending->request_id)) return;
    if (approved)
      approve();
    else
      fail_join(403, "pair_request_denied", "Desktop denied this pairing request.");
    return;
  }
  if (e.target == target::probe) {
    if (!st().desktop) return;
    std::string who = proto::string_member(j, "requestingInstanceID");
    publish_control(target::probe_response, proto::json{{"type", "relay.desktop_status_response"},
                                                        {"sessionID", sid()},
                                                        {"requestingInstanceID", who},
                                                        {"desktopConnected", true}}
                                                .dump());
    return;
  }
  if (e.target == target::probe_response) {
    if (proto::string_member(j, "requestingInstanceID") != ctx->instance_id) return;
    // Also the answer to a heal probe (announce): phones here learn the desktop is back.
    if (proto::bool_member(j, "desktopConnected", false))
      set_remote_desktop(true, e.source_instance_id, true);
    finish_probes(std::nullopt);
    return;
  }
  touch();
  if (type == "disconnect") {
    // Peers send one of our own reasons; anything else ends the session as expired.
    auto reason = proto::parse_close_reason(proto::string_member(j, "reason"))
                      .value_or(close_reason::session_expired);
    if (e.target == target::mobile && e.target_device_id) return revoke_local(*e.target_device_id);
    return close(reason, false);
  }
  if (e.target == target::desktop && type == "relay.device_count") {
    // A peer's local phone count: the desktop gets the cluster-wide sum.
    if (!st().desktop || !j.contains("connectedDeviceCount") ||
        !j["connectedDeviceCount"].is_number_unsigned())
      return;
    auto n = j["connectedDeviceCount"].get<uint64_t>();
    n = std::min<uint64_t>(n, ctx->cfg.max_devices_per_session);
    auto& counts = st().remote_mobiles;
    if (n == 0)
      counts.erase(e.source_instance_id);
    else if (counts.count(e.source_instance_id) || counts.size() < st().max_remote_counts)
      counts[e.source_instance_id] = n;
    device_count_to_desktop();
    return;
  }
  auto text = std::make_shared<const std::string>(e.payload);
  if (e.target == target::desktop) {
    if (!st().desktop) return;  // phones-only nodes stay silent: the desktop's node answers
    bool sent = st().desktop->send(text);
    // Delivery notice for the phone's node (issue 12): a command is never lost in silence.
    publish(
        target::delivery,
        proto::json{{"type", "relay.delivery"}, {"nonce", e.nonce}, {"delivered", sent}}.dump());
    if (sent) {
      ++st().to_desktop;
      return;
    }
    slow_desktop();
    return;
  }
  if (e.target != target::mobile) return;
  if (type == "relay.desktop_status" && j.contains("desktopConnected") &&
      j["desktopConnected"].is_boolean()) {
    bool up = j["desktopConnected"].get<bool>();
    set_remote_desktop(up, e.source_instance_id, false);
    // The desktop's node learns how many phones we hold (cluster-wide device count).
    if (up && !st().mobiles.empty()) device_count_to_desktop();
  } else if (!st().remote_desktop || st().remote_desktop_instance != e.source_instance_id) {
    // Any other frame for the phones is the desktop's own, forwarded by the node holding its
    // socket: proof of presence. It heals a desktop_status this node missed (published while
    // it was not subscribed), which left phones told "offline" for good while events still
    // arrived and the device gate refused every command (found by the chaos test, issue 12).
    set_remote_desktop(true, e.source_instance_id, true);
  }
  to_mobiles(text);
}

/// Targeted revoke (§5.4; also the local devices/revoke): drop the device, its socket, buckets
/// and tokens.
void session_ops::revoke_local(const std::string& device_id) {
  auto it = st().rec.devices.find(device_id);
  if (it == st().rec.devices.end()) return;
  if (auto conn = st().device_conn.find(device_id); conn != st().device_conn.end())
    remove_mobile(conn->second, close_reason::device_revoked);
  index(tokens().device(device_id, it->second, false));
  st().rec.devices.erase(it);
  kill_device(device_id);
  if (st().desktop) device_count_to_desktop();
}

/// Persisted copy from a reload (§4.5, improved): adopted when newer than the copy this session
/// last read or wrote, merged three-way with the local changes not yet stored. Devices with a
/// live local socket are kept.
void session_ops::merge(persistence::session_record& rec, uint64_t version) {
  if (st().closed) return;
  if (!st().initialized) {
    restore(rec, version);
    return;
  }
  st().last_store_io_ms = now();
  if (version <= st().base_version) return;
  auto next = persistence::merge3(st().base, st().rec, rec);
  st().base = std::move(rec);
  st().base_version = version;
  st().version = std::max(st().version, version);
  apply_record(std::move(next));
}

void session_ops::adopt_stored(persistence::session_record& rec, uint64_t version) {
  st().last_store_io_ms = now();
  auto next = persistence::merge3(st().base, st().rec, rec);
  st().base = std::move(rec);
  st().base_version = std::max(st().base_version, version);
  st().version = std::max(st().version, version);
  apply_record(std::move(next));
}

void session_ops::apply_record(persistence::session_record next) {
  index(tokens().all(false));
  std::vector<std::string> gone;
  for (auto& [id, d] : st().rec.devices)
    if (!next.devices.count(id)) gone.push_back(id);
  for (auto& id : gone) {
    if (st().device_conn.count(id))
      next.devices[id] = st().rec.devices[id];  // live here: keep it
    else
      kill_device(id);
  }
  int64_t activity = std::max(st().rec.last_activity_at_ms, next.last_activity_at_ms);
  st().rec = std::move(next);
  st().rec.last_activity_at_ms = activity;
  for (auto& [id, d] : st().rec.devices)
    if (!st().device_actors.count(id)) spawn_device(id);
  auto idx = tokens().prune_all(now());
  auto add = tokens().all(true);
  idx.insert(idx.end(), add.begin(), add.end());
  index(std::move(idx));
}

void session_ops::restore(persistence::session_record& rec, uint64_t version) {
  st().last_store_io_ms = now();
  st().base = rec;
  st().base_version = version;
  st().rec = std::move(rec);
  st().version = std::max(st().version, version);
  st().initialized = true;
  for (auto& [id, d] : st().rec.devices) spawn_device(id);
  index(tokens().all(true));
}

}  // namespace rc::actors
