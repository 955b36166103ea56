#include "gateway/conn_handler.hpp"

#include <algorithm>

#include "actors/common.hpp"
#include "protocol/tokens.hpp"

namespace rc::gw {

using namespace actors;

conn_handler::conn_handler(context_ptr ctx, broker_actor broker, std::shared_ptr<ws_peer> peer)
    : ctx_(std::move(ctx)), broker_(std::move(broker)), peer_(peer) {
  conn_id_ = proto::random_token(proto::connection_id_bytes);
  if (!peer->query_token().empty()) start_auth(peer->query_token());
}

void conn_handler::on_binary_first() {
  if (phase_ != phase::awaiting_auth && phase_ != phase::auth_pending) return;
  phase_ = phase::closed;
  ctx_->metrics.fail(auth_failure::auth_timeout_or_missing_payload);
  if (auto p = peer_.lock()) p->reject_missing_auth();
}

void conn_handler::on_text(std::string&& text) {
  switch (phase_) {
    case phase::awaiting_auth: {
      auto v = proto::parse_untrusted(text);
      const proto::json* type = nullptr;
      const proto::json* token = nullptr;
      if (v.is_object()) {
        auto t = v.find("type");
        auto k = v.find("token");
        if (t != v.end() && t->is_string()) type = &*t;
        if (k != v.end() && k->is_string()) token = &*k;
      }
      if (!type || !token) {
        phase_ = phase::closed;
        ctx_->metrics.fail(auth_failure::auth_timeout_or_missing_payload);
        if (auto p = peer_.lock()) p->reject_missing_auth();
        return;
      }
      const auto& tok = token->get_ref<const std::string&>();
      if (*type != "relay.auth" || !proto::is_opaque(tok, proto::min_token_len)) {
        phase_ = phase::closed;
        ctx_->metrics.fail(auth_failure::invalid_auth_payload);
        if (auto p = peer_.lock()) {
          count_credential_failure(ctx_, p->client_ip());
          p->drop();
        }
        return;
      }
      start_auth(tok);
      return;
    }
    case phase::auth_pending:
      if (early_.size() >= max_early_frames) {
        phase_ = phase::closed;
        if (auto p = peer_.lock()) p->disconnect(proto::close_reason::socket_rate_limited);
        return;
      }
      early_.push_back(std::move(text));
      return;
    case phase::desktop:
    case phase::mobile:
      route(std::move(text));
      return;
    case phase::closed:
      return;
  }
}

void conn_handler::start_auth(const std::string& token) {
  auto p = peer_.lock();
  if (!p) return;
  phase_ = phase::auth_pending;
  caf::anon_send(broker_, auth_atom::value, auth_request{token, conn_id_, p, weak_from_this()});
}

void conn_handler::authed(const actors::auth_grant& g) {
  session_ = g.session;
  device_ = g.device;
  session_id_ = g.session_id;
  device_id_ = g.device_id;
  bool desktop = g.desktop;
  if (socket_closed_) {  // the socket died while auth was in flight
    caf::anon_send(session_, detach_atom::value, conn_id_);
    return;
  }
  phase_ = desktop ? phase::desktop : phase::mobile;
  while (!early_.empty() && (phase_ == phase::desktop || phase_ == phase::mobile)) {
    auto t = std::move(early_.front());
    early_.pop_front();
    route(std::move(t));
  }
}

void conn_handler::route(std::string&& text) {
  auto p = peer_.lock();
  if (!p) return;
  if (phase_ == phase::mobile) {
    ctx_->metrics.messages_mobile_to_desktop.fetch_add(1, std::memory_order_relaxed);
    mobile_msg m{conn_id_, std::move(p), proto::classify_mobile(text, session_id_)};
    caf::anon_send(device_, mframe_atom::value, std::move(m));
    return;
  }
  // Desktop: forwarded byte-for-byte unless it is a pair decision or names another session.
  top_level_fields f;
  bool simple = scan_top_level(text, f);
  if (!simple || (f.has_session_id && f.session_id != session_id_) ||
      (f.has_type && f.type == "relay.pair_decision")) {
    auto v = proto::parse_untrusted(text);
    if (v.is_object()) {
      auto sid = v.find("sessionID");
      if (sid != v.end() && sid->is_string() && sid->get_ref<const std::string&>() != session_id_)
        return;
      auto type = v.find("type");
      if (type != v.end() && type->is_string() && *type == "relay.pair_decision") {
        auto rid = v.find("requestID");
        auto appr = v.find("approved");
        bool rid_ok = rid == v.end() || rid->is_string() || rid->is_null();
        bool appr_ok = appr == v.end() || appr->is_boolean() || appr->is_null();
        if (rid_ok && appr_ok) {  // otherwise not a decision: forwarded (reference quirk §8)
          std::string request_id =
              rid != v.end() && rid->is_string() ? rid->get<std::string>() : std::string{};
          bool approved = appr != v.end() && appr->is_boolean() && appr->get<bool>();
          bool has_rid = rid != v.end() && rid->is_string();
          caf::anon_send(session_, decide_atom::value, conn_id_, has_rid, request_id, approved);
          return;
        }
      }
    }
  }
  ctx_->metrics.messages_desktop_to_mobile.fetch_add(1, std::memory_order_relaxed);
  if (routes_) {  // zero actor hops: straight onto each phone's bounded queue
    auto frame = std::make_shared<const std::string>(std::move(text));
    for (const auto& r : *routes_) {
      if (r.peer->send(frame)) continue;
      if (std::find(failed_.begin(), failed_.end(), r.conn_id) != failed_.end()) continue;
      failed_.push_back(r.conn_id);
      caf::anon_send(session_, slow_atom::value, r.conn_id);
    }
    return;
  }
  caf::anon_send(
      session_, dframe_atom::value,
      desktop_msg{conn_id_, std::move(p), std::make_shared<const std::string>(std::move(text))});
}

void conn_handler::on_closed() {
  socket_closed_ = true;
  if ((phase_ == phase::desktop || phase_ == phase::mobile) && session_) {
    caf::anon_send(session_, detach_atom::value, conn_id_);
  }
  phase_ = phase::closed;
  early_.clear();
  ip_slot_.reset();  // the connection is gone: its address may open another
}

// ---------------------------------------------------------------------------------------------

namespace {
struct scanner {
  std::string_view s;
  std::size_t i = 0;
  void ws() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
  }
  // Reads a string at s[i] == '"'; returns false on escapes we do not decode (caller falls back).
  bool str(std::string* out, bool& escaped) {
    if (i >= s.size() || s[i] != '"') return false;
    ++i;
    std::size_t start = i;
    escaped = false;
    while (i < s.size()) {
      char c = s[i];
      if (c == '\\') {
        escaped = true;
        i += 2;
        continue;
      }
      if (c == '"') {
        if (out) out->assign(s.data() + start, i - start);
        ++i;
        return true;
      }
      if (static_cast<unsigned char>(c) < 0x20) return false;
      ++i;
    }
    return false;
  }
  bool skip_value() {
    ws();
    if (i >= s.size()) return false;
    char c = s[i];
    if (c == '"') {
      bool e;
      return str(nullptr, e);
    }
    if (c == '{' || c == '[') {
      int depth = 0;
      while (i < s.size()) {
        char d = s[i];
        if (d == '"') {
          bool e;
          if (!str(nullptr, e)) return false;
          continue;
        }
        if (d == '{' || d == '[') ++depth;
        if (d == '}' || d == ']') {
          if (--depth == 0) {
            ++i;
            return true;
          }
        }
        ++i;
      }
      return false;
    }
    std::size_t start = i;
    while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ' ' && s[i] != '\n' &&
           s[i] != '\r' && s[i] != '\t')
      ++i;
    return i > start;
  }
};
}  // namespace

