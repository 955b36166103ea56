// Cluster actor: owns the NATS bus, signs and verifies envelopes, subscribes the subjects of the
// sessions with local sockets, tracks membership (CONFIG_REFERENCE §5).
//
//   session ──(publish_atom[, control_atom], envelope)──▶ cluster ──▶ NATS (one FIFO per node)
//   NATS thread ──(inbound_atom, subject, data)──▶ cluster ──(bus_atom, envelope)──▶ broker
//   broker ──(bus_atom, envelope)──▶ session
//   session ──(sockets_atom, sid, desktop, mobiles)──▶ cluster (subscribe N.session.<sid>)
#include "actors/cluster.hpp"

#include <map>
#include <set>

#include "actors/common.hpp"
#include "persistence/nats_bus.hpp"
#include "protocol/time.hpp"
#include "protocol/tokens.hpp"

namespace rc::actors {

namespace {

constexpr auto heartbeat_every = std::chrono::milliseconds(1000);
constexpr int64_t member_timeout_ms = 3000;  ///< missed heartbeats → member gone
constexpr auto reconnect_every = std::chrono::milliseconds(1000);
constexpr std::size_t max_held_in_heartbeat = 20000;
/// A phone's command for a desktop on a peer must be answered by the peer's delivery notice
/// within this time, else the phone gets relay.error desktop_offline (issue 12).
constexpr auto delivery_timeout = std::chrono::milliseconds(1000);
constexpr std::size_t max_pending_deliveries = 10000;

struct pending_delivery {
  std::string sid;
  std::string device;
};

struct held_entry {
  bool desktop = false;
  uint64_t mobiles = 0;
  persistence::nats_bus::subscription_id sub = 0;  ///< 0 = not subscribed (bus down)
};

struct member_entry {
  proto::json info;
  int64_t last_seen_ms = 0;
  std::map<std::string, uint64_t> held;  ///< session id → phones it holds (from heartbeats)
};

}  // namespace

struct cluster_state {
  std::unique_ptr<persistence::nats_bus> bus;
  std::unique_ptr<persistence::replay_guard> guard;
  std::map<std::string, held_entry> held;
  std::map<std::string, member_entry> members;
  std::map<std::string, uint64_t> dropped;             ///< inbound verdict → count
  std::map<std::string, pending_delivery> deliveries;  ///< nonce → awaiting the peer's answer
  uint64_t delivered = 0, undelivered = 0, untracked = 0;
  uint64_t published = 0, received = 0, publish_failures = 0;
  bool leaving = false;
  bool connecting = false;
  int64_t connected_since = 0;
  static inline const char* name = "cluster";
};

using cluster_ptr = cluster_actor::stateful_pointer<cluster_state>;

namespace {

struct cluster_ops {
  cluster_ptr self;
  context_ptr ctx;
  broker_actor broker;

  cluster_state& st() { return self->state; }
  const std::string& prefix() { return ctx->cfg.nats_subject_prefix; }
  std::string session_subject(const std::string& sid) { return prefix() + ".session." + sid; }
  std::string control_subject() { return prefix() + ".control"; }
  std::string members_subject() { return prefix() + ".members"; }

  void gauge() {
    ctx->metrics.bus_subscriptions.store(
        st().bus ? static_cast<int64_t>(st().bus->subscription_count()) : 0);
  }

  persistence::nats_bus::message_handler handler() {
    caf::weak_actor_ptr weak = self->ctrl();
    return [weak](std::string subject, std::string data) {
      if (auto p = weak.lock())
        caf::anon_send(caf::actor_cast<cluster_actor>(p), inbound_atom::value, std::move(subject),
                       std::move(data));
    };
  }

  void subscribe_session(const std::string& sid, held_entry& h) {
    if (!st().bus || h.sub != 0) return;
    auto r = st().bus->subscribe(session_subject(sid), handler());
    if (r)
      h.sub = *r.value;
    else
      ctx->log(log_level::warn, "cluster", "subscribe failed",
               sid_field(sid) + ",\"error\":" + json_str(r.error));
    gauge();
  }

  void unsubscribe_session(held_entry& h) {
    if (st().bus && h.sub != 0) st().bus->unsubscribe(h.sub);
    h.sub = 0;
    gauge();
  }

