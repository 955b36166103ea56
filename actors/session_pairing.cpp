// Session actor, HTTP API unit: pair/start (and replacement), pair/join with the desktop's
// approval, pair/refresh, pair/stop, devices/list, devices/revoke (RELAY_PROTOCOL §4-§5, §8).
#include <algorithm>

#include "actors/cluster.hpp"
#include "actors/session_ops.hpp"
#include "protocol/time.hpp"
#include "protocol/tokens.hpp"
#include "protocol/url.hpp"

namespace rc::actors {

namespace {
const char* offline_msg =
    "Desktop is not connected to relay. Re-open Remote Control on desktop and retry.";

std::string device_cap_msg(const context_ptr& ctx) {
  return "This session allows at most " + std::to_string(ctx->cfg.max_devices_per_session) +
         " connected devices.";
}

/// Answers `body` once the write reached the store; a write that did not is never acknowledged
/// (issue 12): the desktop retries.
template <class Responder>
std::function<void(store_status)> answer_when_stored(Responder resp, proto::json body) {
  return [resp, body](store_status s) {
    if (s == store_status::unavailable)
      return reply_error(resp, 503, "state_store_unavailable",
                         "Session state store is unreachable. Retry shortly.");
    reply_json(resp, 200, body);
  };
}
}  // namespace

void session_ops::finish_join(int status, const proto::json& body) {
  if (!st().pending) return;
  ctx->metrics.pending_join_waiters.fetch_sub(1);
  reply_json(st().pending->responder, status, body);
  st().pending.reset();
}

void session_ops::fail_join(int status, const char* code, const std::string& msg) {
  if (!st().pending) return;
  ctx->log(
      log_level::info, "session", "pair_join_failure",
      ",\"code\":" + json_str(code) + ",\"status\":" + std::to_string(status) + sid_field(sid()));
  finish_join(status, proto::json{{"error", code}, {"message", msg}});
}

/// pair/start on an existing session with the same token (or no participants): reset.
void session_ops::reset_for_replacement() {
  publish(target::desktop, proto::msg_disconnect(close_reason::replaced_by_new_pair_start));
  publish(target::mobile, proto::msg_disconnect(close_reason::replaced_by_new_pair_start));
  std::vector<std::string> conns;
  for (auto& [cid, slot] : st().mobiles) conns.push_back(cid);
  for (auto& cid : conns) remove_mobile(cid, close_reason::replaced_by_new_pair_start);
  remove_desktop(close_reason::replaced_by_new_pair_start);
  fail_join(409, "desktop_not_connected", desktop_gone_msg);
  index(tokens().all(false));
  std::vector<std::string> ids;
  for (auto& [id, a] : st().device_actors) ids.push_back(id);
  for (auto& id : ids) kill_device(id);
  st().rec.devices.clear();
}

proto::json session_ops::device_list() {
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

void session_ops::pair_start(api_call& c) {
  auto& q = c.req;
  if (st().initialized) {
    bool participants = st().desktop || !st().mobiles.empty() || !st().rec.devices.empty();
    if (participants && !tokens().desktop_ok(q.desktop_token)) {
      reply_error(c.responder, 409, "session_already_active",
                  "sessionID is already active for another desktopSessionToken. Stop the active "
                  "session or use a new sessionID.");
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
  index(tokens().all(true));
  ctx->metrics.pair_start_successes.fetch_add(1);
  ctx->log(log_level::info, "session", "session_started", sid_field(sid()));
  // Answer once the record is written, so any node (or this one after a crash) knows it.
  persist_then(answer_when_stored(
      c.responder,
      {{"accepted", true}, {"sessionID", r.session_id}, {"wsURL", r.relay_web_socket_url}}));
}

void session_ops::pair_join(api_call& c, bool reread) {
  auto& r = st().rec;
  int64_t n = now();
  auto fail = [&](int status, const char* code, const std::string& msg) {
    ctx->log(
        log_level::info, "session", "pair_join_failure",
        ",\"code\":" + json_str(code) + ",\"status\":" + std::to_string(status) + sid_field(sid()));
    reply_error(c.responder, status, code, msg);
  };
  if (st().closed) return fail(404, "session_not_found", "Remote session not found.");
  bool token_ok = n < r.join_token_expires_at_ms && !r.join_token_used_at_ms &&
                  proto::constant_time_equal(c.req.join_token, r.join_token);
  if (!token_ok && !reread && bus()) {
    // This copy may be stale: /pair/refresh on another node answers once its write is stored,
    // and the session_refresh notice can arrive here after the phone's join (found by the chaos
    // test, issue 12). Read the stored record back, merge it and decide on that.
    auto call = std::make_shared<api_call>(std::move(c));
    self->request(store, std::chrono::seconds(5), load_atom::value, sid())
        .then(
            [this, call](load_reply& lr) {
              if (lr.status == store_status::ok && !st().closed) merge(lr.record, lr.version);
              pair_join(*call, true);
            },
            [this, call](caf::error&) { pair_join(*call, true); });
    return;
  }
  if (n >= r.join_token_expires_at_ms)
    return fail(410, "join_token_expired", "Join token has expired.");
  if (r.join_token_used_at_ms)
    return fail(409, "join_token_already_used",
                "Join token has already been redeemed. Start a new session from desktop.");
  if (!proto::constant_time_equal(c.req.join_token, r.join_token))
    return fail(403, "invalid_join_token", "Join token is invalid.");
  if (r.devices.size() >= ctx->cfg.max_devices_per_session)
    return fail(409, "device_cap_reached", device_cap_msg(ctx));
  // With a bus the desktop may be on another node: the request is broadcast and the join
  // waits the full timeout if nobody holds the desktop (RELAY_PROTOCOL §4.2).
  if (!st().desktop && !bus()) return fail(409, "desktop_not_connected", offline_msg);
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
  // Counted before the desktop can see the request (a /healthz read after the desktop got it
  // must include it).
  ctx->metrics.pending_join_waiters.fetch_add(1);
  if (!st().desktop) {
    publish(target::desktop, *msg);
  } else if (!st().desktop->send(msg)) {
    ctx->metrics.pending_join_waiters.fetch_sub(1);
    slow_consumer(st().desktop);
    remove_desktop(std::nullopt);
    desktop_lost();
    return fail(409, "desktop_not_connected", offline_msg);
  }
  st().pending = std::move(p);
  self->delayed_send(self, std::chrono::milliseconds(timeout), timeout_atom::value,
                     st().pending->id);
}

void session_ops::approve() {
  auto& r = st().rec;
  int64_t n = now();
  auto& p = *st().pending;
  if (n >= r.join_token_expires_at_ms)
    return fail_join(410, "join_token_expired", "Join token has expired.");
  if (!proto::constant_time_equal(p.join_token, r.join_token) || r.join_token_used_at_ms)
    return fail_join(403, "invalid_join_token", "Join token is invalid.");
  if (r.devices.size() >= ctx->cfg.max_devices_per_session)
    return fail_join(409, "device_cap_reached", device_cap_msg(ctx));
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
  index(tokens().device(id, d, true));
  ctx->metrics.pair_join_successes.fetch_add(1);
  ctx->log(log_level::info, "session", "device_paired", sid_field(sid()));
  // The token must be usable on every node at once: answer after the write (§4.2 notes).
  proto::json body{{"accepted", true},
                   {"sessionID", sid()},
                   {"deviceID", id},
                   {"deviceSessionToken", d.current_session_token},
                   {"wsURL", r.relay_web_socket_url}};
  uint64_t join_id = st().pending->id;
  persist_then([this, body, join_id](store_status) {
    if (st().pending && st().pending->id == join_id) finish_join(200, body);
  });
}

/// The registered desktop decided a pairing request (conn and request id checked by the caller).
void session_ops::decide(const std::string& request_id, bool approved) {
  send_text(st().desktop, proto::msg_pair_result(sid(), request_id, approved));
  if (!st().pending || !proto::constant_time_equal(request_id, st().pending->request_id)) {
    // The join may wait on another node (§5.5 pair_decision; no pair_result from peers).
    publish_control(target::pair_decision, proto::json{{"type", "relay.pair_decision"},
                                                       {"sessionID", sid()},
                                                       {"requestID", request_id},
                                                       {"approved", approved}}
                                               .dump());
    return;
  }
  if (approved)
    approve();
  else
    fail_join(403, "pair_request_denied", "Desktop denied this pairing request.");
}

void session_ops::api(api_call& c) {
  auto& q = c.req;
  if (st().closed) {  // tombstone: answer as the broker would for an unknown session
    if (q.r == proto::route::pair_stop)
      return reply_json(c.responder, 200, {{"accepted", true}, {"sessionID", q.session_id}});
    if (q.r == proto::route::pair_start)
      return reply_error(c.responder, 503, "session_closing", "Session is closing. Retry shortly.");
    return reply_error(c.responder, 404, "session_not_found", "Remote session not found.");
  }
  if (q.r == proto::route::pair_start) return pair_start(c);
  if (!st().initialized)
    return reply_error(c.responder, 404, "session_not_found", "Remote session not found.");
  if (q.r == proto::route::pair_join) return pair_join(c);
  if (!tokens().desktop_ok(q.desktop_token))
    return reply_error(c.responder, 403, "invalid_desktop_session_token",
                       "Desktop session token is invalid.");
  auto& r = st().rec;
  switch (q.r) {
    case proto::route::pair_refresh:
      r.join_token = q.join_token;
      r.join_token_expires_at_ms = *proto::parse_rfc3339(q.join_expires_at);
      r.join_token_used_at_ms.reset();
      touch();
      ctx->metrics.pair_refresh_successes.fetch_add(1);
      // Answered once stored (like pair_start), so a join on any node can read the new token;
      // peers reload it on the session_refresh notice (§5.7 quirk fixed).
      persist_then(answer_when_stored(
          c.responder,
          {{"accepted", true}, {"sessionID", sid()}, {"wsURL", r.relay_web_socket_url}}));
      return;
    case proto::route::pair_stop:
      reply_json(c.responder, 200, {{"accepted", true}, {"sessionID", sid()}});
      close(close_reason::stopped_by_desktop, true);
      return;
    case proto::route::devices_list:
      touch();
      reply_json(c.responder, 200,
                 {{"accepted", true}, {"sessionID", sid()}, {"devices", device_list()}});
      return;
    case proto::route::devices_revoke: {
      if (!r.devices.count(q.device_id))
        return reply_error(c.responder, 404, "device_not_found",
                           "Device is not linked to this session.");
      revoke_local(q.device_id);
      publish(target::mobile, proto::msg_disconnect(close_reason::device_revoked), q.device_id);
      if (!st().desktop) device_count_to_desktop();  // revoke_local told a local desktop
      touch();
      persist_then(nullptr);
      ctx->log(log_level::info, "session", proto::to_string(proto::close_reason::device_revoked),
               sid_field(sid()));
      reply_json(c.responder, 200,
                 {{"accepted", true}, {"sessionID", sid()}, {"deviceID", q.device_id}});
      return;
    }
    default:
      reply_error(c.responder, 404, "session_not_found", "Remote session not found.");
  }
}

}  // namespace rc::actors
