// Session actor: one per sessionID. Owns the session record, the desktop socket, the mobile
// sockets, the pending pairing request and the device actors; routes desktop→mobile frames in
// one hop (this actor) straight onto the mobiles' bounded socket queues.
#include <algorithm>
#include <map>

#include "actors/actors.hpp"
#include "actors/cluster.hpp"
#include "actors/common.hpp"
#include "protocol/time.hpp"
#include "protocol/tokens.hpp"
#include "protocol/url.hpp"

namespace rc::actors {

namespace {
constexpr std::size_t max_retired_tokens = 8;
const char* desktop_gone_msg = "Desktop disconnected before pairing could be approved.";
}  // namespace

struct mobile_slot {
  std::string device_id;
  std::shared_ptr<gw::ws_peer> peer;
};

struct pending_join {
  uint64_t id = 0;
  std::string request_id;
  std::string join_token;
  std::shared_ptr<gw::http_responder> responder;
  std::optional<std::string> device_name;
  int64_t expires_at = 0;
};

/// A mobile auth waiting for the cross-node presence probe (§6.3 step 5).
struct pending_probe {
  uint64_t id = 0;
  std::shared_ptr<auth_request> req;
  std::string device_id, next;
  std::vector<index_op> ops;
};

struct session_state {
  bool initialized = false;
  bool closed = false;
  persistence::session_record rec;
  uint64_t version = 0;
  std::string desktop_conn;
  std::shared_ptr<gw::ws_peer> desktop;
  std::weak_ptr<gw::ws_link> desktop_handler;     ///< receives the zero-hop mobile route table
  std::map<std::string, mobile_slot> mobiles;       // conn id → slot
  std::map<std::string, caf::actor> device_actors;  // device id → actor
  std::map<std::string, std::string> device_conn;   // device id → conn id
  std::optional<pending_join> pending;
  uint64_t join_seq = 0;
  caf::actor limiter;
  int64_t spawned_at = 0;
  uint64_t to_mobiles = 0, to_desktop = 0;
  // ---- multi-node (cluster.hpp) ----
  caf::actor cluster;                   ///< empty without NATS
  bool remote_desktop = false;          ///< a peer holds the desktop socket (learned via bus)
  std::string remote_desktop_instance;  ///< ... and which peer
  std::vector<pending_probe> probes;
  uint64_t probe_seq = 0;
  context_ptr ctx;  ///< for the emergency cleanup below
  static inline const char* name = "session";

  /// Runs however the actor ends. After a normal close() there is nothing left; after an
  /// abnormal end (exception, kill) the sockets are told to reconnect and every gauge the
  /// session held is released, so admission counts never leak. The broker restarts the
  /// session from the store.
  ~session_state() {
    if (closed || !ctx) return;
    auto& m = ctx->metrics;
    for (auto& [cid, slot] : mobiles) {
      slot.peer->disconnect(proto::close_reason::server_shutdown);
      m.active_websockets.fetch_sub(1);
    }
    if (!mobiles.empty()) m.sessions_with_mobile.fetch_sub(1);
    if (desktop) {
      desktop->disconnect(proto::close_reason::server_shutdown);
      m.active_websockets.fetch_sub(1);
      m.sessions_with_desktop.fetch_sub(1);
    }
    if (pending) {
      m.pending_join_waiters.fetch_sub(1);
      pending->responder->respond(
          409,
          R"({"error":"desktop_not_connected","message":"Desktop disconnected before pairing could be approved."})");
    }
  }
};

using session_ptr = caf::stateful_actor<session_state>*;

namespace {

struct session_ops {
  session_ptr self;
  context_ptr ctx;
  caf::actor broker;
  caf::actor store;

  session_state& st() { return self->state; }
  const std::string& sid() { return st().rec.session_id; }
  int64_t now() { return now_of(ctx); }

  void touch() { st().rec.last_activity_at_ms = now(); }

  // ---- multi-node hooks (no-ops without a bus) ----------------------------------------------
  bool bus() { return static_cast<bool>(st().cluster); }
  bool desktop_present() { return st().desktop || st().remote_desktop; }

  void publish(bool control, const char* tgt, std::string payload,
               std::optional<std::string> device = {}) {
    if (bus())
      self->send(st().cluster, publish_atom::value, control,
                 make_envelope(sid(), tgt, std::move(payload), std::move(device)));
  }

  std::string refresh_payload() {
    return proto::json{{"type", "relay.session_refresh"}, {"sessionID", sid()}}.dump();
  }

  /// Tells the cluster actor how many local sockets we hold (it (un)subscribes the subject).
  void report_sockets() {
    push_routes();
    if (!bus()) return;
    self->send(st().cluster, sockets_atom::value, sid(), static_cast<bool>(st().desktop),
               static_cast<uint64_t>(st().mobiles.size()));
    if (!st().desktop && st().mobiles.empty()) {  // unsubscribed: remote presence unknown
      st().remote_desktop = false;
      st().remote_desktop_instance.clear();
    }
  }

