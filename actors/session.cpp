// Session actor: one per sessionID. Owns the session record, the desktop socket, the mobile
// sockets, the pending pairing request and the device actors. Desktop→phone frames normally take
// zero actor hops (the desktop's conn_handler writes them onto the phones' queues, see
// push_routes); with a bus, or before the route table arrives, they pass through this actor.
// This unit: the behavior, socket bookkeeping, routing, presence and close. See session_ops.hpp.
#include <algorithm>

#include "actors/cluster.hpp"
#include "actors/session_ops.hpp"
#include "protocol/time.hpp"
#include "protocol/tokens.hpp"

namespace rc::actors {

void session_ops::clear_routes(const std::shared_ptr<gw::ws_peer>& peer,
                               std::weak_ptr<gw::ws_link> h) {
  peer->post([h] {
    if (auto hh = h.lock()) hh->set_routes(nullptr);
  });
}

session_state::~session_state() {
  if (closed || !ctx) return;
  auto& m = ctx->metrics;
  for (auto& [cid, slot] : mobiles) {
    slot.peer->disconnect(close_reason::server_shutdown);
    m.active_websockets.fetch_sub(1);
  }
  if (!mobiles.empty()) m.sessions_with_mobile.fetch_sub(1);
  if (desktop) {
    desktop->disconnect(close_reason::server_shutdown);
    m.active_websockets.fetch_sub(1);
    m.sessions_with_desktop.fetch_sub(1);
  }
  if (pending) {
    m.pending_join_waiters.fetch_sub(1);
    reply_error(pending->responder, 409, "desktop_not_connected", desktop_gone_msg);
  }
}

void session_ops::index(std::vector<index_op> ops) {
  if (!ops.empty()) self->send(broker, index_atom::value, std::move(ops));
}

/// Desktop presence for the device actors. Without a bus they also get the desktop socket and
/// deliver validated commands to it directly (one hop less on phone→desktop).
void session_ops::presence_to(const device_actor& device, bool connected) {
  bool direct = connected && st().desktop && !bus();
  self->send(device, presence_atom::value, connected,
             direct ? st().desktop : std::shared_ptr<gw::ws_peer>{},
             direct ? st().desktop_conn : std::string{});
}

void session_ops::tell_presence(bool connected) {
  for (auto& [id, a] : st().device_actors) presence_to(a, connected);
}

void session_ops::persist() {
  persist_then(nullptr);
}

void session_ops::persist_then(std::function<void(store_status)> then) {
  ++st().version;
  auto done = [=](store_status status) {
    if (status == store_status::ok) publish_control(target::session_refresh, refresh_payload());
    if (then) then(status);
  };
  auto session_id = sid();
  auto c = ctx;
  auto copy = std::make_shared<const persistence::session_record>(st().rec);
  ++st().writes_inflight;
  auto me = self;
  auto answered = [me, c] {
    --me->state.writes_inflight;
    me->state.last_store_io_ms = now_of(c);
  };
  self->request(store, std::chrono::seconds(5), save_atom::value, rotated_atom::value,
                store_write{st().rec, st().version, false, st().base})
      .then(
          [=](write_reply& r) {
            answered();
            written(*copy, r);
            done(r.status);
          },
          [=](caf::error& e) {
            answered();
            // The in-memory state stays authoritative; peers still reload what is stored.
            c->log(log_level::warn, "session", "persist request failed",
                   sid_field(session_id) + ",\"error\":" + json_str(caf::to_string(e)));
            done(store_status::unavailable);
          });
}

void session_ops::written(const persistence::session_record& rec, write_reply& r) {
  if (st().closed) return;
  st().version = std::max(st().version, r.version);
  if (r.status != store_status::ok || r.version <= st().base_version) return;
  if (!r.merged) {
    st().base = rec;
    st().base_version = r.version;
    return;
  }
  // Another node wrote meanwhile: the store wrote the merge; fold its changes in here.
  auto next = persistence::merge3(rec, st().rec, *r.merged);
  st().base = std::move(*r.merged);
  st().base_version = r.version;
  apply_record(std::move(next));
}

void session_ops::send_text(const std::shared_ptr<gw::ws_peer>& p, std::string text) {
  if (p) p->send(std::make_shared<const std::string>(std::move(text)));
}

void session_ops::spawn_device(const std::string& device_id) {
  // The limiter is only needed once the session has a device (idle sessions stay small).
  if (!st().limiter) st().limiter = spawn_session_limiter(self, ctx, sid());
  auto a = rc::actors::spawn_device(self, ctx, caf::actor_cast<session_actor>(self), st().limiter,
                                    sid(), device_id, desktop_present());
  st().device_actors[device_id] = a;
  presence_to(a, desktop_present());
}

void session_ops::kill_device(const std::string& device_id) {
  auto it = st().device_actors.find(device_id);
  if (it == st().device_actors.end()) return;
  self->send_exit(it->second, caf::exit_reason::user_shutdown);
  st().device_actors.erase(it);
  if (st().limiter) self->send(st().limiter, drop_atom::value, device_id);
}

void session_ops::update_mobile_gauge(std::size_t before) {
  std::size_t after = st().mobiles.size();
  if (before == 0 && after > 0) ctx->metrics.sessions_with_mobile.fetch_add(1);
  if (before > 0 && after == 0) ctx->metrics.sessions_with_mobile.fetch_sub(1);
}

/// Zero-hop hot path: the desktop's connection gets the current mobile sockets and forwards
/// frames to them itself, on its own strand. Only without a bus (a cluster needs the session to
/// publish to other nodes) and only for the registered desktop socket.
void session_ops::push_routes() {
  if (!st().desktop || bus()) return;
  auto table = std::make_shared<gw::route_table>();
  table->reserve(st().mobiles.size());
  for (auto& [cid, slot] : st().mobiles) table->push_back(gw::mobile_route{cid, slot.peer});
  auto h = st().desktop_handler;
  st().desktop->post([h, table] {
    if (auto hh = h.lock()) hh->set_routes(table);
  });
}

std::size_t session_ops::device_count() {
  std::size_t n = st().mobiles.size();
  for (auto& [instance, count] : st().remote_mobiles) n += count;
  return n;
}

/// The desktop here gets the cluster-wide count; a node without it publishes its local count
/// (the desktop's node sums them per source node, see from_bus).
void session_ops::send_after(const std::shared_ptr<gw::ws_peer>& first,
                             std::vector<std::shared_ptr<gw::ws_peer>> to, text_ptr text) {
  if (to.empty()) return;
  auto deliver = [to = std::move(to), text] {
    for (auto& p : to) p->send(text);
  };
  if (first)
    first->post(std::move(deliver));
  else
    deliver();
}

void session_ops::device_count_to_desktop(const std::shared_ptr<gw::ws_peer>& after) {
  if (st().desktop)
    send_after(after, {st().desktop},
               std::make_shared<const std::string>(proto::msg_device_count(sid(), device_count())));
  else
    publish(target::desktop, proto::msg_device_count(sid(), st().mobiles.size()));
}

/// Removes a registered mobile socket (without touching its device record).
void session_ops::remove_mobile(std::string conn_id, std::optional<close_reason> reason) {
  auto it = st().mobiles.find(conn_id);
  if (it == st().mobiles.end()) return;
  std::size_t before = st().mobiles.size();
  auto slot = std::move(it->second);
  st().mobiles.erase(it);
  st().device_conn.erase(slot.device_id);
  ctx->metrics.active_websockets.fetch_sub(1);
  update_mobile_gauge(before);
  if (auto d = st().device_actors.find(slot.device_id); d != st().device_actors.end())
    self->send(d->second, detach_atom::value, conn_id);
  if (reason) slot.peer->disconnect(*reason);
  report_sockets();
}

void session_ops::remove_desktop(std::optional<close_reason> reason) {
  if (!st().desktop) return;
  auto peer = std::move(st().desktop);
  st().desktop.reset();
  st().desktop_conn.clear();
  st().remote_mobiles.clear();  // peers re-report when the desktop is back (desktop_status)
  clear_routes(peer, st().desktop_handler);
  ctx->metrics.active_websockets.fetch_sub(1);
  ctx->metrics.sessions_with_desktop.fetch_sub(1);
  if (reason) peer->disconnect(*reason);
  report_sockets();
}

void session_ops::desktop_lost() {
  fail_join(409, "desktop_not_connected", desktop_gone_msg);
  // Device actors learn first: a phone that reacts to the status must hit the offline gate.
  tell_presence(false);
  auto status = std::make_shared<const std::string>(proto::msg_desktop_status(sid(), false));
  for (auto& [cid, slot] : st().mobiles) slot.peer->send(status);
  if (!st().closed) publish(target::mobile, *status);
}

void session_ops::slow_consumer(const std::shared_ptr<gw::ws_peer>& peer) {
  ctx->io->slow_consumer_disconnects.fetch_add(1);
  ctx->log(log_level::warn, "session", "slow_consumer_disconnect", sid_field(sid()));
  peer->disconnect(close_reason::slow_consumer);
}

void session_ops::slow_mobile(const std::string& conn_id) {
  auto it = st().mobiles.find(conn_id);
  if (it == st().mobiles.end()) return;
  auto peer = it->second.peer;
  remove_mobile(conn_id, std::nullopt);
  slow_consumer(peer);
  device_count_to_desktop();
}

void session_ops::slow_desktop() {
  auto peer = st().desktop;
  remove_desktop(std::nullopt);
  slow_consumer(peer);
  desktop_lost();
  persist();
}

void session_ops::to_mobiles(const text_ptr& text) {
  std::vector<std::string> slow;
  for (auto& [cid, slot] : st().mobiles) {
    if (!slot.peer->send(text))
      slow.push_back(cid);
    else
      ++st().to_mobiles;
  }
  for (auto& cid : slow) slow_mobile(cid);
}

/// Ends the session: sockets told `reason`, tokens unindexed, children stopped.
void session_ops::close(close_reason reason, bool delete_record) {
  if (st().closed) return;
  st().closed = true;
  std::vector<std::string> conns;
  for (auto& [cid, slot] : st().mobiles) conns.push_back(cid);
  for (auto& cid : conns) remove_mobile(cid, reason);
  remove_desktop(reason);
  fail_join(409, "desktop_not_connected", desktop_gone_msg);
  if (st().initialized) index(tokens().all(false));
  if (delete_record && st().initialized) {
    ++st().version;
    self->send(store, save_atom::value, store_write{st().rec, st().version, true, st().base});
    // Peers close their copies too (never on shutdown drain: state survives restarts).
    publish(target::desktop, proto::msg_disconnect(reason));
    publish(target::mobile, proto::msg_disconnect(reason));
  }
  for (auto& p : st().probes) reject(*p.req, auth_failure::mobile_session_missing, true);
  st().probes.clear();
  for (auto& [id, a] : st().device_actors) self->send_exit(a, caf::exit_reason::user_shutdown);
  st().device_actors.clear();
  if (st().limiter) self->send_exit(st().limiter, caf::exit_reason::user_shutdown);
  ctx->metrics.close_session(reason);
  ctx->log(log_level::info, "session", "session_closed",
           sid_field(sid()) + ",\"reason\":" + json_str(proto::to_string(reason)));
  // Stay as a tombstone until the broker has forgotten us: everything it forwarded before
  // that (FIFO) is answered as for an unknown session instead of being lost.
  auto me = self;
  auto c = ctx;
  auto session_id = sid();
  self->request(broker, caf::infinite, closed_atom::value, sid())
      .then([me](bool) { me->quit(caf::exit_reason::user_shutdown); },
            [me, c, session_id](caf::error& e) {
              c->log(log_level::warn, "session", "broker did not confirm the close",
                     sid_field(session_id) + ",\"error\":" + json_str(caf::to_string(e)));
              me->quit(caf::exit_reason::user_shutdown);
            });
}

void session_ops::vanished(int64_t started) {
  if (st().closed || !st().initialized) return;
  if (st().desktop || !st().mobiles.empty() || st().pending) return;  // RELAY_PROTOCOL §7.4
  if (st().writes_inflight > 0 || st().last_store_io_ms >= started) return;
  ctx->log(log_level::info, "session", "session missing from the store after a forced reload",
           sid_field(sid()));
  close(close_reason::removed_from_persistence, false);
}

void session_ops::sweep() {
  if (!st().initialized) return;
  int64_t n = now();
  auto idx = tokens().prune_all(n);
  if (!idx.empty()) {
    index(std::move(idx));
    persist();
  }
  auto& r = st().rec;
  if (st().desktop || !st().mobiles.empty()) return;
  if (st().remote_desktop) return;  // alive on another node (§5.7 quirk fixed)
  std::optional<close_reason> why;
  if (!r.devices.empty()) {
    // Trusted devices keep a session past its idle timeout (the reference keeps it forever);
    // abandoned ones are bounded by TRUSTED_SESSION_IDLE_MS (issue 10 item 8).
    auto limit = ctx->cfg.trusted_session_idle_ms;
    if (limit == 0 || n - r.last_activity_at_ms < static_cast<int64_t>(limit)) return;
    why = close_reason::idle_timeout;
  } else {
    int64_t idle_ms = static_cast<int64_t>(std::max<uint64_t>(r.idle_timeout_seconds, 60)) * 1000;
    if (n - r.last_activity_at_ms >= idle_ms)
      why = close_reason::idle_timeout;
    else if (n - r.created_at_ms >= static_cast<int64_t>(ctx->cfg.session_retention_ms))
      why = close_reason::retention_expired;
  }
  if (!why) return;
  if (!bus()) return close(*why, true);
  // With a bus: a session whose sockets live on another node is only forgotten here (no
  // delete from the store, no disconnect broadcast).
  auto reason = *why;
  auto me = self;
  auto c = ctx;
  self->request(st().cluster, std::chrono::seconds(2), held_atom::value, sid())
      .then(
          [this, me, reason](bool elsewhere) {
            auto& s = me->state;
            if (s.desktop || !s.mobiles.empty()) return;
            close(elsewhere ? close_reason::unloaded : reason, !elsewhere);
          },
          [me, c](caf::error& e) {
            // Unknown whether a peer holds it: keep the session; the next sweep asks again.
            c->log(
                log_level::warn, "session", "held query failed; sweep deferred",
                sid_field(me->state.rec.session_id) + ",\"error\":" + json_str(caf::to_string(e)));
          });
}

caf::result<std::string> session_ops::describe() {
  auto& s = st();
  auto j = actor_info("session", self->id(), self->mailbox().size(), s.spawned_at, now());
  j["sessionID"] = proto::redact_id(s.rec.session_id);
  j["state"] = s.closed ? "closed" : s.initialized ? "active" : "new";
  j["desktopConnected"] = static_cast<bool>(s.desktop);
  j["mobileSockets"] = s.mobiles.size();
  j["trustedDevices"] = s.rec.devices.size();
  j["pendingJoin"] = static_cast<bool>(s.pending);
  j["framesToMobiles"] = s.to_mobiles;
  j["framesToDesktop"] = s.to_desktop;
  j["lastActivityAt"] = proto::format_rfc3339_ms(s.rec.last_activity_at_ms);
  std::vector<describable_actor> kids;
  for (auto& [id, a] : s.device_actors) kids.push_back(a);
  if (s.limiter) kids.push_back(s.limiter);
  return describe_with_children(self, std::move(j), kids, std::chrono::seconds(1));
}

namespace {

session_actor::behavior_type session_impl(session_ptr self, context_ptr ctx, broker_actor broker,
                                          store_actor store, std::string session_id) {
  self->state.spawned_at = now_of(ctx);
  self->state.ctx = ctx;
  self->state.rec.session_id = session_id;
  ctx->metrics.sessions.fetch_add(1);
  self->attach_functor([ctx] { ctx->metrics.sessions.fetch_sub(1); });
  auto ops = std::make_shared<session_ops>(session_ops{self, ctx, broker, store});
  // Supervision of the children (devices, limiter; linked): stopping them on purpose is normal.
  // A child that fails takes the session down with it (one-for-all); the broker then restarts
  // the session from its persisted record, and its sockets are told to reconnect.
  self->set_exit_handler([self, ctx](caf::exit_msg& m) {
    if (!m.reason || m.reason == caf::exit_reason::user_shutdown ||
        m.reason == caf::exit_reason::normal)
      return;
    ctx->log(
        log_level::error, "session", "child actor failed; restarting the session",
        sid_field(self->state.rec.session_id) + ",\"error\":" + json_str(caf::to_string(m.reason)));
    self->quit(m.reason);
  });
  return {
      [=](api_atom, api_call& c) { ops->api(c); },
      [=](restore_atom, session_record& rec, uint64_t version) { ops->restore(rec, version); },
      [=](merge_atom, session_record& rec, uint64_t version) { ops->merge(rec, version); },
      [=](reload_atom, int64_t started) { ops->vanished(started); },
      // The store lost its data (broker: epoch marker changed): this record is written again.
      [=](writeback_atom) {
        if (self->state.initialized && !self->state.closed) ops->persist();
      },
      [=](version_atom, uint64_t v) { self->state.version = std::max(self->state.version, v); },
      // The bus actor, at spawn or after the supervisor restarted it: a new bus actor knows
      // nothing of our sockets, so they are reported again (it subscribes our subject).
      [=](cluster_atom, cluster_actor cluster) {
        auto& st = self->state;
        st.cluster = std::move(cluster);
        if (st.desktop || !st.mobiles.empty()) ops->report_sockets();
      },
      [=](bus_atom, bus_envelope& e) { ops->from_bus(e); },
      [=](probe_atom, uint64_t id) { ops->finish_probes(id); },
      [=](probe_atom) { ops->gate_probe(); },
      [=](gone_atom, const std::string& instance) {
        auto& st = self->state;
        if (st.remote_desktop && st.remote_desktop_instance == instance)
          ops->set_remote_desktop(false, {}, true);
        if (st.remote_mobiles.erase(instance) > 0 && st.desktop) ops->device_count_to_desktop();
      },
      [=](announce_atom, const std::string&) { ops->announce(); },
      [=](undeliv_atom, const std::string& device_id) { ops->undelivered(device_id); },
      [=](busstate_atom, bool up) {
        if (!up) ops->set_remote_desktop(false, {}, true);  // no-op with a local desktop
      },
      [=](auth_atom, auth_request& a, bool desktop, const std::string& device_id) {
        if (desktop)
          ops->auth_desktop(a);
        else
          ops->auth_mobile(a, device_id);
      },
      [=](dframe_atom, desktop_msg& m) {
        if (m.conn_id != self->state.desktop_conn) {
          m.peer->drop();
          return;
        }
        ops->to_mobiles(m.text);
        ops->publish(target::mobile, *m.text);  // phones on other nodes
      },
      // A mobile socket refused a frame on the zero-hop path: it is a slow consumer.
      [=](slow_atom, const std::string& conn_id) { ops->slow_mobile(conn_id); },
      // The desktop socket refused a command delivered directly by a device actor.
      [=](slowdesk_atom, const std::string& conn_id) {
        auto& st = self->state;
        if (st.desktop && conn_id == st.desktop_conn) ops->slow_desktop();
      },
      [=](todesk_atom, text_ptr& text, const std::string& device_id) {
        auto& st = self->state;
        if (!st.desktop) {
          // On a peer: its node confirms delivery; here and nowhere: the phone is told.
          if (st.remote_desktop)
            ops->publish_command(*text, device_id);
          else
            ops->undelivered(device_id);
          return;
        }
        if (st.desktop->send(std::move(text))) {
          ++st.to_desktop;
          return;
        }
        ops->slow_desktop();
      },
      [=](decide_atom, const std::string& conn_id, bool has_request_id,
          const std::string& request_id, bool approved) {
        if (conn_id != self->state.desktop_conn || !has_request_id) return;
        ops->decide(request_id, approved);
      },
      [=](timeout_atom, uint64_t join_id) {
        if (self->state.pending && self->state.pending->id == join_id)
          ops->fail_join(408, "pair_request_timed_out", "Desktop pairing approval timed out.");
      },
      [=](detach_atom, const std::string& conn_id) {
        auto& st = self->state;
        if (conn_id == st.desktop_conn && st.desktop) {
          ops->remove_desktop(std::nullopt);
          ops->touch();
          ops->desktop_lost();
          ops->persist();
          return;
        }
        if (st.mobiles.count(conn_id)) {
          ops->remove_mobile(conn_id, std::nullopt);
          ops->touch();
          ops->device_count_to_desktop();
        }
      },
      [=](sweep_atom) { ops->sweep(); },
      [=](close_atom, close_reason reason, bool delete_record) {
        ops->close(reason, delete_record);
      },
      [=](describe_atom) { return ops->describe(); },
  };
}

}  // namespace

session_actor spawn_session(caf::local_actor* parent, context_ptr ctx, broker_actor broker,
                            store_actor store, std::string session_id) {
  return parent->spawn<caf::monitored>(session_impl, std::move(ctx), std::move(broker),
                                       std::move(store), std::move(session_id));
}

}  // namespace rc::actors
