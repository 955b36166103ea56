// Per-session limiter: the session command budget and the per-device command and snapshot
// budgets (RELAY_PROTOCOL §9.3, §10). Linked to its session.
#include <unordered_map>

#include "actors/actors.hpp"
#include "actors/common.hpp"
#include "protocol/tokens.hpp"

namespace rc::actors {

namespace {

struct session_limiter_state {
  fixed_window session_commands;
  std::unordered_map<std::string, fixed_window> device_commands;
  std::unordered_map<std::string, fixed_window> device_snapshots;
  int64_t spawned_at = 0;
  static inline const char* name = "session_limiter";
};

session_limiter_actor::behavior_type session_limiter_impl(
    session_limiter_actor::stateful_pointer<session_limiter_state> self, context_ptr ctx,
    std::string session_id) {
  self->state.spawned_at = now_of(ctx);
  ctx->metrics.limiter_actors.fetch_add(1);
  self->attach_functor([ctx] { ctx->metrics.limiter_actors.fetch_sub(1); });
  // Linked to its session: on the session's exit, release the bucket gauges and quit.
  self->set_exit_handler([self, ctx](caf::exit_msg& m) {
    ctx->metrics.command_buckets.fetch_sub(
        static_cast<int64_t>(self->state.device_commands.size()));
    ctx->metrics.snapshot_buckets.fetch_sub(
        static_cast<int64_t>(self->state.device_snapshots.size()));
    self->state.device_commands.clear();
    self->state.device_snapshots.clear();
    self->quit(m.reason);
  });
  auto drop_device = [self, ctx](const std::string& device_id) {
    if (self->state.device_commands.erase(device_id)) ctx->metrics.command_buckets.fetch_sub(1);
    if (self->state.device_snapshots.erase(device_id)) ctx->metrics.snapshot_buckets.fetch_sub(1);
  };
  return {
      // → (device budget ok, session budget ok). The device budget is consumed even when the
      // session budget then rejects (RELAY_PROTOCOL §9.3).
      [=](cmd_atom, const std::string& device_id) -> caf::result<bool, bool> {
        int64_t now = now_of(ctx);
        auto [it, fresh] = self->state.device_commands.try_emplace(device_id);
        if (fresh) ctx->metrics.command_buckets.fetch_add(1);
        if (!it->second.consume(now, ctx->cfg.max_remote_commands_per_minute))
          return {false, false};
        bool session_ok = self->state.session_commands.consume(
            now, ctx->cfg.max_remote_session_commands_per_minute);
        return {true, session_ok};
      },
      [=](snap_atom, const std::string& device_id) -> bool {
        auto [it, fresh] = self->state.device_snapshots.try_emplace(device_id);
        if (fresh) ctx->metrics.snapshot_buckets.fetch_add(1);
        return it->second.consume(now_of(ctx), ctx->cfg.max_snapshot_requests_per_minute);
      },
      [=](drop_atom, const std::string& device_id) { drop_device(device_id); },
      [=](describe_atom) -> std::string {
        auto j = actor_info("rate_limiter", self->id(), self->mailbox().size(),
                            self->state.spawned_at, now_of(ctx));
        j["scope"] = "session";
        j["sessionID"] = proto::redact_id(session_id);
        j["deviceCommandBuckets"] = self->state.device_commands.size();
        j["deviceSnapshotBuckets"] = self->state.device_snapshots.size();
        j["sessionCommandsInWindow"] = self->state.session_commands.count;
        return j.dump();
      },
  };
}

}  // namespace

session_limiter_actor spawn_session_limiter(caf::local_actor* parent, context_ptr ctx,
                                            std::string session_id) {
  return parent->spawn<caf::linked>(session_limiter_impl, std::move(ctx), std::move(session_id));
}

}  // namespace rc::actors
