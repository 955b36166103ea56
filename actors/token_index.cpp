#include "actors/token_index.hpp"

#include "protocol/tokens.hpp"

namespace rc::actors {

// ---- token_index ----------------------------------------------------------------------------

void token_index::apply(const std::vector<index_op>& ops) {
  for (const auto& o : ops) {
    switch (o.kind) {
      case index_op::add_desktop:
        desktop_[o.token] = o.session_id;
        break;
      case index_op::add_device:
        device_[o.token] = device_entry{o.session_id, o.device_id, o.expires_at_ms};
        break;
      case index_op::remove:
        desktop_.erase(o.token);
        device_.erase(o.token);
        break;
    }
  }
}

void token_index::adopt(const persistence::session_record& rec, int64_t now) {
  desktop_[rec.desktop_session_token] = rec.session_id;
  for (const auto& [id, d] : rec.devices) {
    device_[d.current_session_token] = device_entry{rec.session_id, id, 0};
    for (const auto& r : d.retired_session_tokens)
      if (r.expires_at_ms > now)
        device_[r.token] = device_entry{rec.session_id, id, r.expires_at_ms};
  }
}

const std::string* token_index::desktop(const std::string& token) const {
  auto it = desktop_.find(token);
  return it == desktop_.end() ? nullptr : &it->second;
}

const token_index::device_entry* token_index::device(const std::string& token, int64_t now) const {
  auto it = device_.find(token);
  if (it == device_.end()) return nullptr;
  if (it->second.expires_at_ms != 0 && it->second.expires_at_ms <= now) return nullptr;
  return &it->second;
}

void token_index::drop_session(const std::string& session_id) {
  for (auto d = desktop_.begin(); d != desktop_.end();)
    d = d->second == session_id ? desktop_.erase(d) : std::next(d);
  for (auto d = device_.begin(); d != device_.end();)
    d = d->second.session_id == session_id ? device_.erase(d) : std::next(d);
}

void token_index::expire(int64_t now) {
  for (auto d = device_.begin(); d != device_.end();)
    d = d->second.expires_at_ms != 0 && d->second.expires_at_ms <= now ? device_.erase(d)
                                                                       : std::next(d);
}

// ---- session_tokens -------------------------------------------------------------------------

index_op session_tokens::op(index_op::kind_t kind, const std::string& token,
                            const std::string& device_id, int64_t expires_at_ms) const {
  index_op o;
  o.kind = kind;
  o.token = token;
  o.session_id = rec_.session_id;
  o.device_id = device_id;
  o.expires_at_ms = expires_at_ms;
  return o;
}

bool session_tokens::desktop_ok(const std::string& token) const {
  return proto::constant_time_equal(token, rec_.desktop_session_token);
}

std::vector<index_op> session_tokens::device(const std::string& device_id,
                                             const persistence::device_record& d, bool add) const {
  auto kind = add ? index_op::add_device : index_op::remove;
  std::vector<index_op> ops;
  ops.push_back(op(kind, d.current_session_token, device_id));
  for (const auto& r : d.retired_session_tokens)
    ops.push_back(op(kind, r.token, device_id, r.expires_at_ms));
  return ops;
}

std::vector<index_op> session_tokens::all(bool add) const {
  std::vector<index_op> ops;
  ops.push_back(op(add ? index_op::add_desktop : index_op::remove, rec_.desktop_session_token, {}));
  for (const auto& [id, dev] : rec_.devices) {
    auto more = device(id, dev, add);
    ops.insert(ops.end(), more.begin(), more.end());
  }
  return ops;
}

void session_tokens::prune(persistence::device_record& d, const std::string& device_id, int64_t now,
                           std::vector<index_op>& ops) const {
  auto& r = d.retired_session_tokens;
  for (auto it = r.begin(); it != r.end();) {
    if (it->expires_at_ms <= now) {
      ops.push_back(op(index_op::remove, it->token, device_id));
      it = r.erase(it);
    } else {
      ++it;
    }
  }
  while (r.size() > max_retired) {
    ops.push_back(op(index_op::remove, r.front().token, device_id));
    r.erase(r.begin());
  }
}

std::vector<index_op> session_tokens::prune_all(int64_t now) {
  std::vector<index_op> ops;
  for (auto& [id, d] : rec_.devices) prune(d, id, now, ops);
  return ops;
}

bool session_tokens::device_accepts(const persistence::device_record& d, const std::string& token,
                                    int64_t now) {
  bool ok = proto::constant_time_equal(token, d.current_session_token);
  for (const auto& rt : d.retired_session_tokens)
    ok = (rt.expires_at_ms > now && proto::constant_time_equal(token, rt.token)) || ok;
  return ok;
}

session_tokens::rotation session_tokens::rotate(persistence::device_record& d,
                                                const std::string& device_id,
                                                const std::string& next, int64_t now,
                                                int64_t grace_ms) const {
  rotation out;
  out.before = d;
  std::string old = d.current_session_token;
  d.current_session_token = next;
  if (grace_ms > 0) {
    d.retired_session_tokens.push_back({old, now + grace_ms});
    out.ops.push_back(op(index_op::add_device, old, device_id, now + grace_ms));
  } else {
    out.ops.push_back(op(index_op::remove, old, device_id));
  }
  prune(d, device_id, now, out.ops);
  d.last_seen_at_ms = now;
  out.ops.push_back(op(index_op::add_device, next, device_id));
  return out;
}

}  // namespace rc::actors