  /// Remote presence changes (desktop_status from a peer, probe answer, member gone).
  void set_remote_desktop(bool v, const std::string& instance, bool tell_mobiles) {
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

  /// Persists, then (once the write is done) tells peers to reload and runs `then`.
  void persist_then(std::function<void()> then) {
    ++st().version;
    auto done = [=] {
      publish(true, target::session_refresh, refresh_payload());
      if (then) then();
    };
    self->request(store, std::chrono::seconds(5), save_atom::value, rotated_atom::value,
                  store_write{st().rec, st().version, false})
        .then([=](int) { done(); }, [=](caf::error&) { done(); });
  }

  void index(std::vector<index_op> ops) {
    if (!ops.empty()) self->send(broker, index_atom::value, std::move(ops));
  }

  std::vector<index_op> device_token_ops(const std::string& device_id,
                                         const persistence::device_record& d, bool add) {
    std::vector<index_op> ops;
    auto op = [&](const std::string& tok, int64_t exp) {
      index_op o;
      o.kind = add ? index_op::add_device : index_op::remove;
      o.token = tok;
      o.session_id = sid();
      o.device_id = device_id;
      o.expires_at_ms = exp;
      ops.push_back(std::move(o));
    };
    op(d.current_session_token, 0);
    for (const auto& r : d.retired_session_tokens) op(r.token, r.expires_at_ms);
    return ops;
  }

  std::vector<index_op> all_token_ops(bool add) {
    std::vector<index_op> ops;
    index_op d;
    d.kind = add ? index_op::add_desktop : index_op::remove;
    d.token = st().rec.desktop_session_token;
    d.session_id = sid();
    ops.push_back(d);
    for (const auto& [id, dev] : st().rec.devices) {
      auto more = device_token_ops(id, dev, add);
      ops.insert(ops.end(), more.begin(), more.end());
    }
    return ops;
  }

  /// Desktop presence for the device actors. Without a bus they also get the desktop socket and
  /// deliver validated commands to it directly (one hop less on phone→desktop).
  void presence_to(const caf::actor& device, bool connected) {
    bool direct = connected && st().desktop && !bus();
    self->send(device, presence_atom::value, connected,
               direct ? st().desktop : std::shared_ptr<gw::ws_peer>{},
               direct ? st().desktop_conn : std::string{});
  }
  void tell_presence(bool connected) {
    for (auto& [id, a] : st().device_actors) presence_to(a, connected);
  }

  void persist() {
    ++st().version;
    self->send(store, save_atom::value, store_write{st().rec, st().version, false});
  }

  void send_text(const std::shared_ptr<gw::ws_peer>& p, std::string text) {
    if (p) p->send(std::make_shared<const std::string>(std::move(text)));
  }

  void finish_join(int status, const proto::json& body) {
    if (!st().pending) return;
    ctx->metrics.pending_join_waiters.fetch_sub(1);
    reply_json(st().pending->responder, status, body);
    st().pending.reset();
  }

  void fail_join(int status, const char* code, const std::string& msg) {
    if (!st().pending) return;
    ctx->log(
        log_level::info, "session", "pair_join_failure",
        ",\"code\":" + json_str(code) + ",\"status\":" + std::to_string(status) + sid_field(sid()));
    finish_join(status, proto::json{{"error", code}, {"message", msg}});
  }

  void spawn_device(const std::string& device_id) {
    // The limiter is only needed once the session has a device (idle sessions stay small).
    if (!st().limiter) st().limiter = spawn_session_limiter(self, ctx, sid());
    auto a = rc::actors::spawn_device(self, ctx, caf::actor_cast<caf::actor>(self), st().limiter,
                                      sid(), device_id, desktop_present());
    st().device_actors[device_id] = a;
    presence_to(a, desktop_present());
  }

  void kill_device(const std::string& device_id) {
    auto it = st().device_actors.find(device_id);
    if (it == st().device_actors.end()) return;
    self->send_exit(it->second, caf::exit_reason::user_shutdown);
    st().device_actors.erase(it);
    if (st().limiter) self->send(st().limiter, drop_atom::value, device_id);
  }

  void update_mobile_gauge(std::size_t before) {
    std::size_t after = st().mobiles.size();
    if (before == 0 && after > 0) ctx->metrics.sessions_with_mobile.fetch_add(1);
    if (before > 0 && after == 0) ctx->metrics.sessions_with_mobile.fetch_sub(1);
  }

  /// Zero-hop hot path: the desktop's connection gets the current mobile sockets and forwards
  /// frames to them itself, on its own strand. Only without a bus (a cluster needs the
  /// session to publish to other nodes) and only for the registered desktop socket.
  void push_routes() {
    if (!st().desktop || bus()) return;
    auto table = std::make_shared<gw::route_table>();
    table->reserve(st().mobiles.size());
    for (auto& [cid, slot] : st().mobiles) table->push_back(gw::mobile_route{cid, slot.peer});
    auto h = st().desktop_handler;
    st().desktop->post([h, table] {
      if (auto hh = h.lock()) hh->set_routes(table);
    });
  }

  static void clear_routes(const std::shared_ptr<gw::ws_peer>& peer,
                           std::weak_ptr<gw::ws_link> h) {
    peer->post([h] {
      if (auto hh = h.lock()) hh->set_routes(nullptr);
    });
  }

  void device_count_to_desktop() {
    if (st().desktop)
      send_text(st().desktop, proto::msg_device_count(sid(), st().mobiles.size()));
    else
      publish(false, target::desktop, proto::msg_device_count(sid(), st().mobiles.size()));
  }

  /// Removes a registered mobile socket (without touching its device record).
  void remove_mobile(std::string conn_id,  // by value: callers pass map keys
                     std::optional<proto::close_reason> reason) {
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

  void remove_desktop(std::optional<proto::close_reason> reason) {
    if (!st().desktop) return;
    auto peer = std::move(st().desktop);
    st().desktop.reset();
    st().desktop_conn.clear();
    clear_routes(peer, st().desktop_handler);
    ctx->metrics.active_websockets.fetch_sub(1);
    ctx->metrics.sessions_with_desktop.fetch_sub(1);
    if (reason) peer->disconnect(*reason);
    report_sockets();
  }

  void desktop_lost() {
    fail_join(409, "desktop_not_connected", desktop_gone_msg);
    // Device actors learn first: a phone that reacts to the status must hit the offline gate.
    tell_presence(false);
    auto status = std::make_shared<const std::string>(proto::msg_desktop_status(sid(), false));
    for (auto& [cid, slot] : st().mobiles) slot.peer->send(status);
    if (!st().closed) publish(false, target::mobile, *status);
  }

  void slow_consumer(const std::shared_ptr<gw::ws_peer>& peer) {
    ctx->io->slow_consumer_disconnects.fetch_add(1);
    ctx->log(log_level::warn, "session", "slow_consumer_disconnect", sid_field(sid()));
    peer->disconnect(proto::close_reason::slow_consumer);
  }

  /// Ends the session: sockets told `reason`, tokens unindexed, children stopped.
  void close(proto::close_reason reason, bool delete_record) {
    if (st().closed) return;
    st().closed = true;
    std::vector<std::string> conns;
    for (auto& [cid, slot] : st().mobiles) conns.push_back(cid);
    for (auto& cid : conns) remove_mobile(cid, reason);
    remove_desktop(reason);
    fail_join(409, "desktop_not_connected", desktop_gone_msg);
    if (st().initialized) index(all_token_ops(false));
    if (delete_record && st().initialized) {
      ++st().version;
      self->send(store, save_atom::value, store_write{st().rec, st().version, true});
      // Peers close their copies too (never on shutdown drain: state survives restarts).
      publish(false, target::desktop, proto::msg_disconnect(reason));
      publish(false, target::mobile, proto::msg_disconnect(reason));
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
    self->request(broker, caf::infinite, closed_atom::value, sid())
        .then(
            [this_self = self](bool) { this_self->quit(caf::exit_reason::user_shutdown); },
            [this_self = self](caf::error&) { this_self->quit(caf::exit_reason::user_shutdown); });
  }

  /// pair/start on an existing session with the same token (or no participants): reset.
  void reset_for_replacement() {
    publish(false, target::desktop,
            proto::msg_disconnect(proto::close_reason::replaced_by_new_pair_start));
    publish(false, target::mobile,
            proto::msg_disconnect(proto::close_reason::replaced_by_new_pair_start));
    std::vector<std::string> conns;
    for (auto& [cid, slot] : st().mobiles) conns.push_back(cid);
    for (auto& cid : conns) remove_mobile(cid, proto::close_reason::replaced_by_new_pair_start);
    remove_desktop(proto::close_reason::replaced_by_new_pair_start);
    fail_join(409, "desktop_not_connected", desktop_gone_msg);
    index(all_token_ops(false));
    std::vector<std::string> ids;
    for (auto& [id, a] : st().device_actors) ids.push_back(id);
    for (auto& id : ids) kill_device(id);
    st().rec.devices.clear();
  }

  bool desktop_token_ok(const std::string& t) {
    return proto::constant_time_equal(t, st().rec.desktop_session_token);
  }

  void prune_retired(persistence::device_record& d, const std::string& device_id,
                     std::vector<index_op>& ops) {
    int64_t n = now();
    auto& r = d.retired_session_tokens;
    for (auto it = r.begin(); it != r.end();) {
      if (it->expires_at_ms <= n) {
        index_op o;
        o.kind = index_op::remove;
        o.token = it->token;
        o.session_id = sid();
        o.device_id = device_id;
        ops.push_back(o);
        it = r.erase(it);
      } else {
        ++it;
      }
    }
    while (r.size() > max_retired_tokens) {
      index_op o;
      o.kind = index_op::remove;
      o.token = r.front().token;
      ops.push_back(o);
      r.erase(r.begin());
    }
  }

  proto::json device_list() {
    std::vector<std::pair<std::string, const persistence::device_record*>> v;
    for (auto& [id, d] : st().rec.devices) v.emplace_back(id, &d);
    std::stable_sort(v.begin(), v.end(), [](auto& a, auto& b) {
      return a.second->joined_at_ms < b.second->joined_at_ms;
    });
    auto arr = proto::json::array();
    for (auto& [id, d] : v)
      arr.push_back({{"deviceID", id},
                     {"deviceName", d->name},
                     {"connected", st().device_conn.count(id) > 0},
                     {"joinedAt", proto::format_rfc3339_ms(d->joined_at_ms)},
                     {"lastSeenAt", proto::format_rfc3339_ms(d->last_seen_at_ms)}});
    return arr;
  }

  // ---- HTTP API ------------------------------------------------------------------------------

  void pair_start(api_call& c) {
    auto& q = c.req;
    if (st().initialized) {
      bool participants = st().desktop || !st().mobiles.empty() || !st().rec.devices.empty();
      if (participants && !desktop_token_ok(q.desktop_token)) {
        reply_error(c.responder, 409, "session_already_active",
                    "sessionID is already active for another desktopSessionToken. Stop the active "
                    "session or "
                    "use a new sessionID.");
        return;
      }
      reset_for_replacement();
    }
    auto& r = st().rec;
    r.session_id = q.session_id;
    r.join_token = q.join_token;
    r.join_token_expires_at_ms = *proto::parse_rfc3339(q.join_expires_at);
    r.join_token_used_at_ms.reset();
    r.desktop_session_token = q.desktop_token;
    std::optional<std::string> ws;
    if (q.relay_ws_url) ws = proto::normalize_ws_url(*q.relay_ws_url);
    r.relay_web_socket_url = ws ? *ws : ctx->cfg.default_ws_url();
    uint64_t idle = q.idle_timeout_seconds.value_or(1800);
    r.idle_timeout_seconds = std::clamp<uint64_t>(idle, 60, 86400);
    r.created_at_ms = r.last_activity_at_ms = now();
    r.devices.clear();
    st().initialized = true;
    index(all_token_ops(true));
    ctx->metrics.pair_start_successes.fetch_add(1);
    ctx->log(log_level::info, "session", "session_started", sid_field(sid()));
    // Answer once the record is written, so any node (or this one after a crash) knows it.
    auto resp = c.responder;
    proto::json body{
        {"accepted", true}, {"sessionID", r.session_id}, {"wsURL", r.relay_web_socket_url}};
    persist_then([resp, body] { reply_json(resp, 200, body); });
  }

  void pair_join(api_call& c) {
    auto& r = st().rec;
    int64_t n = now();
    auto fail = [&](int status, const char* code, const std::string& msg) {
      ctx->log(log_level::info, "session", "pair_join_failure",
               ",\"code\":" + json_str(code) + ",\"status\":" + std::to_string(status) +
                   sid_field(sid()));
      reply_error(c.responder, status, code, msg);
    };
    if (n >= r.join_token_expires_at_ms)
      return fail(410, "join_token_expired", "Join token has expired.");
    if (r.join_token_used_at_ms)
      return fail(409, "join_token_already_used",
                  "Join token has already been redeemed. Start a new session from desktop.");
    if (!proto::constant_time_equal(c.req.join_token, r.join_token))
      return fail(403, "invalid_join_token", "Join token is invalid.");
    if (r.devices.size() >= ctx->cfg.max_devices_per_session)
      return fail(409, "device_cap_reached",
                  "This session allows at most " +
                      std::to_string(ctx->cfg.max_devices_per_session) + " connected devices.");
    const char* offline =
        "Desktop is not connected to relay. Re-open Remote Control on desktop and retry.";
    // With a bus the desktop may be on another node: the request is broadcast and the join
    // waits the full timeout if nobody holds the desktop (RELAY_PROTOCOL §4.2).
    if (!st().desktop && !bus()) return fail(409, "desktop_not_connected", offline);
    if (st().pending) {
      ctx->log(log_level::info, "session", "pair_join_failure",
               ",\"code\":\"pair_request_in_progress\",\"status\":409" + sid_field(sid()));
      reply_json(c.responder, 409,
                 {{"error", "pair_request_in_progress"},
                  {"message", "A pairing approval request is already pending on desktop."},
                  {"requestID", st().pending->request_id},
                  {"expiresAt", proto::format_rfc3339_ms(st().pending->expires_at)}});
      return;
    }
    int64_t left = r.join_token_expires_at_ms - n;
    int64_t timeout = std::max<int64_t>(
        5000, std::min<int64_t>(static_cast<int64_t>(ctx->cfg.pair_approval_timeout_ms), left));
    pending_join p;
    p.id = ++st().join_seq;
    p.request_id = proto::random_token(proto::request_id_bytes);
    p.join_token = c.req.join_token;
    p.responder = c.responder;
    p.device_name = proto::sanitize_device_name(c.req.device_name);
    p.expires_at = n + timeout;
    auto msg = std::make_shared<const std::string>(
        proto::msg_pair_request(sid(), p.request_id, p.device_name, c.client_ip, n, p.expires_at));
    if (!st().desktop) {
      publish(false, target::desktop, *msg);
    } else if (!st().desktop->send(msg)) {
      slow_consumer(st().desktop);
      remove_desktop(std::nullopt);
      desktop_lost();
      return fail(409, "desktop_not_connected", offline);
    }
    ctx->metrics.pending_join_waiters.fetch_add(1);
    st().pending = std::move(p);
    self->delayed_send(self, std::chrono::milliseconds(timeout), timeout_atom::value,
                       st().pending->id);
  }

  void approve() {
    auto& r = st().rec;
    int64_t n = now();
    auto& p = *st().pending;
    if (n >= r.join_token_expires_at_ms)
      return fail_join(410, "join_token_expired", "Join token has expired.");
    if (!proto::constant_time_equal(p.join_token, r.join_token) || r.join_token_used_at_ms)
      return fail_join(403, "invalid_join_token", "Join token is invalid.");
    if (r.devices.size() >= ctx->cfg.max_devices_per_session)
      return fail_join(409, "device_cap_reached",
                       "This session allows at most " +
                           std::to_string(ctx->cfg.max_devices_per_session) +
                           " connected devices.");
    std::string id = proto::random_token(proto::device_id_bytes);
    while (r.devices.count(id)) id = proto::random_token(proto::device_id_bytes);
    persistence::device_record d;
    d.current_session_token = proto::random_token(proto::token_bytes);
    d.name = p.device_name.value_or("Mobile Device");
    d.joined_at_ms = d.last_seen_at_ms = n;
    r.devices[id] = d;
    r.join_token_used_at_ms = n;
    touch();
    spawn_device(id);
    index(device_token_ops(id, d, true));
    ctx->metrics.pair_join_successes.fetch_add(1);
    ctx->log(log_level::info, "session", "device_paired", sid_field(sid()));
    // The token must be usable on every node at once: answer after the write (§4.2 notes).
    proto::json body{{"accepted", true},
                     {"sessionID", sid()},
                     {"deviceID", id},
                     {"deviceSessionToken", d.current_session_token},
                     {"wsURL", r.relay_web_socket_url}};
    uint64_t join_id = st().pending->id;
    persist_then([this, body, join_id] {
      if (st().pending && st().pending->id == join_id) finish_join(200, body);
    });
  }

  void api(api_call& c) {
    auto& q = c.req;
    if (st().closed) {  // tombstone: answer as the broker would for an unknown session
      if (q.r == proto::route::pair_stop)
        return reply_json(c.responder, 200, {{"accepted", true}, {"sessionID", q.session_id}});
      if (q.r == proto::route::pair_start)
        return reply_error(c.responder, 503, "session_closing",
                           "Session is closing. Retry shortly.");
      return reply_error(c.responder, 404, "session_not_found", "Remote session not found.");
    }
    if (q.r == proto::route::pair_start) return pair_start(c);
    if (!st().initialized)
      return reply_error(c.responder, 404, "session_not_found", "Remote session not found.");
    if (q.r == proto::route::pair_join) return pair_join(c);
    if (!desktop_token_ok(q.desktop_token))
      return reply_error(c.responder, 403, "invalid_desktop_session_token",
                         "Desktop session token is invalid.");
    auto& r = st().rec;
    switch (q.r) {
      case proto::route::pair_refresh:
        r.join_token = q.join_token;
        r.join_token_expires_at_ms = *proto::parse_rfc3339(q.join_expires_at);
        r.join_token_used_at_ms.reset();
        touch();
        persist_then(nullptr);  // peers reload the new join token (§5.7 quirk fixed)
        ctx->metrics.pair_refresh_successes.fetch_add(1);
        reply_json(c.responder, 200,
                   {{"accepted", true}, {"sessionID", sid()}, {"wsURL", r.relay_web_socket_url}});
        return;
      case proto::route::pair_stop:
        reply_json(c.responder, 200, {{"accepted", true}, {"sessionID", sid()}});
        close(proto::close_reason::stopped_by_desktop, true);
        return;
      case proto::route::devices_list:
        touch();
        reply_json(c.responder, 200,
                   {{"accepted", true}, {"sessionID", sid()}, {"devices", device_list()}});
        return;
      case proto::route::devices_revoke: {
        auto it = r.devices.find(q.device_id);
        if (it == r.devices.end())
          return reply_error(c.responder, 404, "device_not_found",
                             "Device is not linked to this session.");
        if (auto conn = st().device_conn.find(q.device_id); conn != st().device_conn.end())
          remove_mobile(conn->second, proto::close_reason::device_revoked);
        index(device_token_ops(q.device_id, it->second, false));
        r.devices.erase(it);
        kill_device(q.device_id);
        publish(false, target::mobile, proto::msg_disconnect(proto::close_reason::device_revoked),
                q.device_id);
        device_count_to_desktop();
        touch();
        persist_then(nullptr);
        ctx->log(log_level::info, "session", "device_revoked", sid_field(sid()));
        reply_json(c.responder, 200,
                   {{"accepted", true}, {"sessionID", sid()}, {"deviceID", q.device_id}});
        return;
      }
      default:
        reply_error(c.responder, 404, "session_not_found", "Remote session not found.");
    }
  }

  // ---- WebSocket auth ------------------------------------------------------------------------

  void reject(auth_request& a, auth_failure why, bool policy) { reject_auth(ctx, a, why, policy); }

  void accepted(auth_request& a, bool desktop, caf::actor device, const std::string& device_id) {
    ctx->metrics.ws_auth_successes.fetch_add(1);
    a.peer->mark_authenticated();
    auto h = a.handler;
    auto me = caf::actor_cast<caf::actor>(self);
    auto s = sid();
    a.peer->post([h, desktop, me, device, s, device_id] {
      if (auto hh = h.lock()) hh->authed(desktop, me, device, s, device_id);
    });
  }

  bool over_capacity() {
    return ctx->metrics.active_websockets.load() >=
           static_cast<int64_t>(ctx->cfg.max_active_websocket_connections);
  }

  void auth_desktop(auth_request& a) {
    if (!st().initialized || st().closed)
      return reject(a, auth_failure::desktop_session_missing, true);
    if (!desktop_token_ok(a.token)) return reject(a, auth_failure::token_not_found, true);
    if (!st().desktop && over_capacity())
      return reject(a, auth_failure::relay_over_capacity, false);
    if (st().desktop) {
      // Replace the old socket; its later close must not clear the new slot (§16.3 fix).
      auto old = std::move(st().desktop);
      st().desktop.reset();
      clear_routes(old, st().desktop_handler);
      old->disconnect(proto::close_reason::desktop_reconnected);
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
    tell_presence(true);
    auto done = [this, a]() mutable {
      accepted(a, true, caf::actor{}, {});
      send_text(st().desktop, proto::msg_auth_ok_desktop(sid(), st().mobiles.size()));
      auto status = std::make_shared<const std::string>(proto::msg_desktop_status(sid(), true));
      for (auto& [cid, slot] : st().mobiles) slot.peer->send(status);
      publish(false, target::mobile, *status);
      persist();
    };
    if (!bus()) {
      report_sockets();
      return done();
    }
    // auth_ok only once this node receives the session's envelopes (pair requests from peers).
    push_routes();
    self->request(st().cluster, std::chrono::seconds(2), sockets_atom::value, ack_atom::value,
                  sid(), true, static_cast<uint64_t>(st().mobiles.size()))
        .await([done](bool) mutable { done(); }, [done](caf::error&) mutable { done(); });
  }

  bool origin_allowed(const gw::ws_peer& p) {
    for (const auto& o : ctx->cfg.allowed_origins)
      if (o == "*") return true;
    if (!p.has_origin()) return false;
    auto n = proto::normalize_origin(p.origin());
    if (!n) return false;
    for (const auto& o : ctx->cfg.allowed_origins)
      if (o == *n) return true;
    return false;
  }

  void auth_mobile(auth_request& a, const std::string& device_id) {
    if (!st().initialized || st().closed)
      return reject(a, auth_failure::mobile_session_missing, true);
    bool same_device = st().device_conn.count(device_id) > 0;
    if (!same_device && over_capacity()) return reject(a, auth_failure::relay_over_capacity, false);
    if (!origin_allowed(*a.peer)) return reject(a, auth_failure::mobile_origin_not_allowed, false);
    auto it = st().rec.devices.find(device_id);
    if (it == st().rec.devices.end()) return reject(a, auth_failure::device_not_registered, true);
    auto& d = it->second;
    int64_t n = now();
    bool token_ok = proto::constant_time_equal(a.token, d.current_session_token);
    for (const auto& rt : d.retired_session_tokens)
      token_ok =
          token_ok || (rt.expires_at_ms > n && proto::constant_time_equal(a.token, rt.token));
    if (!token_ok) return reject(a, auth_failure::device_record_missing, true);
    if (same_device)
      remove_mobile(st().device_conn[device_id], proto::close_reason::device_reconnected);
    if (st().mobiles.size() >= ctx->cfg.max_devices_per_session)
      return reject(a, auth_failure::device_cap_reached, false);
    // Rotation: the token that was current becomes a grace token (or dies when grace is 0).
    auto before = d;
    std::vector<index_op> ops;
    std::string next = proto::random_token(proto::token_bytes);
    std::string old = d.current_session_token;
    d.current_session_token = next;
    if (ctx->cfg.token_rotation_grace_ms > 0) {
      int64_t exp = n + static_cast<int64_t>(ctx->cfg.token_rotation_grace_ms);
      d.retired_session_tokens.push_back({old, exp});
      index_op o;
      o.kind = index_op::add_device;
      o.token = old;
      o.session_id = sid();
      o.device_id = device_id;
      o.expires_at_ms = exp;
      ops.push_back(o);
    } else {
      index_op o;
      o.kind = index_op::remove;
      o.token = old;
      ops.push_back(o);
    }
    prune_retired(d, device_id, ops);
    d.last_seen_at_ms = n;
    index_op add;
    add.kind = index_op::add_device;
    add.token = next;
    add.session_id = sid();
    add.device_id = device_id;
    ops.push_back(add);
    touch();
    ++st().version;
    auto req = std::make_shared<auth_request>(std::move(a));
    // The rotation must be persisted before auth_ok; on failure it is rolled back (§6.3.4).
    self->request(store, std::chrono::seconds(5), save_atom::value, rotated_atom::value,
                  store_write{st().rec, st().version, false})
        .await(
            [=](int status) mutable {
              if (status != static_cast<int>(persistence::store_status::ok) &&
                  status != static_cast<int>(persistence::store_status::stale_version)) {
                rollback(device_id, before);
                return reject(*req, auth_failure::token_rotation_persist_failed, false);
              }
              after_rotation(req, device_id, next, ops);
            },
            [=](caf::error&) mutable {
              rollback(device_id, before);
              reject(*req, auth_failure::token_rotation_persist_failed, false);
            });
  }

  /// Rotation persisted: peers reload the tokens; presence is resolved (probe) before auth_ok.
  void after_rotation(std::shared_ptr<auth_request> req, const std::string& device_id,
                      const std::string& next, std::vector<index_op> ops) {
    publish(true, target::session_refresh, refresh_payload());
    if (st().desktop || st().remote_desktop || !bus())
      return finish_mobile_auth(*req, device_id, next, ops);
    pending_probe p{++st().probe_seq, std::move(req), device_id, next, std::move(ops)};
    publish(true, target::probe,
            proto::json{{"type", "relay.desktop_status_probe"},
                        {"sessionID", sid()},
                        {"requestingInstanceID", ctx->instance_id}}
                .dump());
    self->delayed_send(self, std::chrono::milliseconds(150), probe_atom::value, p.id);
    st().probes.push_back(std::move(p));
  }

  /// Completes the waiting mobile auths (all, or only probe `id`).
  void finish_probes(std::optional<uint64_t> id) {
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

  /// Envelope from a peer (already verified): CONFIG_REFERENCE §5.4 and the control kinds.
  void from_bus(const persistence::bus_envelope& e) {
    if (!st().initialized || st().closed) return;
    auto j = proto::json::parse(e.payload, nullptr, false);
    std::string type = j.is_object() ? j.value("type", std::string()) : std::string();
    if (e.target == target::pair_decision) {
      std::string rid = j.is_object() ? j.value("requestID", std::string()) : std::string();
      bool approved = j.is_object() && j.value("approved", false);
      if (!st().pending || !proto::constant_time_equal(rid, st().pending->request_id)) return;
      if (approved)
        approve();
      else
        fail_join(403, "pair_request_denied", "Desktop denied this pairing request.");
      return;
    }
    if (e.target == target::probe) {
      if (!st().desktop) return;
      std::string who = j.is_object() ? j.value("requestingInstanceID", std::string()) : "";
      publish(true, target::probe_response,
              proto::json{{"type", "relay.desktop_status_response"},
                          {"sessionID", sid()},
                          {"requestingInstanceID", who},
                          {"desktopConnected", true}}
                  .dump());
      return;
    }
    if (e.target == target::probe_response) {
      if (!j.is_object() || j.value("requestingInstanceID", std::string()) != ctx->instance_id)
        return;
      if (j.value("desktopConnected", false)) set_remote_desktop(true, e.source_instance_id, false);
      finish_probes(std::nullopt);
      return;
    }
    touch();
    if (type == "disconnect") {
      // Peers send one of our own reasons; anything else ends the session as expired.
      auto reason = proto::parse_close_reason(j.value("reason", std::string()))
                        .value_or(proto::close_reason::session_expired);
      if (e.target == target::mobile && e.target_device_id)
        return revoke_local(*e.target_device_id);
      return close(reason, false);
    }
    auto text = std::make_shared<const std::string>(e.payload);
    if (e.target == target::desktop) {
      if (!st().desktop) return;
      if (st().desktop->send(text)) {
        ++st().to_desktop;
        return;
      }
      auto peer = st().desktop;
      remove_desktop(std::nullopt);
      slow_consumer(peer);
      desktop_lost();
      persist();
      return;
    }
    if (e.target != target::mobile) return;
    if (type == "relay.desktop_status" && j.contains("desktopConnected") &&
        j["desktopConnected"].is_boolean())
      set_remote_desktop(j["desktopConnected"].get<bool>(), e.source_instance_id, false);
    std::vector<std::string> slow;
    for (auto& [cid, slot] : st().mobiles) {
      if (!slot.peer->send(text))
        slow.push_back(cid);
      else
        ++st().to_mobiles;
    }
    for (auto& cid : slow) {
      auto peer = st().mobiles[cid].peer;
      remove_mobile(cid, std::nullopt);
      slow_consumer(peer);
      device_count_to_desktop();
    }
  }

  /// Targeted revoke from a peer (§5.4): drop the device, its socket, buckets and tokens.
  void revoke_local(const std::string& device_id) {
    auto it = st().rec.devices.find(device_id);
    if (it == st().rec.devices.end()) return;
    if (auto conn = st().device_conn.find(device_id); conn != st().device_conn.end())
      remove_mobile(conn->second, proto::close_reason::device_revoked);
    index(device_token_ops(device_id, it->second, false));
    st().rec.devices.erase(it);
    kill_device(device_id);
    if (st().desktop) device_count_to_desktop();
  }

  /// Persisted copy from a reload (§4.5, improved): adopt it when it is newer than ours. With
  /// local sockets the devices' token records are still merged, so a phone whose token was
  /// rotated on another node authenticates here; devices with a live local socket are kept.
  void merge(persistence::session_record& rec, uint64_t version) {
    if (st().closed) return;
    if (!st().initialized) {
      restore(rec, version);
      return;
    }
    if (version <= st().version) return;
    index(all_token_ops(false));
    std::vector<std::string> gone;
    for (auto& [id, d] : st().rec.devices)
      if (!rec.devices.count(id)) gone.push_back(id);
    for (auto& id : gone) {
      if (st().device_conn.count(id))
        rec.devices[id] = st().rec.devices[id];  // live here: keep it
      else
        kill_device(id);
    }
    int64_t activity = std::max(st().rec.last_activity_at_ms, rec.last_activity_at_ms);
    st().rec = std::move(rec);
    st().rec.last_activity_at_ms = activity;
    st().version = version;
    for (auto& [id, d] : st().rec.devices)
      if (!st().device_actors.count(id)) spawn_device(id);
    std::vector<index_op> idx;
    for (auto& [id, d] : st().rec.devices) prune_retired(d, id, idx);
    auto add = all_token_ops(true);
    idx.insert(idx.end(), add.begin(), add.end());
    index(std::move(idx));
  }

  void restore(persistence::session_record& rec, uint64_t version) {
    st().rec = std::move(rec);
    st().version = std::max(st().version, version);
    st().initialized = true;
    for (auto& [id, d] : st().rec.devices) spawn_device(id);
    index(all_token_ops(true));
  }

  void rollback(const std::string& device_id, const persistence::device_record& before) {
    if (auto it = st().rec.devices.find(device_id); it != st().rec.devices.end())
      it->second = before;
  }

  void finish_mobile_auth(auth_request& a, const std::string& device_id, const std::string& next,
                          std::vector<index_op>& ops) {
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
      device_count_to_desktop();
    };
    if (!bus()) {
      report_sockets();
      return done();
    }
    // With a bus, auth_ok waits until this node is subscribed to the session's subject, so
    // nothing published for this phone right after it is told auth_ok can miss it.
    push_routes();
    self->request(st().cluster, std::chrono::seconds(2), sockets_atom::value, ack_atom::value,
                  sid(), static_cast<bool>(st().desktop),
                  static_cast<uint64_t>(st().mobiles.size()))
        .await([done](bool) mutable { done(); }, [done](caf::error&) mutable { done(); });
  }
};

}  // namespace

caf::behavior session_impl(session_ptr self, context_ptr ctx, caf::actor broker, caf::actor store,
                           std::string session_id) {
  self->state.spawned_at = now_of(ctx);
  self->state.ctx = ctx;
  self->state.rec.session_id = session_id;
  ctx->metrics.sessions.fetch_add(1);
  self->attach_functor([ctx] { ctx->metrics.sessions.fetch_sub(1); });
  // Children (devices, limiter) are stopped on purpose; their exits never stop the session.
  self->set_exit_handler([](caf::exit_msg&) {});
  auto ops = std::make_shared<session_ops>(session_ops{self, ctx, broker, store});
  return {
      [=](api_atom, api_call& c) { ops->api(c); },
      [=](restore_atom, persistence::session_record& rec, uint64_t version) {
        ops->restore(rec, version);
      },
      // ---- multi-node (cluster.hpp) ----
      [=](cluster_atom, caf::actor cluster) { self->state.cluster = std::move(cluster); },
      [=](version_atom, uint64_t v) { self->state.version = std::max(self->state.version, v); },
      [=](merge_atom, persistence::session_record& rec, uint64_t version) {
        ops->merge(rec, version);
      },
      [=](bus_atom, persistence::bus_envelope& e) { ops->from_bus(e); },
      [=](probe_atom, uint64_t id) { ops->finish_probes(id); },
      [=](gone_atom, const std::string& instance) {
        auto& st = self->state;
        if (st.remote_desktop && st.remote_desktop_instance == instance)
          ops->set_remote_desktop(false, {}, true);
      },
      [=](auth_atom, auth_request& a, bool desktop, const std::string& device_id) {
        if (desktop)
          ops->auth_desktop(a);
        else
          ops->auth_mobile(a, device_id);
      },
      [=](dframe_atom, desktop_msg& m) {
        auto& st = self->state;
        if (m.conn_id != st.desktop_conn) {
          m.peer->drop();
          return;
        }
        std::vector<std::string> slow;
        for (auto& [cid, slot] : st.mobiles) {
          if (!slot.peer->send(m.text))
            slow.push_back(cid);
          else
            ++st.to_mobiles;
        }
        for (auto& cid : slow) {
          auto peer = st.mobiles[cid].peer;
          ops->remove_mobile(cid, std::nullopt);
          ops->slow_consumer(peer);
          ops->device_count_to_desktop();
        }
        ops->publish(false, target::mobile, *m.text);  // phones on other nodes
      },
      // A mobile socket refused a frame on the zero-hop path: it is a slow consumer.
      [=](slow_atom, const std::string& conn_id) {
        auto& st = self->state;
        auto it = st.mobiles.find(conn_id);
        if (it == st.mobiles.end()) return;
        auto peer = it->second.peer;
        ops->remove_mobile(conn_id, std::nullopt);
        ops->slow_consumer(peer);
        ops->device_count_to_desktop();
      },
      // The desktop socket refused a command delivered directly by a device actor.
      [=](slow_atom, bool /*desktop*/, const std::string& conn_id) {
        auto& st = self->state;
        if (!st.desktop || conn_id != st.desktop_conn) return;
        auto peer = st.desktop;
        ops->remove_desktop(std::nullopt);
        ops->slow_consumer(peer);
        ops->desktop_lost();
        ops->persist();
      },
      [=](todesk_atom, std::shared_ptr<const std::string>& text) {
        auto& st = self->state;
        if (!st.desktop) {
          if (st.remote_desktop) ops->publish(false, target::desktop, *text);
          return;
        }
        if (st.desktop->send(std::move(text))) {
          ++st.to_desktop;
          return;
        }
        auto peer = st.desktop;
        ops->remove_desktop(std::nullopt);
        ops->slow_consumer(peer);
        ops->desktop_lost();
        ops->persist();
      },
      [=](decide_atom, const std::string& conn_id, bool has_request_id,
          const std::string& request_id, bool approved) {
        auto& st = self->state;
        if (conn_id != st.desktop_conn) return;
        if (!has_request_id) return;
        ops->send_text(st.desktop, proto::msg_pair_result(ops->sid(), request_id, approved));
        if (!st.pending || !proto::constant_time_equal(request_id, st.pending->request_id)) {
          // The join may wait on another node (§5.5 pair_decision; no pair_result from peers).
          ops->publish(true, target::pair_decision,
                       proto::json{{"type", "relay.pair_decision"},
                                   {"sessionID", ops->sid()},
                                   {"requestID", request_id},
                                   {"approved", approved}}
                           .dump());
          return;
        }
        if (approved)
          ops->approve();
        else
          ops->fail_join(403, "pair_request_denied", "Desktop denied this pairing request.");
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
      [=](sweep_atom) {
        auto& st = self->state;
        if (!st.initialized) return;
        int64_t n = now_of(ctx);
        std::vector<index_op> idx;
        for (auto& [id, d] : st.rec.devices) ops->prune_retired(d, id, idx);
        if (!idx.empty()) {
          ops->index(std::move(idx));
          ops->persist();
        }
        if (st.desktop || !st.mobiles.empty() || !st.rec.devices.empty()) return;
        if (st.remote_desktop) return;  // alive on another node (§5.7 quirk fixed)
        int64_t idle_ms =
            static_cast<int64_t>(std::max<uint64_t>(st.rec.idle_timeout_seconds, 60)) * 1000;
        std::optional<proto::close_reason> why;
        if (n - st.rec.last_activity_at_ms >= idle_ms)
          why = proto::close_reason::idle_timeout;
        else if (n - st.rec.created_at_ms >= static_cast<int64_t>(ctx->cfg.session_retention_ms))
          why = proto::close_reason::retention_expired;
        if (!why) return;
        if (!st.cluster) return ops->close(*why, true);
        // With a bus: a session whose sockets live on another node is only forgotten here
        // (no delete from the store, no disconnect broadcast).
        auto reason = *why;
        self->request(st.cluster, std::chrono::seconds(2), held_atom::value, ops->sid())
            .then(
                [=](bool elsewhere) {
                  auto& s = self->state;
                  if (s.desktop || !s.mobiles.empty() || !s.rec.devices.empty()) return;
                  ops->close(elsewhere ? proto::close_reason::unloaded : reason, !elsewhere);
                },
                [](caf::error&) {});
      },
      [=](close_atom, proto::close_reason reason, bool delete_record) {
        ops->close(reason, delete_record);
      },
      [=](describe_atom) -> caf::result<std::string> {
        auto& st = self->state;
        auto j =
            actor_info("session", self->id(), self->mailbox().size(), st.spawned_at, now_of(ctx));
        j["sessionID"] = proto::redact_id(st.rec.session_id);
        j["state"] = st.closed ? "closed" : st.initialized ? "active" : "new";
        j["desktopConnected"] = static_cast<bool>(st.desktop);
        j["mobileSockets"] = st.mobiles.size();
        j["trustedDevices"] = st.rec.devices.size();
        j["pendingJoin"] = static_cast<bool>(st.pending);
        j["framesToMobiles"] = st.to_mobiles;
        j["framesToDesktop"] = st.to_desktop;
        j["lastActivityAt"] = proto::format_rfc3339_ms(st.rec.last_activity_at_ms);
        std::vector<caf::actor> kids;
        for (auto& [id, a] : st.device_actors) kids.push_back(a);
        if (st.limiter) kids.push_back(st.limiter);
        return describe_with_children(self, std::move(j), kids, std::chrono::seconds(1));
      },
  };
}

caf::actor spawn_session(caf::event_based_actor* parent, context_ptr ctx, caf::actor broker,
                         caf::actor store, std::string session_id) {
  return parent->spawn<caf::monitored>(session_impl, std::move(ctx), std::move(broker),
                                       std::move(store), std::move(session_id));
}

}  // namespace rc::actors