  void connect() {
    if (st().bus || st().leaving) return;
    persistence::nats_bus_options o;
    o.url = ctx->cfg.nats_url;
    o.name = "relay-node " + ctx->cfg.node_name;
    o.no_echo = true;  // our own publishes never come back
    o.reconnect_wait = std::chrono::milliseconds(500);
    caf::weak_actor_ptr weak = self->ctrl();
    auto event = [weak](bool up) {
      if (auto p = weak.lock())
        caf::anon_send(caf::actor_cast<cluster_actor>(p), busstate_atom::value, up);
    };
    o.on_disconnected = [event] { event(false); };
    o.on_reconnected = [event] { event(true); };
    auto r = persistence::nats_bus::connect(std::move(o));
    if (!r) {
      if (!st().connecting)
        ctx->log(log_level::warn, "cluster", "NATS unreachable; retrying every second",
                 ",\"error\":" + json_str(r.error));
      st().connecting = true;
      self->delayed_send(self, reconnect_every, connect_atom::value);
      return;
    }
    st().bus = std::move(*r.value);
    st().connecting = false;
    for (const auto& subject : {control_subject(), members_subject()}) {
      auto s = st().bus->subscribe(subject, handler());
      if (!s)
        ctx->log(log_level::error, "cluster", "subscribe failed",
                 ",\"subject\":" + json_str(subject) + ",\"error\":" + json_str(s.error));
    }
    for (auto& [sid, h] : st().held) subscribe_session(sid, h);
    gauge();
    st().bus->flush(std::chrono::milliseconds(1000));
    ctx->metrics.bus_connected.store(st().bus->connected());
    st().connected_since = now_of(ctx);
    ctx->log(log_level::info, "cluster", "NATS connected",
             ",\"instanceID\":" + json_str(ctx->instance_id));
    heartbeat_publish();
  }

  static std::string new_nonce() {
    auto nonce = persistence::random_id(12);
    return nonce ? *nonce.value : proto::random_token(12);
  }

  void undelivered(const std::string& sid, const std::string& device) {
    ++st().undelivered;
    self->send(broker, undeliv_atom::value, sid, device);
  }

  /// A phone's command for the desktop on peer `instance`: published with a nonce we remember;
  /// the peer's delivery notice (delivery_notice) or the timer settles it. A peer that does not
  /// advertise deliveryAcks (older build) is sent the command untracked, as before.
  void publish_command(persistence::bus_envelope e, const std::string& instance,
                       const std::string& device) {
    std::string sid = e.session_id;
    auto m = st().members.find(instance);
    bool acks =
        m == st().members.end() || proto::bool_member(m->second.info, "deliveryAcks", false);
    if (!acks || st().deliveries.size() >= max_pending_deliveries) {
      ++st().untracked;
      publish(session_subject(sid), std::move(e));
      return;
    }
    e.nonce = new_nonce();
    std::string nonce = e.nonce;
    if (!publish(session_subject(sid), std::move(e))) return undelivered(sid, device);
    st().deliveries[nonce] = pending_delivery{sid, device};
    self->delayed_send(self, delivery_timeout, undeliv_atom::value, nonce);
  }

  void delivery_expired(const std::string& nonce) {
    auto it = st().deliveries.find(nonce);
    if (it == st().deliveries.end()) return;  // answered in time
    auto p = std::move(it->second);
    st().deliveries.erase(it);
    undelivered(p.sid, p.device);
  }

  /// The desktop's node answered one of our commands (issue 12).
  void delivery_notice(const persistence::bus_envelope& e) {
    auto j = proto::parse_untrusted(e.payload);
    auto it = st().deliveries.find(proto::string_member(j, "nonce"));
    if (it == st().deliveries.end() || it->second.sid != e.session_id) return;
    auto p = std::move(it->second);
    st().deliveries.erase(it);
    if (proto::bool_member(j, "delivered", false))
      ++st().delivered;
    else
      undelivered(p.sid, p.device);
  }

