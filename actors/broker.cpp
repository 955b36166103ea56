// Broker: supervises the sessions, owns the token index, runs the sweeper, and holds the kill
// switch (one session, or every session at once, each told the right disconnect reason).
#include <charconv>
#include <unordered_map>
#include <unordered_set>

#include "actors/actors.hpp"
#include "actors/cluster.hpp"
#include "actors/common.hpp"
#include "actors/token_index.hpp"
#include "protocol/time.hpp"
#include "protocol/tokens.hpp"
#include "protocol/untrusted_json.hpp"

namespace rc::actors {

namespace {

struct broker_state {
  std::unordered_map<std::string, session_actor> sessions;
  token_index tokens;
  ip_limiter_actor ip_limiter;
  int64_t spawned_at = 0;
  bool shutting_down = false;
  // ---- multi-node (cluster.hpp): bus actor, store reader, forced-reload coalescing ----
  cluster_actor cluster;
  loader_actor loader;
  std::vector<auth_request> auth_waiting;  ///< token misses waiting for a forced reload
  bool reload_inflight = false, reload_scheduled = false;
  int64_t last_reload_ms = 0;
  // ---- the store's epoch marker (issue 12): a changed or missing marker = data loss ----
  std::string epoch;       ///< marker last seen ("" = not read yet, or the store keeps none)
  int64_t loss_at_ms = 0;  ///< the marker was created after a data loss, at (ms)
  uint64_t writebacks = 0;
  bool epoch_inflight = false, epoch_timer = false;
  static inline const char* name = "broker";
};

using broker_ptr = broker_actor::stateful_pointer<broker_state>;

constexpr auto epoch_every = std::chrono::seconds(1);
/// After a data loss, token misses are refused without a policy close (clients retry instead
/// of forgetting the pairing) while the nodes write their sessions back.
constexpr int64_t writeback_grace_ms = 10000;

bool opaque_sid(const std::string& s) {
  return proto::is_opaque(s, proto::min_session_id_len);
}
bool opaque_tok(const std::string& s) {
  return proto::is_opaque(s, proto::min_token_len);
}

void set_token_gauge(broker_ptr self, const context_ptr& ctx) {
  ctx->metrics.device_tokens.store(static_cast<int64_t>(self->state.tokens.device_tokens()));
}

/// Validates the token formats and expiry of desktop management requests; answers on failure.
bool precheck(const context_ptr& ctx, api_call& c) {
  auto& q = c.req;
  auto bad = [&](const char* code, const char* msg) {
    reply_error(c.responder, 400, code, msg);
    return false;
  };
  auto expiry = [&](const char* code) {
    auto t = proto::parse_rfc3339(q.join_expires_at);
    if (!t) return bad(code, "joinTokenExpiresAt must be a valid RFC3339 timestamp.");
    if (*t <= now_of(ctx))
      return bad("expired_join_token", "joinTokenExpiresAt must be in the future.");
    return true;
  };
  switch (q.r) {
    case proto::route::pair_start:
      if (!opaque_sid(q.session_id) || !opaque_tok(q.join_token) || !opaque_tok(q.desktop_token))
        return bad("invalid_pair_start",
                   "sessionID, joinToken, and desktopSessionToken must be high-entropy opaque "
                   "identifiers.");
      return expiry("invalid_pair_start");
    case proto::route::pair_join:
      if (!opaque_sid(q.session_id) || !opaque_tok(q.join_token))
        return bad("invalid_pair_join", "sessionID and joinToken are required.");
      if (ctx->metrics.pending_join_waiters.load() >=
          static_cast<int64_t>(ctx->cfg.max_pending_join_waiters)) {
        reply_error(c.responder, 503, "pairing_backpressure",
                    "Relay is handling too many pending pairing approvals. Retry shortly.");
        return false;
      }
      return true;
    case proto::route::pair_refresh:
      if (!opaque_sid(q.session_id) || !opaque_tok(q.join_token) || !opaque_tok(q.desktop_token))
        return bad("invalid_pair_refresh",
                   "sessionID, joinToken, and desktopSessionToken are required.");
      return expiry("invalid_pair_refresh");
    case proto::route::pair_stop:
      if (!opaque_sid(q.session_id) || !opaque_tok(q.desktop_token))
        return bad("invalid_pair_stop", "sessionID and desktopSessionToken are required.");
      return true;
    case proto::route::devices_list:
      if (!opaque_sid(q.session_id) || !opaque_tok(q.desktop_token))
        return bad("invalid_devices_list", "sessionID and desktopSessionToken are required.");
      return true;
    case proto::route::devices_revoke:
      if (!opaque_sid(q.session_id) || !opaque_tok(q.desktop_token) ||
          !proto::is_opaque(q.device_id, proto::min_device_id_len))
        return bad("invalid_device_revoke",
                   "sessionID, desktopSessionToken, and deviceID are required.");
      return true;
  }
  return false;
}

session_actor spawn_session(broker_ptr self, const context_ptr& ctx, const store_actor& store,
                            const std::string& sid) {
  auto s = spawn_session(self, ctx, caf::actor_cast<broker_actor>(self), store, sid);
  self->state.sessions[sid] = s;
  if (self->state.cluster) self->send(s, cluster_atom::value, self->state.cluster);
  return s;
}

/// Routes a WS auth by token to its session; false when the token is unknown locally.
bool route_auth(broker_ptr self, const context_ptr& ctx, auth_request& a) {
  auto& st = self->state;
  if (auto d = st.tokens.desktop(a.token)) {
    auto s = st.sessions.find(*d);
    if (s == st.sessions.end()) {
      reject_auth(ctx, a, auth_failure::desktop_session_missing, true);
      return true;
    }
    self->send(s->second, auth_atom::value, std::move(a), true, std::string{});
    return true;
  }
  if (auto m = st.tokens.device(a.token, now_of(ctx))) {
    auto s = st.sessions.find(m->session_id);
    if (s == st.sessions.end()) {
      reject_auth(ctx, a, auth_failure::mobile_session_missing, true);
      return true;
    }
    std::string device = m->device_id;
    self->send(s->second, auth_atom::value, std::move(a), false, device);
    return true;
  }
  return false;
}

/// Puts a persisted copy into the local registry (§4.5 merge rule, applied by the session).
void adopt(broker_ptr self, const context_ptr& ctx, const store_actor& store,
           persistence::session_record rec, uint64_t version) {
  auto& st = self->state;
  if (st.shutting_down || rec.session_id.empty()) return;
  // Index the persisted tokens now, so that auths retried right after this reload find them
  // (the session re-sends its own, authoritative index operations when it merges).
  st.tokens.adopt(rec, now_of(ctx));
  set_token_gauge(self, ctx);
  auto it = st.sessions.find(rec.session_id);
  if (it != st.sessions.end()) {
    self->send(it->second, merge_atom::value, std::move(rec), version);
    return;
  }
  if (st.sessions.size() >= ctx->cfg.max_sessions) return;
  auto s = spawn_session(self, ctx, store, rec.session_id);
  self->send(s, restore_atom::value, std::move(rec), version);
}

void request_reload(broker_ptr self, const context_ptr& ctx, const store_actor& store);

/// The time a marker written after a data loss was created ("<id>.<ms>.loss"), else 0.
int64_t loss_time(const std::string& v) {
  auto a = v.find('.');
  auto b = a == std::string::npos ? a : v.find('.', a + 1);
  if (b == std::string::npos || v.compare(b + 1, std::string::npos, "loss") != 0) return 0;
  int64_t ms = 0;
  auto [end, ec] = std::from_chars(v.data() + a + 1, v.data() + b, ms);
  return ec == std::errc{} && end == v.data() + b ? ms : 0;
}

bool in_writeback_grace(broker_ptr self, const context_ptr& ctx) {
  auto t = self->state.loss_at_ms;
  return t > 0 && now_of(ctx) - t < writeback_grace_ms;
}

/// Reads the store's epoch marker (set when missing). A marker that changed, or that was missing
/// while this node holds sessions, means the store lost its data: every session held here is
/// written back, so the cluster's state comes back. `then(unchanged)` when given.
void check_epoch(broker_ptr self, const context_ptr& ctx, std::function<void(bool)> then) {
  auto& st = self->state;
  if (!st.loader) {
    if (then) then(false);
    return;
  }
  bool loss = !st.epoch.empty() || !st.sessions.empty();
  std::string mine =
      proto::random_token(12) + "." + std::to_string(now_of(ctx)) + (loss ? ".loss" : ".fresh");
  st.epoch_inflight = true;
  self->request(st.loader, std::chrono::seconds(5), epoch_atom::value, mine)
      .then(
          [=](std::string& value, bool created) {
            auto& st = self->state;
            st.epoch_inflight = false;
            bool unchanged = !value.empty() && !created && value == st.epoch;
            if (!value.empty() && !unchanged) {
              bool first = st.epoch.empty();
              st.epoch = value;
              st.loss_at_ms = loss_time(value);
              if ((!first || created) && !st.sessions.empty()) {
                ++st.writebacks;
                ctx->log(log_level::warn, "broker",
                         "state store lost its data (epoch marker changed or missing): writing "
                         "back every session held here",
                         ",\"sessions\":" + std::to_string(st.sessions.size()));
                for (auto& [sid, s] : st.sessions) self->send(s, writeback_atom::value);
              }
            }
            if (then) then(unchanged);
          },
          [=](caf::error&) {
            self->state.epoch_inflight = false;
            if (then) then(false);
          });
}

/// A complete forced reload under an unchanged marker: local sessions it did not find were
/// removed from the store (revoke, stop or sweep on another node); each one closes itself
/// (removed_from_persistence) unless it has local sockets or was written since `started`.
void vanished(broker_ptr self, const persistence::load_all_result& r, int64_t started) {
  std::unordered_set<std::string> stored;
  for (auto& vr : r.records) stored.insert(vr.record.session_id);
  for (auto& sk : r.skipped) stored.insert(sk.session_id);
  for (auto& [sid, s] : self->state.sessions)
    if (!stored.count(sid)) self->send(s, reload_atom::value, started);
}

/// Forced reload (§4.5): load_all, merge, then retry the token misses it covers.
void start_reload(broker_ptr self, const context_ptr& ctx, const store_actor& store) {
  auto& st = self->state;
  st.reload_inflight = true;
  st.last_reload_ms = now_of(ctx);
  int64_t started = st.last_reload_ms;
  auto covered = std::make_shared<std::vector<auth_request>>(std::move(st.auth_waiting));
  st.auth_waiting.clear();
  auto finish = [=](bool loaded) {
    self->state.reload_inflight = false;
    // Right after a data loss a token may be missing only until its holder wrote it back.
    bool policy = loaded && !in_writeback_grace(self, ctx);
    for (auto& a : *covered) {
      if (self->state.shutting_down) {
        reject_auth(ctx, a, auth_failure::relay_over_capacity, false);
      } else if (!route_auth(self, ctx, a)) {
        // Fail closed: while the store is unreachable an unknown token is not accepted, but
        // the close is not a policy close, so clients retry instead of forgetting the session.
        reject_auth(ctx, a, auth_failure::token_not_found, policy);
      }
    }
    if (!self->state.auth_waiting.empty()) request_reload(self, ctx, store);
  };
  self->request(st.loader, std::chrono::seconds(10), loadall_atom::value)
      .then(
          [=](load_all_ptr& r) {
            bool ok = r && r->status == persistence::store_status::ok;
            if (!ok) return finish(false);
            for (auto& vr : r->records) adopt(self, ctx, store, vr.record, vr.version);
            // The marker read after the load: unchanged means the load saw the store this
            // node knew, not one that lost its data.
            check_epoch(self, ctx, [=](bool unchanged) {
              if (unchanged && !r->truncated) vanished(self, *r, started);
              finish(true);
            });
          },
          [=](caf::error& e) {
            ctx->log(log_level::warn, "broker", "forced reload failed",
                     ",\"error\":" + json_str(caf::to_string(e)));
            finish(false);
          });
}

void request_reload(broker_ptr self, const context_ptr& ctx, const store_actor& store) {
  constexpr int64_t throttle_ms = 250;
  auto& st = self->state;
  if (st.reload_inflight || st.reload_scheduled) return;
  int64_t wait = st.last_reload_ms + throttle_ms - now_of(ctx);
  if (wait > 0) {
    st.reload_scheduled = true;
    self->delayed_send(self, std::chrono::milliseconds(wait), reload_atom::value);
    return;
  }
  start_reload(self, ctx, store);
}

/// Answers an API call for a session this node does not hold (after the lazy load missed).
void unknown_session_api(broker_ptr self, const context_ptr& ctx, const store_actor& store,
                         api_call& c, uint64_t tombstone) {
  auto& st = self->state;
  if (c.req.r == proto::route::pair_stop) {
    reply_json(c.responder, 200, {{"accepted", true}, {"sessionID", c.req.session_id}});
    return;
  }
  if (c.req.r != proto::route::pair_start) {
    reply_error(c.responder, 404, "session_not_found", "Remote session not found.");
    return;
  }
  if (st.sessions.size() >= ctx->cfg.max_sessions) {
    reply_error(c.responder, 503, "relay_at_capacity",
                "Relay holds its maximum number of sessions. Retry later.");
    return;
  }
  auto s = spawn_session(self, ctx, store, c.req.session_id);
  if (tombstone > 0) self->send(s, version_atom::value, tombstone);
  self->send(s, api_atom::value, std::move(c));
}

/// Supervision of a session that ended without reporting closed (exception, kill, a failed
/// child): its tokens are dropped and it is restarted from its persisted record.
void restart_session(broker_ptr self, const context_ptr& ctx, const store_actor& store,
                     const std::string& sid) {
  self->state.tokens.drop_session(sid);
  set_token_gauge(self, ctx);
  ctx->log(log_level::error, "broker",
           "session actor ended unexpectedly; restarting it from the store", sid_field(sid));
  self->request(store, std::chrono::seconds(5), load_atom::value, sid)
      .then(
          [=](load_reply& r) {
            if (r.status != store_status::ok) {
              ctx->log(
                  r.status == store_status::not_found ? log_level::info : log_level::error,
                  "broker", "session not restarted: no usable persisted record",
                  sid_field(sid) + ",\"status\":" + json_str(persistence::to_string(r.status)));
              return;
            }
            if (self->state.sessions.count(r.record.session_id) || self->state.shutting_down)
              return;
            auto s = spawn_session(self, ctx, store, r.record.session_id);
            self->send(s, restore_atom::value, std::move(r.record), r.version);
          },
          [=](caf::error& e) {
            ctx->log(log_level::error, "broker", "session not restarted: store did not answer",
                     sid_field(sid) + ",\"error\":" + json_str(caf::to_string(e)));
          });
}

/// The lazy load of an API call's session failed: 503, counted and logged (the session id
/// redacted, never a token; the first failure, then every 100th, so an outage cannot flood).
void store_unavailable(const context_ptr& ctx, api_call& c, const std::string& why) {
  auto n = ctx->metrics.store_load_failures.fetch_add(1) + 1;
  if (n == 1 || n % 100 == 0)
    ctx->log(log_level::warn, "broker", "session load failed: answered 503 state_store_unavailable",
             sid_field(c.req.session_id) + ",\"error\":" + json_str(why) +
                 ",\"failures\":" + std::to_string(n));
  reply_error(c.responder, 503, "state_store_unavailable",
              "Session state store is unreachable. Retry shortly.");
}

broker_actor::behavior_type broker_impl(broker_ptr self, context_ptr ctx, store_actor store) {
  self->state.spawned_at = now_of(ctx);
  self->set_down_handler([=](caf::down_msg& m) {
    auto& st = self->state;
    for (auto it = st.sessions.begin(); it != st.sessions.end(); ++it) {
      if (it->second.address() == m.source) {
        std::string sid = it->first;
        st.sessions.erase(it);
        restart_session(self, ctx, store, sid);
        return;
      }
    }
  });
  self->delayed_send(self, std::chrono::milliseconds(ctx->cfg.sweep_interval_ms),
                     sweep_atom::value);
  return {
      [=](attach_atom, ip_limiter_actor limiter) { self->state.ip_limiter = std::move(limiter); },
      [=](api_atom, api_call& c) {
        auto& st = self->state;
        if (st.shutting_down) {
          reply_error(c.responder, 503, proto::to_string(proto::close_reason::server_shutdown),
                      "Relay is shutting down. Retry shortly.");
          return;
        }
        if (!precheck(ctx, c)) return;
        auto it = st.sessions.find(c.req.session_id);
        if (it == st.sessions.end()) {
          if (!st.loader) return unknown_session_api(self, ctx, store, c, 0);
          // Lazy reload: the session may have been created or loaded by another node (or by
          // this node before a restart). Ask the store before answering.
          auto call = std::make_shared<api_call>(std::move(c));
          self->request(st.loader, std::chrono::seconds(5), load_atom::value, call->req.session_id)
              .then(
                  [=](load_reply& r) {
                    auto& st = self->state;
                    auto again = st.sessions.find(call->req.session_id);
                    if (again != st.sessions.end()) {
                      self->send(again->second, api_atom::value, std::move(*call));
                    } else if (r.status == persistence::store_status::ok) {
                      adopt(self, ctx, store, std::move(r.record), r.version);
                      auto s = st.sessions.find(call->req.session_id);
                      if (s == st.sessions.end())
                        return reply_error(call->responder, 503, "relay_at_capacity",
                                           "Relay holds its maximum number of sessions. Retry "
                                           "later.");
                      self->send(s->second, api_atom::value, std::move(*call));
                    } else if (r.status == persistence::store_status::unavailable &&
                               call->req.r != proto::route::pair_start) {
                      store_unavailable(ctx, *call, "store unavailable");
                    } else {
                      unknown_session_api(self, ctx, store, *call, r.version);
                    }
                  },
                  [=](caf::error& e) { store_unavailable(ctx, *call, caf::to_string(e)); });
          return;
        }
        self->send(it->second, api_atom::value, std::move(c));
      },
      [=](auth_atom, auth_request& a) {
        auto& st = self->state;
        if (st.shutting_down) return reject_auth(ctx, a, auth_failure::relay_over_capacity, false);
        if (route_auth(self, ctx, a)) return;
        // Forced reload (§4.5) before answering session_expired: the token may have been issued
        // or rotated by another node or before a restart. Coalesced, at most one per 250 ms.
        if (!st.loader || st.auth_waiting.size() >= 1024)
          return reject_auth(ctx, a, auth_failure::token_not_found, true);
        st.auth_waiting.push_back(std::move(a));
        request_reload(self, ctx, store);
      },
      [=](reload_atom) {
        self->state.reload_scheduled = false;
        request_reload(self, ctx, store);
      },
      // Runs while a loader (a shared store) is attached: every second, the epoch marker.
      [=](epoch_atom) {
        auto& st = self->state;
        st.epoch_timer = static_cast<bool>(st.loader);
        if (!st.epoch_timer) return;
        if (!st.epoch_inflight) check_epoch(self, ctx, nullptr);
        self->delayed_send(self, epoch_every, epoch_atom::value);
      },
      // (Re)attached by the supervisor; a restarted bus actor reaches every session too.
      [=](cluster_atom, cluster_actor cluster, loader_actor loader) {
        auto& st = self->state;
        bool fresh_bus = cluster != st.cluster;
        st.cluster = std::move(cluster);
        st.loader = std::move(loader);
        if (st.loader && !st.epoch_timer) {
          st.epoch_timer = true;
          self->delayed_send(self, epoch_every, epoch_atom::value);
        }
        if (fresh_bus && st.cluster)
          for (auto& [sid, s] : st.sessions) self->send(s, cluster_atom::value, st.cluster);
      },
      // Inbound bus envelope (already verified by the cluster actor).
      [=](bus_atom, bus_envelope& e) {
        auto& st = self->state;
        if (st.shutting_down) return;
        if (e.target == target::kill_all) {
          for (auto& [sid, s] : st.sessions)
            self->send(s, close_atom::value, proto::close_reason::session_expired, true);
          ctx->log(log_level::warn, "broker", "kill switch (from peer): all sessions",
                   ",\"source\":" + json_str(e.source_instance_id));
          return;
        }
        if (e.target == target::session_refresh) {
          if (!st.loader || !proto::is_opaque(e.session_id, proto::min_session_id_len)) return;
          auto e_sid = e.session_id;
          self->request(st.loader, std::chrono::seconds(5), load_atom::value, e.session_id)
              .then(
                  [=](load_reply& r) {
                    if (r.status == persistence::store_status::ok)
                      adopt(self, ctx, store, std::move(r.record), r.version);
                  },
                  [=](caf::error& err) {
                    ctx->log(log_level::warn, "broker", "session refresh load failed",
                             sid_field(e_sid) + ",\"error\":" + json_str(caf::to_string(err)));
                  });
          return;
        }
        auto it = st.sessions.find(e.session_id);
        if (it == st.sessions.end()) return;  // unknown locally: ignored (§5.4)
        self->send(it->second, bus_atom::value, std::move(e));
      },
      [=](gone_atom, const std::string& instance) {
        for (auto& [sid, s] : self->state.sessions) self->send(s, gone_atom::value, instance);
      },
      [=](busstate_atom, bool up) {
        for (auto& [sid, s] : self->state.sessions) self->send(s, busstate_atom::value, up);
      },
      [=](undeliv_atom, const std::string& sid, const std::string& device) {
        auto it = self->state.sessions.find(sid);
        if (it != self->state.sessions.end()) self->send(it->second, undeliv_atom::value, device);
      },
      // A member joined or came back after missed heartbeats (partition, NATS outage, SIGSTOP):
      // every session re-announces what this node holds (presence, phone count).
      [=](announce_atom, const std::string& instance) {
        for (auto& [sid, s] : self->state.sessions) self->send(s, announce_atom::value, instance);
      },
      [=](members_atom) -> caf::result<std::string> {
        auto& st = self->state;
        if (st.cluster) {
          auto rp = self->make_response_promise<std::string>();
          self->request(st.cluster, std::chrono::seconds(3), members_atom::value)
              .then(
                  [=](std::string& s) mutable {
                    auto j = proto::parse_untrusted(s);
                    if (j.is_object()) {
                      j["storeEpoch"] = self->state.epoch;  // a random marker, not a secret
                      j["storeWritebacks"] = self->state.writebacks;
                      s = j.dump();
                    }
                    rp.deliver(std::move(s));
                  },
                  [=](caf::error& e) mutable { rp.deliver(std::move(e)); });
          return rp;
        }
        return proto::json{{"instanceID", ctx->instance_id},
                           {"nodeName", ctx->cfg.node_name},
                           {"busEnabled", false},
                           {"members", proto::json::array()}}
            .dump();
      },
      [=](index_atom, std::vector<index_op>& ops) {
        self->state.tokens.apply(ops);
        set_token_gauge(self, ctx);
      },
      [=](restore_atom, session_record& rec, uint64_t version) {
        auto& st = self->state;
        if (st.sessions.count(rec.session_id)) return;
        auto s = spawn_session(self, ctx, store, rec.session_id);
        self->send(s, restore_atom::value, std::move(rec), version);
      },
      // A session closed itself; it quits once we answer (see session close()).
      [=](closed_atom, const std::string& sid) -> bool {
        auto& st = self->state;
        auto it = st.sessions.find(sid);
        if (it != st.sessions.end() && it->second.address() == self->current_sender()) {
          self->demonitor(it->second.address());
          st.sessions.erase(it);
        }
        return true;
      },
      [=](sweep_atom) {
        auto& st = self->state;
        int64_t n = now_of(ctx);
        st.tokens.expire(n);
        set_token_gauge(self, ctx);
        for (auto& [sid, s] : st.sessions) self->send(s, sweep_atom::value);
        if (st.ip_limiter) self->send(st.ip_limiter, prune_atom::value);
        self->delayed_send(self, std::chrono::milliseconds(ctx->cfg.sweep_interval_ms),
                           sweep_atom::value);
      },
      // Kill switch for one session: its sockets are told `reason` and it is forgotten.
      [=](kill_atom, const std::string& sid, proto::close_reason reason) -> caf::result<bool> {
        auto& st = self->state;
        auto it = st.sessions.find(sid);
        if (it == st.sessions.end() && st.loader) {
          // Not held here: load it so that closing it deletes it and tells the peers.
          auto rp = self->make_response_promise<bool>();
          self->request(st.loader, std::chrono::seconds(5), load_atom::value, sid)
              .then(
                  [=](load_reply& r) mutable {
                    if (r.status != persistence::store_status::ok) {
                      rp.deliver(false);
                      return;
                    }
                    adopt(self, ctx, store, std::move(r.record), r.version);
                    auto s = self->state.sessions.find(sid);
                    if (s == self->state.sessions.end()) {
                      rp.deliver(false);
                      return;
                    }
                    self->send(s->second, close_atom::value, reason, true);
                    ctx->log(log_level::warn, "broker", "kill switch: session",
                             sid_field(sid) + ",\"reason\":" + json_str(proto::to_string(reason)));
                    rp.deliver(true);
                  },
                  [=](caf::error& e) mutable {
                    ctx->log(log_level::warn, "broker", "kill switch: load failed",
                             sid_field(sid) + ",\"error\":" + json_str(caf::to_string(e)));
                    rp.deliver(false);
                  });
          return rp;
        }
        if (it == st.sessions.end()) return false;
        self->send(it->second, close_atom::value, reason, true);
        ctx->log(log_level::warn, "broker", "kill switch: session",
                 sid_field(sid) + ",\"reason\":" + json_str(proto::to_string(reason)));
        return true;
      },
      // Kill switch for every session. `delete_records` false on shutdown: state survives restarts.
      [=](killall_atom, proto::close_reason reason, bool delete_records) -> uint64_t {
        auto& st = self->state;
        uint64_t n = st.sessions.size();
        for (auto& [sid, s] : st.sessions) self->send(s, close_atom::value, reason, delete_records);
        if (delete_records && st.cluster)  // cluster-wide: every peer closes its sessions too
          self->send(st.cluster, publish_atom::value, control_atom::value,
                     make_envelope("", target::kill_all,
                                   proto::json{{"type", "relay.kill_all"},
                                               {"reason", proto::to_string(reason)}}
                                       .dump()));
        ctx->log(log_level::warn, "broker", "kill switch: all sessions",
                 ",\"reason\":" + json_str(proto::to_string(reason)) +
                     ",\"sessions\":" + std::to_string(n));
        return n;
      },
      [=](shutdown_atom) -> uint64_t {
        auto& st = self->state;
        st.shutting_down = true;
        uint64_t n = st.sessions.size();
        for (auto& [sid, s] : st.sessions)
          self->send(s, close_atom::value, proto::close_reason::server_shutdown, false);
        return n;
      },
      [=](describe_atom, uint64_t limit) -> caf::result<std::string> {
        auto& st = self->state;
        int64_t n = now_of(ctx);
        auto j = actor_info("broker", self->id(), self->mailbox().size(), st.spawned_at, n);
        j["state"] = st.shutting_down ? "shutting_down" : "running";
        j["sessions"] = st.sessions.size();
        j["desktopTokens"] = st.tokens.desktop_tokens();
        j["deviceTokens"] = st.tokens.device_tokens();
        std::vector<describable_actor> kids;
        if (st.ip_limiter) kids.push_back(st.ip_limiter);
        for (auto& [sid, s] : st.sessions) {
          if (kids.size() > limit) break;
          kids.push_back(s);
        }
        j["truncated"] = st.sessions.size() + (st.ip_limiter ? 1 : 0) > kids.size();
        return describe_with_children(self, std::move(j), kids, std::chrono::seconds(2));
      },
  };
}

}  // namespace

broker_actor spawn_broker(caf::actor_system& sys, context_ptr ctx, store_actor store) {
  return sys.spawn(broker_impl, std::move(ctx), std::move(store));
}

}  // namespace rc::actors
