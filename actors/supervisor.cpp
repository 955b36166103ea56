// Node supervisor: monitors the long-lived actors (store, broker, ip limiter, loader, cluster)
// and applies supervision_tree()'s policy when one of them ends abnormally. Sessions are
// supervised by the broker (restart from the store); devices and session limiters are linked to
// their session (one-for-all: their failure restarts the session).
#include "actors/supervisor.hpp"

#include <algorithm>

#include "actors/common.hpp"

namespace rc::actors {

const char* to_string(restart_policy p) {
  switch (p) {
    case restart_policy::restart:
      return "restart";
    case restart_policy::escalate:
      return "escalate";
    case restart_policy::fail_node:
      return "fail_node";
  }
  return "unknown";
}

const std::vector<supervision_entry>& supervision_tree() {
  using p = restart_policy;
  static const std::vector<supervision_entry> tree = {
      {"node", "store", p::fail_node, "every session holds its handle: the node exits 1"},
      {"node", "broker", p::fail_node,
       "owns the session registry and token index: the node exits 1"},
      {"node", "ip_limiter", p::fail_node, "the gateway holds its handle: the node exits 1"},
      {"node", "loader", p::restart, "new store connection, re-attached to the broker"},
      {"node", "cluster", p::restart,
       "reconnects to NATS, re-attached to the broker and every session (sockets re-reported)"},
      {"broker", "session", p::restart,
       "restored from its persisted record (none: not restarted); sockets told server_shutdown"},
      {"session", "device", p::escalate, "the session ends and the broker restarts it"},
      {"session", "session_limiter", p::escalate, "the session ends and the broker restarts it"},
  };
  return tree;
}

namespace {

restart_policy policy_of(const std::string& child) {
  for (const auto& e : supervision_tree())
    if (std::string(e.parent) == "node" && e.child == child) return e.policy;
  return restart_policy::fail_node;  // unknown child: fail closed
}

using supervisor_ptr = supervisor_actor::stateful_pointer<supervisor_state>;

void adopt_child(supervisor_ptr self, const std::string& name, const caf::actor_addr& addr) {
  for (auto& c : self->state.children)
    if (c.name == name) {
      c.addr = addr;
      c.alive = true;
      return;
    }
  self->state.children.push_back(child_slot{name, addr, {}, 0, true});
}

/// Spawns a replacement for a restartable child and re-attaches it.
void restart(supervisor_ptr self, const context_ptr& ctx, child_slot& c) {
  auto& h = self->state.handles;
  auto& sys = self->system();
  if (c.name == "loader") {
    h.loader =
        spawn_loader(sys, ctx, self->state.opts.loader_store, self->state.opts.loader_detached);
    self->monitor(h.loader);
    c.addr = h.loader.address();
  } else {
    h.cluster = spawn_cluster(sys, ctx, h.broker);
    self->monitor(h.cluster);
    c.addr = h.cluster.address();
  }
  c.alive = true;
  self->send(h.broker, cluster_atom::value, h.cluster, h.loader);
}

void fail_node(supervisor_ptr self, const context_ptr& ctx, const std::string& child,
               const caf::error& reason) {
  ctx->log(log_level::error, "supervisor", "essential actor failed; stopping the node",
           ",\"child\":" + json_str(child) + ",\"error\":" + json_str(caf::to_string(reason)));
  if (self->state.fatal) return;
  self->state.fatal = true;
  if (self->state.opts.on_fatal) self->state.opts.on_fatal(child);
}

void on_down(supervisor_ptr self, const context_ptr& ctx, caf::down_msg& m) {
  auto& st = self->state;
  for (auto& c : st.children) {
    if (c.addr != m.source) continue;
    c.alive = false;
    // Stopped on purpose (node shutdown): nothing to do.
    if (!m.reason || m.reason == caf::exit_reason::normal ||
        m.reason == caf::exit_reason::user_shutdown)
      return;
    if (policy_of(c.name) != restart_policy::restart) return fail_node(self, ctx, c.name, m.reason);
    int64_t n = now_of(ctx);
    auto& r = c.restarts;
    r.erase(
        std::remove_if(r.begin(), r.end(), [n](int64_t t) { return n - t >= restart_window_ms; }),
        r.end());
    if (static_cast<int>(r.size()) >= max_restarts) return fail_node(self, ctx, c.name, m.reason);
    r.push_back(n);
    ++c.restart_total;
    ctx->log(log_level::error, "supervisor", "actor failed; restarting it",
             ",\"child\":" + json_str(c.name) + ",\"error\":" + json_str(caf::to_string(m.reason)));
    restart(self, ctx, c);
    return;
  }
}

supervisor_actor::behavior_type supervisor_impl(supervisor_ptr self, context_ptr ctx,
                                                relay_actors handles, relay_options opts) {
  self->state.handles = handles;
  self->state.opts = std::move(opts);
  auto watch = [self](const std::string& name, const auto& h) {
    if (!h) return;
    self->monitor(h);
    adopt_child(self, name, h.address());
  };
  watch("store", handles.store);
  watch("broker", handles.broker);
  watch("ip_limiter", handles.ip_limiter);
  watch("loader", handles.loader);
  watch("cluster", handles.cluster);
  self->set_down_handler([self, ctx](caf::down_msg& m) { on_down(self, ctx, m); });
  // Node shutdown (main sends user_shutdown): stop every child, then ourselves.
  self->set_exit_handler([self](caf::exit_msg& m) {
    auto& h = self->state.handles;
    auto stop = [&](const auto& child) {
      if (child) self->send_exit(child, m.reason);
    };
    stop(h.broker);
    stop(h.ip_limiter);
    stop(h.store);
    stop(h.loader);
    stop(h.cluster);
    self->quit(m.reason);
  });
  return {
      [=](children_atom) -> std::string {
        auto arr = proto::json::array();
        for (auto& c : self->state.children)
          arr.push_back({{"name", c.name},
                         {"policy", to_string(policy_of(c.name))},
                         {"alive", c.alive},
                         {"actorID", c.addr ? c.addr.id() : 0},
                         {"restarts", c.restart_total}});
        return proto::json{{"supervisor", "node"}, {"children", arr}}.dump();
      },
      [=](leave_atom) -> caf::result<bool> {
        auto& cluster = self->state.handles.cluster;
        if (!cluster) return true;
        auto rp = self->make_response_promise<bool>();
        self->request(cluster, std::chrono::seconds(2), leave_atom::value)
            .then([=](bool ok) mutable { rp.deliver(ok); },
                  [=](caf::error& e) mutable {
                    ctx->log(log_level::warn, "supervisor", "cluster leave failed",
                             ",\"error\":" + json_str(caf::to_string(e)));
                    rp.deliver(false);
                  });
        return rp;
      },
  };
}

}  // namespace

relay_actors spawn_relay(caf::actor_system& sys, context_ptr ctx, relay_options opts) {
  relay_actors a;
  a.store = spawn_store(sys, ctx, opts.store, opts.store_detached);
  a.broker = spawn_broker(sys, ctx, a.store);
  a.ip_limiter = spawn_ip_limiter(sys, ctx, a.broker);
  caf::anon_send(a.broker, attach_atom::value, a.ip_limiter);
  // Multi-node: a read-only store connection for lazy/forced reloads and the NATS bus.
  if (opts.loader_store) a.loader = spawn_loader(sys, ctx, opts.loader_store, opts.loader_detached);
  if (opts.with_cluster) a.cluster = spawn_cluster(sys, ctx, a.broker);
  if (a.loader || a.cluster) caf::anon_send(a.broker, cluster_atom::value, a.cluster, a.loader);
  a.supervisor = sys.spawn(supervisor_impl, ctx, a, std::move(opts));
  return a;
}

}  // namespace rc::actors
