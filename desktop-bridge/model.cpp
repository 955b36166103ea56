// The desktop-side mirror of the runtime: snapshot bounding (APP_SCHEMA §3.1) and delta events
// (§4).
#include "desktop-bridge/model.hpp"

#include <algorithm>

#include "protocol/time.hpp"

namespace rc::bridge {

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
          loads_earlier_ = e.loads_earlier;
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
          auto it = std::find_if(v.rbegin(), v.rend(),
                                 [&](const message_info& m) { return m.id == e.message_id; });
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
  return std::any_of(projects_.begin(), projects_.end(),
                     [&](const project_info& p) { return p.id == id; });
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
  if (!v.empty() && m.created_at_ms < v.back().created_at_ms) {
    // Earlier history: keep the transcript ordered by time (stable for equal stamps).
    if (v.size() >= max_messages_per_thread && m.created_at_ms < v.front().created_at_ms) return;
    auto pos =
        std::upper_bound(v.begin(), v.end(), m.created_at_ms,
                         [](int64_t t, const message_info& x) { return t < x.created_at_ms; });
    v.insert(pos, std::move(m));
  } else {
    v.push_back(std::move(m));
  }
  if (v.size() > max_messages_per_thread)
    v.erase(v.begin(), v.begin() + (v.size() - max_messages_per_thread));
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
  json j = {{"requestID", std::to_string(r.id)},
            {"kind", r.kind},
            {"title", r.title},
            {"summary", r.summary}};
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
      threads.push_back(
          {{"id", t.id}, {"projectID", t.project_id}, {"title", t.title}, {"isPinned", t.pinned}});
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
    std::size_t window =
        (sel_thread_ && *sel_thread_ == tid) ? lim.selected_window : lim.other_window;
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
    snap["turnState"] = {
        {"threadID", *sel_thread_},
        {"isTurnInProgress", thread_running(*sel_thread_)},
        {"isAwaitingRuntimeRequest", include_requests && thread_has_pending_request(*sel_thread_)}};
  }
  // Our extension of APP_SCHEMA §3 (docs/runtimes/codex.md): what the phone may offer.
  snap["capabilities"] = {{"interrupt", connected_}, {"loadEarlier", connected_ && loads_earlier_}};
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
    std::size_t window =
        (sel_thread_ && *sel_thread_ == tid) ? lim.selected_window : lim.other_window;
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
        if (!first && !v[i].history && !seen.count(v[i].id)) fresh.push_back(&v[i]);
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
    if ((rit == seen_running_.end() && running) ||
        (rit != seen_running_.end() && rit->second != running))
      out.push_back({{"name", "turn.status.update"},
                     {"threadID", tid},
                     {"body", running ? "running" : "idle"}});
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

}  // namespace rc::bridge
