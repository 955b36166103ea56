// Session actor, websocket auth unit (RELAY_PROTOCOL §6): desktop auth (socket replacement),
// mobile auth with token rotation (session_tokens; persisted before auth_ok, rolled back on
// failure) and the cross-node presence probe that precedes a phone's auth_ok.
#include "actors/cluster.hpp"
#include "actors/session_ops.hpp"
#include "protocol/tokens.hpp"
#include "protocol/url.hpp"

namespace rc::actors {

void session_ops::reject(auth_request& a, auth_failure why, bool policy) {
  reject_auth(ctx, a, why, policy);
}

void session_ops::accepted(auth_request& a, bool desktop, device_actor device,
                           const std::string& device_id) {
  ctx->metrics.ws_auth_successes.fetch_add(1);
  a.peer->mark_authenticated();
  auto h = a.handler;
  auth_grant g{desktop, caf::actor_cast<session_actor>(self), std::move(device), sid(), device_id};
  a.peer->post([h, g = std::move(g)] {
    if (auto hh = h.lock()) hh->authed(g);
  });
}

bool session_ops::over_capacity() {
  return ctx->metrics.active_websockets.load() >=
         static_cast<int64_t>(ctx->cfg.max_active_websocket_connections);
}

bool session_ops::origin_allowed(const gw::ws_peer& p) {
  for (const auto& o : ctx->cfg.allowed_origins)
    if (o == "*") return true;
  if (!p.has_origin()) return false;
  auto n = proto::normalize_origin(p.origin());
  if (!n) return false;
  for (const auto& o : ctx->cfg.allowed_origins)
    if (o == *n) return true;
  return false;
}

void session_ops::when_subscribed(std::function<void()> then) {
  // auth_ok only once this node receives the session's envelopes (pair requests, commands and
  // status from peers): nothing published right after auth_ok can miss this socket.
  push_routes();
  auto c = ctx;
  auto session_id = sid();
  self->request(st().cluster, std::chrono::seconds(2), sockets_atom::value, ack_atom::value, sid(),
                static_cast<bool>(st().desktop), static_cast<uint64_t>(st().mobiles.size()))
      .await(
          [this, then](std::string& counts) {
            // Phones on other nodes (last heartbeats) for a desktop's auth_ok count.
            if (st().desktop) {
              st().remote_mobiles.clear();
              auto j = proto::parse_untrusted(counts);
              if (j.is_object())
                for (auto& [id, n] : j.items())
                  if (n.is_number_unsigned() && st().remote_mobiles.size() < st().max_remote_counts)
                    st().remote_mobiles[id] =
                        std::min<uint64_t>(n.get<uint64_t>(), ctx->cfg.max_devices_per_session);
            }
            then();
          },
          [then, c, session_id](caf::error& e) {
            // Answer anyway: the socket works locally; peers' envelopes may be missed.
            c->log(log_level::warn, "session", "bus subscription not confirmed",
                   sid_field(session_id) + ",\"error\":" + json_str(caf::to_string(e)));
            then();
          });
}

void session_ops::auth_desktop(auth_request& a) {
  if (!st().initialized || st().closed)
    return reject(a, auth_failure::desktop_session_missing, true);
  if (!tokens().desktop_ok(a.token)) return reject(a, auth_failure::token_not_found, true);
  if (!st().desktop && over_capacity()) return reject(a, auth_failure::relay_over_capacity, false);
  if (st().desktop) {
    // Replace the old socket; its later close must not clear the new slot (§16.3 fix).
    auto old = std::move(st().desktop);
    st().desktop.reset();
    clear_routes(old, st().desktop_handler);
    old->disconnect(close_reason::desktop_reconnected);
  } else {
    ctx->metrics.active_websockets.fetch_add(1);
    ctx->metrics.sessions_with_desktop.fetch_add(1);
  }
  st().desktop = a.peer;
  st().desktop_conn = a.conn_id;
  st().desktop_handler = a.handler;
  touch();
  st().remote_desktop = false;
  st().remote_desktop_instance.clear();
  auto done = [this, a]() mutable {
    accepted(a, true, device_actor{}, {});
    send_text(st().desktop, proto::msg_auth_ok_desktop(sid(), device_count()));
    // Device actors learn the new desktop only now: a phone command they forward can no longer
    // reach the desktop's socket ahead of its auth_ok (ack first, then what it causes).
    tell_presence(true);
    auto status = std::make_shared<const std::string>(proto::msg_desktop_status(sid(), true));
    std::vector<std::shared_ptr<gw::ws_peer>> phones;
    for (auto& [cid, slot] : st().mobiles) phones.push_back(slot.peer);
    send_after(st().desktop, std::move(phones), status);
    publish(target::mobile, *status);
    persist();
  };
  if (!bus()) {
    // auth_ok is queued on the phone's socket before the desktop's route table lists it: the
    // desktop's strand forwards straight to listed phones, so the other order let a desktop
    // frame overtake the phone's auth_ok (found by the churn soak; §6.3 auth_ok answers
    // relay.auth). With a bus, await() holds the mailbox until done(), so nothing overtakes.
    done();
    return report_sockets();
  }
  when_subscribed(done);
}

void session_ops::auth_mobile(auth_request& a, const std::string& device_id) {
  if (!st().initialized || st().closed)
    return reject(a, auth_failure::mobile_session_missing, true);
  bool same_device = st().device_conn.count(device_id) > 0;
  if (!same_device && over_capacity()) return reject(a, auth_failure::relay_over_capacity, false);
  if (!origin_allowed(*a.peer)) return reject(a, auth_failure::mobile_origin_not_allowed, false);
  auto it = st().rec.devices.find(device_id);
  int64_t n = now();
  bool accepted_here =
      it != st().rec.devices.end() && session_tokens::device_accepts(it->second, a.token, n);
  if (!accepted_here && bus() && st().reread_conn != a.conn_id) {
    // The broker's index routed this token here (a reload indexed it), but this copy does not
    // know it: the copy is stale (its merge was skipped or is still on its way). Re-read the
    // stored record once and decide on it, instead of a 1008 that unpairs the phone (found by
    // scripts/chaos.sh: phones refused device_record_missing after two node kills).
    st().reread_conn = a.conn_id;
    auto req = std::make_shared<auth_request>(std::move(a));
    self->request(store, std::chrono::seconds(5), load_atom::value, sid())
        .then(
            [this, req, device_id](load_reply& lr) {
              if (lr.status == store_status::ok && !st().closed)
                adopt_stored(lr.record, lr.version);
              auth_mobile(*req, device_id);
            },
            [this, req, device_id](caf::error&) { auth_mobile(*req, device_id); });
    return;
  }
  if (it == st().rec.devices.end()) return reject(a, auth_failure::device_not_registered, true);
  auto& d = it->second;
  if (!accepted_here) return reject(a, auth_failure::device_record_missing, true);
  if (same_device) remove_mobile(st().device_conn[device_id], close_reason::device_reconnected);
  if (st().mobiles.size() >= ctx->cfg.max_devices_per_session)
    return reject(a, auth_failure::device_cap_reached, false);
  // Rotation: the token that was current becomes a grace token (or dies when grace is 0).
  std::string next = proto::random_token(proto::token_bytes);
  auto rot = tokens().rotate(d, device_id, next, n,
                             static_cast<int64_t>(ctx->cfg.token_rotation_grace_ms));
  touch();
  ++st().version;
  auto req = std::make_shared<auth_request>(std::move(a));
  auto before = std::move(rot.before);
  auto ops = std::move(rot.ops);
  auto rollback = [this, device_id, before] {
    if (auto dev = st().rec.devices.find(device_id); dev != st().rec.devices.end())
      dev->second = before;
  };
  // The rotation must be persisted before auth_ok; on failure it is rolled back (§6.3.4).
  // A conflict with another node's write is merged by the store actor (compare-and-set).
  auto copy = std::make_shared<const persistence::session_record>(st().rec);
  self->request(store, std::chrono::seconds(5), save_atom::value, rotated_atom::value,
                store_write{st().rec, st().version, false, st().base})
      .await(
          [=](write_reply& r) mutable {
            if (r.status != store_status::ok) {
              st().version = std::max(st().version, r.version);
              rollback();
              return reject(*req, auth_failure::token_rotation_persist_failed, false);
            }
            written(*copy, r);
            after_rotation(req, device_id, next, ops);
          },
          [=](caf::error& e) mutable {
            ctx->log(log_level::warn, "session", "token rotation not persisted",
                     sid_field(sid()) + ",\"error\":" + json_str(caf::to_string(e)));
            rollback();
            reject(*req, auth_failure::token_rotation_persist_failed, false);
          });
}

/// Rotation persisted: peers reload the tokens; presence is resolved (probe) before auth_ok.
void session_ops::after_rotation(std::shared_ptr<auth_request> req, const std::string& device_id,
                                 const std::string& next, std::vector<index_op> ops) {
  publish_control(target::session_refresh, refresh_payload());
  if (st().desktop || st().remote_desktop || !bus())
    return finish_mobile_auth(*req, device_id, next, ops);
  pending_probe p{++st().probe_seq, std::move(req), device_id, next, std::move(ops)};
  probe_presence();
  self->delayed_send(self, std::chrono::milliseconds(150), probe_atom::value, p.id);
  st().probes.push_back(std::move(p));
}

/// Completes the waiting mobile auths (all, or only probe `id`).
void session_ops::finish_probes(std::optional<uint64_t> id) {
  auto& v = st().probes;
  std::vector<pending_probe> done;
  for (auto it = v.begin(); it != v.end();) {
    if (!id || it->id == *id) {
      done.push_back(std::move(*it));
      it = v.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& p : done) finish_mobile_auth(*p.req, p.device_id, p.next, p.ops);
}

void session_ops::finish_mobile_auth(auth_request& a, const std::string& device_id,
                                     const std::string& next, std::vector<index_op>& ops) {
  if (st().closed || !st().rec.devices.count(device_id))
    return reject(a, auth_failure::device_record_missing, true);
  index(std::move(ops));
  std::size_t before = st().mobiles.size();
  st().mobiles[a.conn_id] = mobile_slot{device_id, a.peer};
  st().device_conn[device_id] = a.conn_id;
  ctx->metrics.active_websockets.fetch_add(1);
  update_mobile_gauge(before);
  auto dev = st().device_actors[device_id];
  if (!dev) {
    spawn_device(device_id);
    dev = st().device_actors[device_id];
  }
  self->send(dev, attach_atom::value, a.conn_id, a.peer);
  auto done = [this, a, dev, device_id, next]() mutable {
    accepted(a, false, dev, device_id);
    send_text(a.peer, proto::msg_auth_ok_mobile(sid(), device_id, next, st().mobiles.size(),
                                                desktop_present()));
    device_count_to_desktop(a.peer);
    // The presence probe ran before this node subscribed the session's subject: a desktop that
    // authenticated on a peer in between announced itself to nobody here (issue 12 chaos test).
    // Asked again now, either its node answers or its next desktop_status reaches us.
    if (bus() && !desktop_present()) probe_presence();
  };
  if (!bus()) {
    // auth_ok is queued on the phone's socket before the desktop's route table lists it: the
    // desktop's strand forwards straight to listed phones, so the other order let a desktop
    // frame overtake the phone's auth_ok (found by the churn soak; §6.3 auth_ok answers
    // relay.auth). With a bus, await() holds the mailbox until done(), so nothing overtakes.
    done();
    return report_sockets();
  }
  // With a bus, auth_ok waits until this node is subscribed to the session's subject, so
  // nothing published for this phone right after it is told auth_ok can miss it.
  when_subscribed(done);
}

}  // namespace rc::actors