  bool publish(const std::string& subject, persistence::bus_envelope env) {
    if (!st().bus) {
      ++st().publish_failures;
      return false;
    }
    env.source_instance_id = ctx->instance_id;
    env.issued_at_ms = now_of(ctx);
    if (env.nonce.empty()) env.nonce = new_nonce();
    auto wire = persistence::encode_signed(std::move(env), ctx->cfg.nats_hmac_secret);
    if (!wire) {
      ++st().publish_failures;
      ctx->log(log_level::warn, "cluster", "envelope encode failed",
               ",\"error\":" + json_str(wire.error));
      return false;
    }
    auto out = st().bus->publish(subject, *wire.value);
    if (!out) {
      ++st().publish_failures;
      return false;
    }
    ++st().published;
    return true;
  }

  proto::json local_info(bool with_held, bool redact) {
    auto& m = ctx->metrics;
    proto::json held = proto::json::array();
    std::size_t n = 0;
    if (with_held)
      for (auto& [sid, h] : st().held) {
        if (++n > max_held_in_heartbeat) break;
        held.push_back({{"sessionID", redact ? proto::redact_id(sid) : sid},
                        {"desktop", h.desktop},
                        {"mobiles", h.mobiles}});
      }
    return proto::json{{"instanceID", ctx->instance_id},
                       {"nodeName", ctx->cfg.node_name},
                       {"address", ctx->cfg.public_base_url},
                       {"wsURL", ctx->cfg.default_ws_url()},
                       {"startedAt", proto::format_rfc3339_ms(ctx->started_at_ms)},
                       {"sessions", m.sessions.load()},
                       {"sockets", m.active_websockets.load()},
                       {"load",
                        {{"sessions", m.sessions.load()},
                         {"activeWebSockets", m.active_websockets.load()},
                         {"openSockets", ctx->io ? ctx->io->ws_open.load() : 0},
                         {"pendingJoinWaiters", m.pending_join_waiters.load()},
                         {"sessionsWithSockets", st().held.size()}}},
                       {"busConnected", m.bus_connected.load()},
                       {"redisEnabled", m.redis_enabled.load()},
                       {"redisHealthy", m.redis_healthy.load()},
                       {"shuttingDown", m.shutting_down.load()},
                       {"held", held},
                       {"heldTruncated", st().held.size() > max_held_in_heartbeat},
                       {"deliveryAcks", true}};
  }

  void heartbeat_publish() {
    if (!st().bus || st().leaving) return;
    publish(members_subject(),
            make_envelope("", target::heartbeat, local_info(true, false).dump()));
  }

  void expire_members() {
    int64_t n = now_of(ctx);
    for (auto it = st().members.begin(); it != st().members.end();) {
      if (n - it->second.last_seen_ms > member_timeout_ms) {
        std::string id = it->first;
        ctx->log(log_level::warn, "cluster", "member missed heartbeats; removed",
                 ",\"instanceID\":" + json_str(id) + ",\"nodeName\":" +
                     json_str(proto::string_member(it->second.info, "nodeName")));
        it = st().members.erase(it);
        self->send(broker, gone_atom::value, id);
      } else {
        ++it;
      }
    }
  }

  void member_message(const persistence::bus_envelope& e) {
    const std::string& id = e.source_instance_id;
    if (e.target == target::leave) {
      if (st().members.erase(id)) {
        ctx->log(log_level::info, "cluster", "member left", ",\"instanceID\":" + json_str(id));
        self->send(broker, gone_atom::value, id);
      }
      return;
    }
    if (e.target != target::heartbeat) return;
    auto info = proto::parse_untrusted(e.payload);
    if (!info.is_object()) return;
    bool fresh = !st().members.count(id);
    auto& m = st().members[id];
    m.last_seen_ms = now_of(ctx);
    m.held.clear();
    if (auto h = info.find("held"); h != info.end() && h->is_array())
      for (auto& x : *h)
        if (x.is_object() && x.contains("sessionID") && x["sessionID"].is_string())
          m.held[x["sessionID"].get<std::string>()] =
              x.contains("mobiles") && x["mobiles"].is_number_unsigned()
                  ? x["mobiles"].get<uint64_t>()
                  : 0;
    m.info = std::move(info);
    if (fresh) {
      ctx->log(log_level::info, "cluster", "member joined",
               ",\"instanceID\":" + json_str(id) +
                   ",\"nodeName\":" + json_str(proto::string_member(m.info, "nodeName")));
      // New, or back after it was declared gone: it may have told its phones that our
      // desktops are offline. Re-announce (issue 12: presence heals after a gap).
      self->send(broker, announce_atom::value, id);
    }
  }

