// Device actor: one per trusted device. Owns the device's live socket, the per-connection
// command sequence, and applies the mobile pipeline of RELAY_PROTOCOL §9.3 in order.
#include "actors/actors.hpp"
#include "actors/common.hpp"
#include "protocol/e2ee_wire.hpp"
#include "protocol/tokens.hpp"

namespace rc::actors {

namespace {

struct device_state {
  std::string conn_id;
  std::shared_ptr<gw::ws_peer> peer;
  uint64_t last_seq = 0;
  bool desktop_connected = false;
  std::shared_ptr<gw::ws_peer> desktop;  ///< set when commands may go straight to the desktop
  std::string desktop_conn;
  int64_t spawned_at = 0;
  int64_t last_gate_ms = 0;  ///< last offline-gate notice to the session (rate-limited)
  uint64_t forwarded = 0;
  uint64_t rejected = 0;
  static inline const char* name = "device";
};
using device_ptr = device_actor::stateful_pointer<device_state>;

void send_error(device_ptr self, proto::relay_error code, const std::string& message) {
  ++self->state.rejected;
  if (self->state.peer)
    self->state.peer->send(
        std::make_shared<const std::string>(proto::msg_relay_error(code, message)));
}

device_actor::behavior_type device_impl(device_ptr self, context_ptr ctx, session_actor session,
                                        session_limiter_actor limiter, std::string session_id,
                                        std::string device_id, bool desktop_connected) {
  self->state.spawned_at = now_of(ctx);
  self->state.desktop_connected = desktop_connected;
  ctx->metrics.device_actors.fetch_add(1);
  self->attach_functor([ctx] { ctx->metrics.device_actors.fetch_sub(1); });
  // The limiter is linked to the same session: an error here means it is gone and the session
  // is ending. The frame is dropped (fail closed), not forwarded unbudgeted.
  auto limiter_failed = [=](caf::error& e) {
    ctx->log(log_level::warn, "device", "rate limiter unavailable; frame dropped",
             sid_field(session_id) + ",\"error\":" + json_str(caf::to_string(e)));
  };
  auto forward = [=](std::shared_ptr<proto::json> value) {
    auto text = std::make_shared<const std::string>(
        proto::inject_metadata(*value, self->state.conn_id, device_id));
    ++self->state.forwarded;
    if (auto& d = self->state.desktop) {  // direct: the session told us the desktop socket
      if (!d->send(std::move(text))) {
        self->send(session, slowdesk_atom::value, self->state.desktop_conn);
        d.reset();
      }
      return;
    }
    self->send(session, todesk_atom::value, std::move(text), device_id);
  };
  return {
      [=](attach_atom, const std::string& conn_id, std::shared_ptr<gw::ws_peer> peer) {
        self->state.conn_id = conn_id;
        self->state.peer = std::move(peer);
        self->state.last_seq = 0;  // a reconnect starts a fresh counter
      },
      [=](detach_atom, const std::string& conn_id) {
        if (conn_id != self->state.conn_id) return;
        self->state.conn_id.clear();
        self->state.peer.reset();
      },
      [=](presence_atom, bool connected, std::shared_ptr<gw::ws_peer> desktop,
          const std::string& desktop_conn) {
        self->state.desktop_connected = connected;
        self->state.desktop = std::move(desktop);
        self->state.desktop_conn = desktop_conn;
      },
      [=](mframe_atom, mobile_msg& m) {
        if (m.conn_id != self->state.conn_id) {
          m.peer->drop();  // no longer the registered socket of this device
          return;
        }
        auto& f = m.frame;
        if (f.parsed && f.is_object && f.session_mismatch) return;  // silently dropped (§9.1)
        if ((f.gated || proto::is_e2ee_envelope(f.value)) && !self->state.desktop_connected) {
          // The session may have missed the desktop coming back (issue 12): it probes the
          // cluster, and a desktop_status true follows if the desktop is held elsewhere.
          auto t = now_of(ctx);
          if (self->state.last_gate_ms == 0 || t - self->state.last_gate_ms >= 500) {
            self->state.last_gate_ms = t;
            self->send(session, probe_atom::value);
          }
          return send_error(self, proto::relay_error::desktop_offline,
                            proto::err::desktop_offline_msg);
        }
        if (!f.parsed)
          return send_error(self, proto::relay_error::invalid_payload,
                            "Payload must be valid JSON.");
        if (!f.is_object)
          return send_error(self, proto::relay_error::invalid_payload,
                            "Payload must be a JSON object.");
        auto value = std::make_shared<proto::json>(std::move(f.value));
        if (f.kind == proto::mobile_kind::snapshot_request) {
          auto v = proto::validate_snapshot_request(*value);
          if (!v.ok()) return send_error(self, v.error, v.message);
          self->request(limiter, caf::infinite, snap_atom::value, device_id)
              .await(
                  [=](bool ok) {
                    if (!ok)
                      return send_error(self, proto::relay_error::snapshot_rate_limited,
                                        proto::err::snapshot_rate_msg);
                    forward(value);
                  },
                  limiter_failed);
          return;
        }
        uint64_t seq = 0;
        const bool e2ee = proto::is_e2ee_envelope(*value);  // docs/E2EE.md: outer shape only
        auto v = e2ee ? proto::validate_e2ee_envelope(*value, seq,
                                                      ctx->cfg.max_remote_command_text_bytes)
                      : proto::validate_command_envelope(*value, seq);
        if (!v.ok()) return send_error(self, v.error, v.message);
        if (seq <= self->state.last_seq)
          return send_error(self, proto::relay_error::replayed_command, proto::err::replayed_msg);
        self->state.last_seq = seq;
        self->request(limiter, caf::infinite, cmd_atom::value, device_id)
            .await(
                [=](bool device_ok, bool session_ok) {
                  if (!device_ok)
                    return send_error(self, proto::relay_error::command_rate_limited,
                                      proto::err::device_rate_msg);
                  if (!session_ok)
                    return send_error(self, proto::relay_error::command_rate_limited,
                                      proto::err::session_rate_msg);
                  auto rules = e2ee ? proto::verdict{}
                                    : proto::validate_command_rules(
                                          *value, ctx->cfg.max_remote_command_text_bytes);
                  if (!rules.ok()) return send_error(self, rules.error, rules.message);
                  forward(value);
                },
                limiter_failed);
      },
      [=](describe_atom) -> std::string {
        auto j = actor_info("device", self->id(), self->mailbox().size(), self->state.spawned_at,
                            now_of(ctx));
        j["deviceID"] = device_id;
        j["connected"] = static_cast<bool>(self->state.peer);
        j["lastSeq"] = self->state.last_seq;
        j["forwarded"] = self->state.forwarded;
        j["rejected"] = self->state.rejected;
        j["desktopConnected"] = self->state.desktop_connected;
        return j.dump();
      },
  };
}

}  // namespace

device_actor spawn_device(caf::local_actor* parent, context_ptr ctx, session_actor session,
                          session_limiter_actor limiter, std::string session_id,
                          std::string device_id, bool desktop_connected) {
  return parent->spawn<caf::linked>(device_impl, std::move(ctx), std::move(session),
                                    std::move(limiter), std::move(session_id), std::move(device_id),
                                    desktop_connected);
}

}  // namespace rc::actors