bool scan_top_level(std::string_view text, top_level_fields& out) {
  scanner sc{text};
  sc.ws();
  if (sc.i >= text.size() || text[sc.i] != '{') return false;
  ++sc.i;
  sc.ws();
  if (sc.i < text.size() && text[sc.i] == '}') return true;
  while (sc.i < text.size()) {
    sc.ws();
    std::string key;
    bool escaped;
    if (!sc.str(&key, escaped) || escaped) return false;
    sc.ws();
    if (sc.i >= text.size() || text[sc.i] != ':') return false;
    ++sc.i;
    sc.ws();
    bool want = key == "sessionID" || key == "type";
    if (want && sc.i < text.size() && text[sc.i] == '"') {
      std::string v;
      if (!sc.str(&v, escaped) || escaped) return false;
      if (key == "sessionID") {
        if (out.has_session_id) return false;  // duplicate keys: let the full parser decide
        out.has_session_id = true;
        out.session_id = std::move(v);
      } else {
        if (out.has_type) return false;
        out.has_type = true;
        out.type = std::move(v);
      }
    } else if (!sc.skip_value()) {
      return false;
    }
    sc.ws();
    if (sc.i >= text.size()) return false;
    if (text[sc.i] == ',') {
      ++sc.i;
      continue;
    }
    if (text[sc.i] == '}') {
      ++sc.i;
      sc.ws();
      return sc.i == text.size();
    }
    return false;
  }
  return false;
}

}  // namespace rc::gw
