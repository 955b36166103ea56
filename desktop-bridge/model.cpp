#include "desktop-bridge/model.hpp"

#include <algorithm>
#include <cctype>

#include "protocol/time.hpp"
#include "protocol/url.hpp"

namespace rc::bridge {

namespace {

std::string trim(const std::string& s) {
  std::size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::optional<std::string> opt_string(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

bool is_uint_string(const std::string& s) {
  if (s.empty() || s.size() > 19) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool has_prefix_word(const std::string& id, std::initializer_list<const char*> words) {
  auto l = lower(id);
  for (auto w : words)
    if (l.rfind(w, 0) == 0) return true;
  return false;
}

bool is_negative_option(const std::string& id) {
  return has_prefix_word(id, {"decline", "deny", "reject", "cancel", "no", "stop", "dismiss"});
}
bool is_affirmative_option(const std::string& id) {
  return has_prefix_word(id, {"accept", "allow", "approve", "yes", "confirm", "continue", "grant",
                              "proceed", "submit", "ok"});
}

}  // namespace

// ---- lease / descriptor -----------------------------------------------------------------------

join_lease join_lease::make(int64_t now_ms, int64_t ttl_s) {
  join_lease l;
  l.token = rc::proto::secret(rc::proto::random_token(rc::proto::token_bytes));
  l.issued_ms = now_ms;
  l.expires_ms = now_ms + std::max<int64_t>(10, ttl_s) * 1000;
  return l;
}

bool join_lease::consume(const std::string& presented, int64_t now_ms) {
  if (!usable(now_ms)) return false;
  if (!rc::proto::constant_time_equal(presented, token.reveal())) return false;
  mark_used(now_ms);
  return true;
}

std::string build_join_url(const std::string& join_base, const std::string& session_id,
                           const std::string& join_token, const std::string& relay_ws_url) {
  std::string base = join_base;
  auto u = rc::proto::parse_url(join_base);
  if (u) base = u->origin() + (u->path.empty() ? "/" : u->path);
  else {
    auto cut = base.find_first_of("?#");
    if (cut != std::string::npos) base.resize(cut);
  }
  std::string out = base + "#sid=" + session_id + "&jt=" + join_token;
  if (auto origin = rc::proto::http_origin_from_ws(relay_ws_url)) out += "&relay=" + *origin;
  return out;
}

std::string relay_http_url(const std::string& relay_ws_url, const std::string& path) {
  auto o = rc::proto::http_origin_from_ws(relay_ws_url);
  return (o ? *o : std::string("http://127.0.0.1:8787")) + path;
}

std::string strip_token_query(const std::string& url) {
  auto q = url.find('?');
  if (q == std::string::npos) return url;
  auto frag = url.find('#', q);
  std::string query = url.substr(q + 1, frag == std::string::npos ? std::string::npos : frag - q - 1);
  std::string kept;
  std::size_t pos = 0;
  while (pos <= query.size()) {
    auto amp = query.find('&', pos);
    std::string item = query.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
    if (!item.empty() && item.rfind("token=", 0) != 0 && item != "token") {
      if (!kept.empty()) kept += "&";
      kept += item;
    }
    if (amp == std::string::npos) break;
    pos = amp + 1;
  }
  std::string out = url.substr(0, q);
  if (!kept.empty()) out += "?" + kept;
  if (frag != std::string::npos) out += url.substr(frag);
  return out;
}

session_descriptor session_descriptor::make(const std::string& join_base, const std::string& relay_ws_url,
                                            int64_t now_ms, int64_t ttl_s) {
  session_descriptor d;
  d.session_id = rc::proto::random_token(rc::proto::session_id_bytes);
  d.desktop_token = rc::proto::secret(rc::proto::random_token(rc::proto::token_bytes));
  d.relay_ws_url = strip_token_query(relay_ws_url);
  d.created_ms = now_ms;
  d.rotate_join_token(join_base, now_ms, ttl_s);
  return d;
}

void session_descriptor::rotate_join_token(const std::string& base, int64_t now_ms, int64_t ttl_s) {
  join_base = base;
  lease = join_lease::make(now_ms, ttl_s);
  join_url = build_join_url(base, session_id, lease.token.reveal(), relay_ws_url);
}

json session_descriptor::to_json() const {
  json j = {{"schemaVersion", 1},
            {"sessionID", session_id},
            {"joinToken", lease.token.reveal()},
            {"joinTokenIssuedAt", rc::proto::format_rfc3339_ms(lease.issued_ms)},
            {"joinTokenExpiresAt", rc::proto::format_rfc3339_ms(lease.expires_ms)},
            {"joinURL", join_url},
            {"joinBaseURL", join_base},
            {"relayWebSocketURL", relay_ws_url},
            {"desktopSessionToken", desktop_token.reveal()},
            {"createdAt", rc::proto::format_rfc3339_ms(created_ms)},
            {"idleTimeoutSeconds", idle_timeout_s}};
  if (lease.used_ms) j["joinTokenUsedAt"] = rc::proto::format_rfc3339_ms(*lease.used_ms);
  return j;
}

std::optional<session_descriptor> session_descriptor::from_json(const json& j) {
  try {
    if (!j.is_object() || j.value("schemaVersion", 0) != 1) return std::nullopt;
    session_descriptor d;
    d.session_id = j.at("sessionID").get<std::string>();
    d.lease.token = rc::proto::secret(j.at("joinToken").get<std::string>());
    auto issued = rc::proto::parse_rfc3339(j.at("joinTokenIssuedAt").get<std::string>());
    auto expires = rc::proto::parse_rfc3339(j.at("joinTokenExpiresAt").get<std::string>());
    auto created = rc::proto::parse_rfc3339(j.at("createdAt").get<std::string>());
    if (!issued || !expires || !created) return std::nullopt;
    d.lease.issued_ms = *issued;
    d.lease.expires_ms = *expires;
    if (auto u = opt_string(j, "joinTokenUsedAt")) {
      auto t = rc::proto::parse_rfc3339(*u);
      if (!t) return std::nullopt;
      d.lease.used_ms = *t;
    }
    d.join_url = j.at("joinURL").get<std::string>();
    d.join_base = j.value("joinBaseURL", std::string());
    d.relay_ws_url = j.at("relayWebSocketURL").get<std::string>();
    d.desktop_token = rc::proto::secret(j.at("desktopSessionToken").get<std::string>());
    d.created_ms = *created;
    d.idle_timeout_s = j.value("idleTimeoutSeconds", int64_t{1800});
    using rc::proto::is_opaque;
    if (!is_opaque(d.session_id, rc::proto::min_session_id_len) ||
        !is_opaque(d.lease.token.reveal(), rc::proto::min_token_len) ||
        !is_opaque(d.desktop_token.reveal(), rc::proto::min_token_len) ||
        !rc::proto::parse_url(d.relay_ws_url))
      return std::nullopt;
    return d;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

bool http_invalidates_session(int status, const std::string& body) {
  if (status == 401 || status == 403 || status == 404 || status == 410) return true;
  auto l = lower(body);
  if (status == 409 && l.find("session") != std::string::npos) return true;
  for (auto needle : {"session_not_found", "session expired", "session ended", "session stale"})
    if (l.find(needle) != std::string::npos) return true;
  return false;
}

bool disconnect_invalidates_session(const std::string& reason) {
  return reason == "device_revoked" || reason == "replaced_by_new_pair_start" ||
         reason == "session_expired" || reason == "stopped_by_desktop";
}

// ---- model ------------------------------------------------------------------------------------

std::string utf8_cut(const std::string& s, std::size_t max_bytes) {
  if (s.size() <= max_bytes) return s;
  std::size_t n = max_bytes;
  // back off continuation bytes so we cut at a character boundary
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

void model::apply(const runtime_event& ev) {
  std::visit(
      [this](const auto& e) {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, ev_status>) {
          connected_ = e.connected;
        } else if constexpr (std::is_same_v<T, ev_project>) {
          auto it = std::find_if(projects_.begin(), projects_.end(),
                                 [&](const project_info& p) { return p.id == e.project.id; });
          if (it == projects_.end())
            projects_.push_back(e.project);
          else
            *it = e.project;
          if (!sel_project_) sel_project_ = e.project.id;
        } else if constexpr (std::is_same_v<T, ev_thread>) {
          auto it = std::find_if(threads_.begin(), threads_.end(),
                                 [&](const thread_info& t) { return t.id == e.thread.id; });
          if (it == threads_.end())
            threads_.push_back(e.thread);
          else
            *it = e.thread;
          if (!sel_thread_ && !e.thread.archived) sel_thread_ = e.thread.id;
        } else if constexpr (std::is_same_v<T, ev_selection>) {
          if (e.project_id) sel_project_ = e.project_id;
          if (e.thread_id) sel_thread_ = e.thread_id;
        } else if constexpr (std::is_same_v<T, ev_message>) {
          add_message(e.message);
        } else if constexpr (std::is_same_v<T, ev_message_delta>) {
          auto& v = messages_[e.thread_id];
          auto it = std::find_if(v.rbegin(), v.rend(), [&](const message_info& m) { return m.id == e.message_id; });
          if (it == v.rend()) {
            message_info m;
            m.id = e.message_id;
            m.thread_id = e.thread_id;
            m.role = "assistant";
            m.text = e.delta;
            add_message(std::move(m));
          } else if (it->text.size() < 1024 * 1024) {
            it->text += e.delta;
          }
        } else if constexpr (std::is_same_v<T, ev_turn>) {
          set_running(e.thread_id, e.running);
        } else if constexpr (std::is_same_v<T, ev_request>) {
          requests_[e.request.id] = e.request;
        } else if constexpr (std::is_same_v<T, ev_request_resolved>) {
          requests_.erase(e.request_id);
        }
      },
      ev);
}

bool model::has_project(const std::string& id) const {
  return std::any_of(projects_.begin(), projects_.end(), [&](const project_info& p) { return p.id == id; });
}

const thread_info* model::find_thread(const std::string& id) const {
  for (auto& t : threads_)
    if (t.id == id) return &t;
  return nullptr;
}

bool model::thread_has_pending_request(const std::string& id) const {
  for (auto& [rid, r] : requests_)
    if (r.thread_id && *r.thread_id == id) return true;
  return false;
}

const runtime_request_info* model::find_request(uint64_t id) const {
  auto it = requests_.find(id);
  return it == requests_.end() ? nullptr : &it->second;
}

const std::vector<message_info>* model::messages(const std::string& thread_id) const {
  auto it = messages_.find(thread_id);
  return it == messages_.end() ? nullptr : &it->second;
}

void model::select_thread(const std::string& id) {
  sel_thread_ = id;
  if (auto t = find_thread(id); t && !t->project_id.empty()) sel_project_ = t->project_id;
}

void model::select_project(const std::string& id) {
  sel_project_ = id;
  auto cur = sel_thread_ ? find_thread(*sel_thread_) : nullptr;
  if (cur && cur->project_id == id) return;
  for (auto& t : threads_)
    if (t.project_id == id && !t.archived) {
      sel_thread_ = t.id;
      return;
    }
}

void model::add_message(message_info m) {
  if (m.created_at_ms == 0) m.created_at_ms = rc::proto::now_ms();
  auto& v = messages_[m.thread_id];
  for (auto& old : v)
    if (old.id == m.id) {
      old.text = std::move(m.text);
      old.role = std::move(m.role);
      return;
    }
  v.push_back(std::move(m));
  if (v.size() > max_messages_per_thread) v.erase(v.begin(), v.begin() + (v.size() - max_messages_per_thread));
}

void model::set_running(const std::string& thread_id, bool running) {
  if (running)
    running_.insert(thread_id);
  else
    running_.erase(thread_id);
}

std::vector<std::string> model::sync_threads(const snapshot_limits& lim) const {
  std::vector<std::string> out;
  auto add = [&](const std::string& id) {
    if (out.size() >= lim.max_sync_threads) return;
    if (std::find(out.begin(), out.end(), id) != out.end()) return;
    out.push_back(id);
  };
  if (sel_thread_) add(*sel_thread_);
  for (auto& id : running_) add(id);  // std::set: sorted by ID
  std::set<std::string> with_requests;
  for (auto& [rid, r] : requests_)
    if (r.thread_id) with_requests.insert(*r.thread_id);
  for (auto& id : with_requests) add(id);
  for (auto& t : threads_)
    if (!t.archived) add(t.id);
  return out;
}

json model::request_json(const runtime_request_info& r) {
  json j = {{"requestID", std::to_string(r.id)}, {"kind", r.kind}, {"title", r.title}, {"summary", r.summary}};
  if (r.thread_id) j["threadID"] = *r.thread_id;
  json ro = json::array();
  for (auto& o : r.response_options) ro.push_back({{"id", o.id}, {"label", o.label}});
  j["responseOptions"] = ro;
  j["permissions"] = r.permissions;
  json opts = json::array();
  for (auto& o : r.options) {
    json x = {{"id", o.id}, {"label", o.label}};
    if (o.description) x["description"] = *o.description;
    opts.push_back(x);
  }
  j["options"] = opts;
  if (r.scope_hint) j["scopeHint"] = *r.scope_hint;
  if (r.tool_name) j["toolName"] = *r.tool_name;
  if (r.server_name) j["serverName"] = *r.server_name;
  return j;
}

json model::snapshot(bool include_requests, const snapshot_limits& lim) const {
  json snap;
  json projects = json::array();
  for (auto& p : projects_) projects.push_back({{"id", p.id}, {"name", p.name}});
  json threads = json::array();
  for (auto& t : threads_)
    if (!t.archived)
      threads.push_back({{"id", t.id}, {"projectID", t.project_id}, {"title", t.title}, {"isPinned", t.pinned}});
  snap["projects"] = projects;
  snap["threads"] = threads;
  if (sel_project_ && !sel_project_->empty()) snap["selectedProjectID"] = *sel_project_;
  if (sel_thread_ && !sel_thread_->empty()) snap["selectedThreadID"] = *sel_thread_;

  json msgs = json::array();
  std::size_t count = 0, budget = lim.text_budget;
  bool stop = false;
  for (auto& tid : sync_threads(lim)) {
    if (stop) break;
    auto it = messages_.find(tid);
    if (it == messages_.end()) continue;
    auto& v = it->second;
    std::size_t window = (sel_thread_ && *sel_thread_ == tid) ? lim.selected_window : lim.other_window;
    std::size_t start = v.size() > window ? v.size() - window : 0;
    for (std::size_t i = start; i < v.size(); ++i) {
      if (count >= lim.max_messages) {
        stop = true;
        break;
      }
      auto& m = v[i];
      std::string text;
      if (!m.text.empty()) {
        if (budget == 0) {
          stop = true;
          break;
        }
        std::size_t limit = std::min(lim.per_message, budget);
        if (m.text.size() <= limit) {
          text = m.text;
        } else if (limit > 3) {
          text = utf8_cut(m.text, limit - 3) + "...";
        } else {
          text = utf8_cut(m.text, limit);
        }
        budget -= std::min(budget, text.size());
      }
      msgs.push_back({{"id", m.id},
                      {"threadID", m.thread_id},
                      {"role", m.role},
                      {"text", text},
                      {"createdAt", rc::proto::format_rfc3339_seconds_z(m.created_at_ms)}});
      ++count;
    }
  }
  snap["messages"] = msgs;
  if (sel_thread_ && !sel_thread_->empty()) {
    snap["turnState"] = {{"threadID", *sel_thread_},
                         {"isTurnInProgress", thread_running(*sel_thread_)},
                         {"isAwaitingRuntimeRequest", include_requests && thread_has_pending_request(*sel_thread_)}};
  }
  json reqs = json::array();
  if (include_requests)
    for (auto& [id, r] : requests_) reqs.push_back(request_json(r));
  snap["pendingRuntimeRequests"] = reqs;
  return snap;
}

void model::reset_baselines() {
  seen_msgs_.clear();
  seen_running_.clear();
  seen_requests_.clear();
  requests_baselined_ = false;
}

std::vector<json> model::collect_events(bool include_requests, const snapshot_limits& lim) {
  std::vector<json> out;
  for (auto& tid : sync_threads(lim)) {
    std::size_t window = (sel_thread_ && *sel_thread_ == tid) ? lim.selected_window : lim.other_window;
    auto mit = messages_.find(tid);
    std::set<std::string> now_ids;
    std::vector<const message_info*> fresh;
    bool first = seen_msgs_.find(tid) == seen_msgs_.end();
    auto& seen = seen_msgs_[tid];
    if (mit != messages_.end()) {
      auto& v = mit->second;
      std::size_t start = v.size() > window ? v.size() - window : 0;
      for (std::size_t i = start; i < v.size(); ++i) {
        now_ids.insert(v[i].id);
        if (!first && !seen.count(v[i].id)) fresh.push_back(&v[i]);
      }
    }
    for (auto* m : fresh)
      out.push_back({{"name", "thread.message.append"},
                     {"threadID", tid},
                     {"body", m->text},
                     {"messageID", m->id},
                     {"role", m->role},
                     {"createdAt", rc::proto::format_rfc3339_seconds_z(m->created_at_ms)}});
    seen = std::move(now_ids);
    bool running = thread_running(tid);
    auto rit = seen_running_.find(tid);
    if ((rit == seen_running_.end() && running) || (rit != seen_running_.end() && rit->second != running))
      out.push_back({{"name", "turn.status.update"}, {"threadID", tid}, {"body", running ? "running" : "idle"}});
    seen_running_[tid] = running;
  }
  std::set<uint64_t> now_reqs;
  for (auto& [id, r] : requests_) now_reqs.insert(id);
  if (requests_baselined_ && include_requests) {
    for (auto id : now_reqs)
      if (!seen_requests_.count(id)) {
        auto& r = requests_.at(id);
        json e = {{"name", "runtime_request.requested"}, {"body", r.title + ": " + r.summary}};
        if (r.thread_id) e["threadID"] = *r.thread_id;
        out.push_back(e);
      }
    for (auto id : seen_requests_)
      if (!now_reqs.count(id))
        out.push_back({{"name", "runtime_request.resolved"},
                       {"body", "Runtime request #" + std::to_string(id) + " resolved."}});
  }
  seen_requests_ = std::move(now_reqs);
  requests_baselined_ = true;
  return out;
}

// ---- acks / trackers --------------------------------------------------------------------------

const json* ack_cache::find(const std::string& identity) const {
  auto it = map_.find(identity);
  return it == map_.end() ? nullptr : &it->second;
}

void ack_cache::put(const std::string& identity, json ack) {
  auto it = map_.find(identity);
  if (it != map_.end()) {
    it->second = std::move(ack);
    return;
  }
  map_.emplace(identity, std::move(ack));
  order_.push_back(identity);
  while (order_.size() > cap_) {
    map_.erase(order_.front());
    order_.pop_front();
  }
}

rc::proto::sequence_tracker& tracker_set::get(const std::string& id) {
  auto it = map_.find(id);
  if (it != map_.end()) return it->second;
  while (map_.size() >= cap_ && !order_.empty()) {
    map_.erase(order_.front());
    order_.pop_front();
  }
  order_.push_back(id);
  return map_[id];
}

std::optional<std::string> command_identity(const json& command) {
  auto id = opt_string(command, "commandID");
  if (!id || rc::proto::is_blank(*id)) return std::nullopt;
  json c = command;
  c["commandID"] = trim(*id);
  return c.dump();  // nlohmann::json objects are std::map-backed: keys sorted
}

// ---- runtime responses (§5.2) -----------------------------------------------------------------

std::optional<runtime_response> interpret_response(const runtime_request_info& req, const json& resp) {
  if (!resp.is_object()) return std::nullopt;
  runtime_response r;
  r.kind = req.kind;
  r.raw = resp;
  auto option = opt_string(resp, "optionID");
  if (req.kind == "approval") {
    std::string d;
    if (auto dec = opt_string(resp, "decision"))
      d = lower(*dec);
    else if (option)
      d = lower(*option);
    if (d == "approve" || d == "approve_once" || d == "approve-once" || d == "accept" || d == "approveonce")
      r.decision = "approve_once";
    else if (d == "approve_for_session" || d == "approve-session" || d == "approveforsession" ||
             d == "acceptforsession")
      r.decision = "approve_for_session";
    else if (d == "decline" || d == "reject")
      r.decision = "decline";
    else if (d == "cancel")
      r.decision = "cancel";
    else
      return std::nullopt;
    r.approved = r.decision == "approve_once" || r.decision == "approve_for_session";
    return r;
  }
  if (req.kind == "permissionsApproval") {
    auto ap = resp.find("approved");
    bool has_perms = resp.contains("permissions") && resp["permissions"].is_array() && !resp["permissions"].empty();
    static const std::set<std::string> negative = {"decline", "deny", "reject", "cancel", "no", "stop", "dismiss"};
    if ((ap != resp.end() && ap->is_boolean() && !ap->get<bool>()) || (option && negative.count(lower(*option)))) {
      r.approved = false;
      return r;
    }
    if ((ap != resp.end() && ap->is_boolean() && ap->get<bool>()) || (option && is_affirmative_option(*option)) ||
        has_perms) {
      r.approved = true;
      if (has_perms) {
        for (auto& p : resp["permissions"])
          if (p.is_string()) r.permissions.push_back(p.get<std::string>());
      } else {
        r.permissions = req.permissions;
      }
      if (auto s = opt_string(resp, "scope"))
        r.scope = *s;
      else if (req.scope_hint)
        r.scope = *req.scope_hint;
      return r;
    }
    return std::nullopt;
  }
  if (req.kind == "userInput") {
    if (auto t = opt_string(resp, "text")) {
      auto tt = trim(*t);
      if (!tt.empty()) r.text = tt;
    }
    if (option && std::any_of(req.options.begin(), req.options.end(), [&](const option_info& o) { return o.id == *option; }))
      r.option_id = *option;
    r.approved = true;
    return r;
  }
  if (req.kind == "mcpElicitation") {
    if (auto t = opt_string(resp, "text")) {
      auto tt = trim(*t);
      if (!tt.empty()) r.text = tt;
    }
    r.approved = true;
    return r;
  }
  if (req.kind == "dynamicToolCall") {
    auto ap = resp.find("approved");
    if (ap != resp.end() && ap->is_boolean()) {
      r.approved = ap->get<bool>();
      return r;
    }
    if (option && is_affirmative_option(*option)) {
      r.approved = true;
      return r;
    }
    if (option && is_negative_option(*option)) {
      r.approved = false;
      return r;
    }
    return std::nullopt;
  }
  return std::nullopt;
}

// ---- command processing -----------------------------------------------------------------------

command_outcome command_processor::process(const json& cmd, uint64_t seq, bool stale, model& m, runtime* rt,
                                           bool approvals_enabled) {
  command_outcome out;
  out.name = opt_string(cmd, "name").value_or("");
  auto raw_id = opt_string(cmd, "commandID");
  out.command_id = raw_id.value_or("");
  auto cmd_thread = opt_string(cmd, "threadID");
  auto make_ack = [&](bool accepted, const std::string& reason, const std::optional<std::string>& thread) {
    json a = {{"commandSeq", seq}, {"commandID", out.command_id}, {"commandName", out.name},
              {"status", accepted ? "accepted" : "rejected"}};
    if (!reason.empty()) a["reason"] = reason;
    if (thread && !thread->empty()) a["threadID"] = *thread;
    out.accepted = accepted;
    out.reason = reason;
    return a;
  };
  auto identity = command_identity(cmd);
  if (!identity) {
    out.ack = make_ack(false, "command_id_required", cmd_thread);
    return out;
  }
  if (auto cached = acks_.find(*identity)) {
    out.ack = *cached;
    out.replay = true;
    out.accepted = cached->value("status", "") == "accepted";
    out.reason = cached->value("reason", "");
    return out;
  }
  if (stale) return out;  // never apply a stale command; nothing cached → drop

  out.applied = true;
  auto reject = [&](const std::string& reason, const std::optional<std::string>& thread) {
    out.ack = make_ack(false, reason, thread ? thread : cmd_thread);
  };
  auto check_thread = [&](const std::string& id, std::string& reason) {
    if (!rc::proto::is_compact_id(id)) reason = "invalid_thread";
    else if (!m.find_thread(id)) reason = "unknown_thread";
    return reason.empty();
  };
  auto check_project = [&](const std::string& id, std::string& reason) {
    if (!rc::proto::is_compact_id(id)) reason = "invalid_project";
    else if (!m.has_project(id)) reason = "unknown_project";
    return reason.empty();
  };

  if (out.name == "project.select") {
    std::string reason;
    auto pid = opt_string(cmd, "projectID").value_or("");
    if (!check_project(pid, reason)) reject(reason, cmd_thread);
    else {
      m.select_project(pid);
      out.ack = make_ack(true, "", cmd_thread);
    }
  } else if (out.name == "thread.select") {
    std::string reason;
    auto tid = cmd_thread.value_or("");
    if (!check_thread(tid, reason)) reject(reason, cmd_thread);
    else {
      m.select_thread(tid);
      out.ack = make_ack(true, "", tid);
    }
  } else if (out.name == "thread.send_message") {
    std::string text = trim(opt_string(cmd, "text").value_or(""));
    std::string reason;
    auto pid = opt_string(cmd, "projectID");
    std::optional<std::string> target;
    if (text.empty()) reason = "empty_message";
    else if (!rt || !m.connected()) reason = "desktop_offline";
    else if (text.size() > 16384) reason = "empty_message";
    if (reason.empty() && pid && check_project(*pid, reason)) m.select_project(*pid);
    if (reason.empty() && cmd_thread && check_thread(*cmd_thread, reason)) m.select_thread(*cmd_thread);
    if (reason.empty()) {
      target = cmd_thread ? cmd_thread : m.selected_thread();
      if (!target || !m.find_thread(*target)) reason = "thread_required";
      else if (m.thread_has_pending_request(*target)) reason = "runtime_request_required";
      else if (m.thread_running(*target)) reason = "desktop_busy";
    }
    if (reason.empty()) {
      turn_request req{*target, text, make_uuid()};
      auto r = rt->start_turn(req);
      if (!r.ok) reason = r.reason.empty() ? "desktop_busy" : r.reason;
      else {
        m.add_message({req.user_message_id, *target, "user", text, rc::proto::now_ms()});
        m.set_running(*target, true);
      }
    }
    if (!reason.empty()) reject(reason, target ? target : cmd_thread);
    else out.ack = make_ack(true, "", target);
  } else if (out.name == "runtime_request.respond") {
    std::string reason;
    auto rid = opt_string(cmd, "runtimeRequestID");
    const runtime_request_info* req = nullptr;
    uint64_t id = 0;
    std::optional<runtime_response> resp;
    if (!approvals_enabled) reason = "remote_runtime_requests_disabled";
    else if (!rid || rc::proto::is_blank(*rid)) reason = "runtime_request_required";
    else if (!is_uint_string(trim(*rid))) reason = "invalid_runtime_request";
    else {
      id = std::stoull(trim(*rid));
      req = m.find_request(id);
      if (!req) reason = "unknown_runtime_request";
    }
    if (reason.empty()) {
      auto kind = opt_string(cmd, "runtimeRequestKind");
      if (kind && *kind != req->kind) reason = "invalid_runtime_request";
      else {
        auto body = cmd.contains("runtimeRequestResponse") ? cmd["runtimeRequestResponse"] : json();
        resp = interpret_response(*req, body);
        if (!resp) reason = "invalid_runtime_request";
      }
    }
    if (reason.empty()) {
      if (!rt || !m.connected()) reason = "desktop_offline";
      else {
        auto title = req->title, summary = req->summary;
        auto thread = req->thread_id;
        auto r = rt->respond(id, *resp);
        if (!r.ok) reason = r.reason.empty() ? "runtime_request_failed" : r.reason;
        else {
          json e = {{"name", "runtime_request.responded"}, {"body", title + ": " + summary}};
          if (thread) e["threadID"] = *thread;
          out.before_ack.push_back(e);
          m.apply(ev_request_resolved{id});
        }
      }
    }
    if (!reason.empty()) reject(reason, cmd_thread);
    else out.ack = make_ack(true, "", cmd_thread);
  } else {
    reject("unsupported_command", cmd_thread);
  }
  acks_.put(*identity, *out.ack);
  return out;
}

}  // namespace rc::bridge