  void inbound(const std::string& subject, const std::string& data) {
    ++st().received;
    auto r = persistence::accept_inbound(data, ctx->cfg.nats_hmac_secret, ctx->instance_id,
                                         *st().guard, now_of(ctx));
    if (r.verdict != persistence::envelope_verdict::accepted) {
      if (r.verdict == persistence::envelope_verdict::own_message) return;
      auto c = ++st().dropped[persistence::to_string(r.verdict)];
      if ((c & (c - 1)) == 0)  // 1, 2, 4, 8, ...: bounded log volume under a flood
        ctx->log(log_level::warn, "cluster", "bus envelope dropped",
                 ",\"verdict\":" + json_str(persistence::to_string(r.verdict)) + ",\"subject\":" +
                     json_str(subject.substr(0, 200)) + ",\"count\":" + std::to_string(c));
      return;
    }
    auto& e = r.envelope;
    if (subject == members_subject()) return member_message(e);
    if (subject == control_subject()) {
      self->send(broker, bus_atom::value, std::move(e));
      return;
    }
    // Session subject: the envelope must be about the session of its subject.
    if (subject != session_subject(e.session_id)) {
      ++st().dropped["subject_mismatch"];
      return;
    }
    if (e.target == target::delivery) return delivery_notice(e);
    if (e.target != target::desktop && e.target != target::mobile) return;
    self->send(broker, bus_atom::value, std::move(e));
  }

  std::string describe_members() {
    int64_t n = now_of(ctx);
    auto arr = proto::json::array();
    auto me = local_info(true, true);
    me["self"] = true;
    me["lastSeenMsAgo"] = 0;
    me["healthy"] = ctx->metrics.bus_connected.load() && ctx->metrics.redis_healthy.load();
    arr.push_back(std::move(me));
    for (auto& [id, m] : st().members) {
      auto j = m.info;
      if (auto h = j.find("held"); h != j.end() && h->is_array())
        for (auto& x : *h)
          if (x.is_object() && x.contains("sessionID") && x["sessionID"].is_string())
            x["sessionID"] = proto::redact_id(x["sessionID"].get<std::string>());
      j["self"] = false;
      j["lastSeenMsAgo"] = n - m.last_seen_ms;
      j["healthy"] = n - m.last_seen_ms <= 2 * heartbeat_every.count() &&
                     proto::bool_member(j, "busConnected", false) &&
                     proto::bool_member(j, "redisHealthy", true);
      arr.push_back(std::move(j));
    }
    proto::json dropped = proto::json::object();
    for (auto& [k, v] : st().dropped) dropped[k] = v;
    return proto::json{{"instanceID", ctx->instance_id},
                       {"nodeName", ctx->cfg.node_name},
                       {"busEnabled", true},
                       {"busConnected", ctx->metrics.bus_connected.load()},
                       {"memberCount", arr.size()},
                       {"members", arr},
                       {"published", st().published},
                       {"received", st().received},
                       {"publishFailures", st().publish_failures},
                       {"commandsDelivered", st().delivered},
                       {"commandsUndelivered", st().undelivered},
                       {"commandsUntracked", st().untracked},
                       {"deliveriesPending", st().deliveries.size()},
                       {"dropped", dropped}}
        .dump();
  }
};

}  // namespace

namespace {

cluster_actor::behavior_type cluster_impl(cluster_ptr self, context_ptr ctx, broker_actor broker) {
  persistence::replay_limits lim;
  lim.window_ms = static_cast<int64_t>(ctx->cfg.nats_replay_window_ms);
  lim.max_clock_skew_ms = static_cast<int64_t>(ctx->cfg.nats_max_clock_skew_ms);
  self->state.guard = std::make_unique<persistence::replay_guard>(lim);
  ctx->metrics.bus_enabled.store(true);
  auto ops = std::make_shared<cluster_ops>(cluster_ops{self, ctx, broker});
  self->attach_functor([ctx] { ctx->metrics.bus_connected.store(false); });
  self->send(self, connect_atom::value);
  self->delayed_send(self, heartbeat_every, heartbeat_atom::value);
  return {
      [=](connect_atom) { ops->connect(); },
      [=](publish_atom, bus_envelope& e) {
        auto subject = ops->session_subject(e.session_id);
        ops->publish(subject, std::move(e));
      },
      [=](publish_atom, control_atom, bus_envelope& e) {
        ops->publish(ops->control_subject(), std::move(e));
      },
      [=](publish_atom, ack_atom, bus_envelope& e, const std::string& instance,
          const std::string& device) { ops->publish_command(std::move(e), instance, device); },
      [=](undeliv_atom, const std::string& nonce) { ops->delivery_expired(nonce); },
      [=](sockets_atom, const std::string& sid, bool desktop, uint64_t mobiles) {
        auto& st = self->state;
        if (!desktop && mobiles == 0) {
          auto it = st.held.find(sid);
          if (it == st.held.end()) return;
          ops->unsubscribe_session(it->second);
          st.held.erase(it);
          return;
        }
        auto& h = st.held[sid];
        h.desktop = desktop;
        h.mobiles = mobiles;
        ops->subscribe_session(sid, h);
      },
      // Same, answered once NATS has processed the subscription (flush = PING/PONG), so that a
      // socket is only told auth_ok when envelopes for its session can reach this node.
      [=](sockets_atom, ack_atom, const std::string& sid, bool desktop,
          uint64_t mobiles) -> std::string {
        auto& st = self->state;
        auto& h = st.held[sid];
        bool fresh = h.sub == 0;
        h.desktop = desktop;
        h.mobiles = mobiles;
        ops->subscribe_session(sid, h);
        if (fresh && h.sub != 0 && st.bus) st.bus->flush(std::chrono::milliseconds(500));
        proto::json counts = proto::json::object();
        for (auto& [id, m] : st.members)
          if (auto it = m.held.find(sid); it != m.held.end() && it->second > 0)
            counts[id] = it->second;
        return counts.dump();
      },
      [=](inbound_atom, const std::string& subject, const std::string& data) {
        ops->inbound(subject, data);
      },
      [=](busstate_atom, bool up) {
        if (self->state.leaving) return;  // our own close
        ctx->metrics.bus_connected.store(up);
        ctx->log(up ? log_level::info : log_level::warn, "cluster",
                 up ? "NATS reconnected; subscriptions restored" : "NATS connection lost");
        // Lost: phones here whose desktop is on a peer are told it is gone (events from it may
        // be missed); back: the re-announce/probe answer says desktop_status true, and the
        // PWA resyncs on that flip with a snapshot request (issue 12, events during an outage).
        if (!up) self->send(broker, busstate_atom::value, false);
        if (up) {
          ops->heartbeat_publish();
          self->send(broker, announce_atom::value, std::string{});  // re-announce after a gap
        }
      },
      [=](heartbeat_atom) {
        if (self->state.leaving) return;
        if (self->state.bus) ctx->metrics.bus_connected.store(self->state.bus->connected());
        ops->heartbeat_publish();
        ops->expire_members();
        self->delayed_send(self, heartbeat_every, heartbeat_atom::value);
      },
      [=](held_atom, const std::string& sid) -> bool {
        for (auto& [id, m] : self->state.members)
          if (m.held.count(sid)) return true;
        return false;
      },
      [=](members_atom) -> std::string { return ops->describe_members(); },
      [=](leave_atom) -> bool {
        auto& st = self->state;
        if (st.leaving) return true;
        if (st.bus) {
          ops->publish(ops->members_subject(), make_envelope("", target::leave, "{}"));
          st.bus->flush(std::chrono::milliseconds(500));
        }
        st.leaving = true;
        if (st.bus) st.bus->close();
        ctx->metrics.bus_connected.store(false);
        return true;
      },
  };
}

}  // namespace

cluster_actor spawn_cluster(caf::actor_system& sys, context_ptr ctx, broker_actor broker) {
  return sys.spawn<caf::detached>(cluster_impl, std::move(ctx), std::move(broker));
}

}  // namespace rc::actors
