// `codex` runtime: the runtime interface and the inbound JSON-RPC traffic of `codex app-server`
// (see runtime_codex.hpp for the mapping, runtime_codex_impl.hpp for the layout). Runtime
// methods only queue JSON-RPC lines and return, so the broker actor never blocks.
#include "desktop-bridge/runtime_codex.hpp"
#include "protocol/untrusted_json.hpp"

#include <unistd.h>

#include <iostream>

#include "desktop-bridge/runtime_codex_impl.hpp"
#include "desktop-bridge/runtime_codex_util.hpp"

namespace rc::bridge {
namespace codex {

codex_runtime::codex_runtime(codex_options o) : opts_(std::move(o)) {
  if (opts_.workspaces.empty()) {
    char buf[4096];
    opts_.workspaces.push_back(::getcwd(buf, sizeof buf) ? std::string(buf) : std::string("."));
  }
  for (auto& cwd : opts_.workspaces) {
    workspace w{cwd, stable_uuid("codex-project:" + cwd), basename_of(cwd) + " (codex)"};
    for (auto& other : workspaces_)  // same folder name twice: tell them apart by the path
      if (other.name == w.name) w.name = basename_of(cwd) + " (codex, " + cwd + ")";
    workspaces_.push_back(std::move(w));
  }
}

void codex_runtime::start(event_sink sink) {
  std::lock_guard<std::mutex> lk(mx_);
  if (started_) return;
  started_ = true;
  {
    std::lock_guard<std::mutex> elk(emit_mx_);
    sink_ = std::move(sink);
  }
  for (auto& w : workspaces_) emit(ev_project{{w.project_id, w.name}});
  if (!opts_.config_error.empty()) {
    emit(ev_status{false, "codex: " + opts_.config_error});
    return;
  }
  emit(ev_status{false, "starting codex app-server"});
  io_ = std::thread([this] { io_loop(); });
}

void codex_runtime::stop() {
  {
    std::lock_guard<std::mutex> lk(mx_);
    if (stopping_) return;
    stopping_ = true;
    ready_ = false;
  }
  cv_.notify_all();
  child_.wake();
  if (io_.joinable()) io_.join();
  std::lock_guard<std::mutex> elk(emit_mx_);
  sink_ = nullptr;
}

op_result codex_runtime::start_turn(const turn_request& req) {
  std::lock_guard<std::mutex> lk(mx_);
  if (!ready_ || stopping_) return op_result::fail("desktop_offline");
  auto* t = find_thread(req.thread_id);
  if (!t) return op_result::fail("unknown_thread");
  if (t->running) return op_result::fail("desktop_busy");
  t->running = true;
  t->interrupt_requested = false;
  t->resume_after_restart = false;
  t->turn_id.clear();
  t->last_error.clear();
  t->retry_noted = false;
  last_thread_ = t->id;
  emit(ev_turn{t->id, true});
  const std::string id = t->id, text = req.text;
  if (t->draft) {
    // The draft becomes a real conversation: title it and offer a fresh draft.
    t->draft = false;
    t->title = one_line(text, 60);
    if (t->title.empty()) t->title = "Codex thread";
    emit(ev_thread{{t->id, workspaces_[t->ws].project_id, t->title, false, false}});
    start_draft(t->ws, false, "");
  }
  if (!t->loaded) {
    json p = thread_params(t->ws);
    p["threadId"] = t->codex_id;
    p["excludeTurns"] = true;
    send_request("thread/resume", p, [this, id, text](const json* res, const json* err) {
      auto* th = find_thread(id);
      if (!th) return;
      if (err || !res)
        return fail_turn(*th, "Could not resume the Codex thread: " + rpc_error(err));
      th->loaded = true;
      send_turn(*th, text);
    });
  } else {
    send_turn(*t, text);
  }
  return op_result::success();
}

void codex_runtime::interrupt(const std::string& thread_id) {
  std::lock_guard<std::mutex> lk(mx_);
  auto* t = find_thread(thread_id);
  if (!t || !t->running) return;
  t->interrupt_requested = true;
  if (!t->turn_id.empty() && ready_) send_interrupt(*t);
}

op_result codex_runtime::respond(uint64_t request_id, const runtime_response& r) {
  std::lock_guard<std::mutex> lk(mx_);
  auto it = pending_.find(request_id);
  if (it == pending_.end()) return op_result::fail("unknown_runtime_request");
  if (!ready_) return op_result::fail("desktop_offline");
  auto result = response_result(it->second, r);
  if (!result) return op_result::fail("invalid_runtime_request");
  send_line({{"id", it->second.server_id}, {"result", *result}});
  pending_.erase(it);
  emit(ev_request_resolved{request_id});
  return op_result::success();
}

void codex_runtime::load_history(const std::string& thread_id, bool earlier) {
  std::lock_guard<std::mutex> lk(mx_);
  auto* t = find_thread(thread_id);
  if (!ready_ || !t || t->draft || t->history_loading || t->history_done) return;
  if (t->history_started && !earlier) return;
  t->history_started = t->history_loading = true;
  json p = {{"threadId", t->codex_id},
            {"limit", opts_.history_page_turns},
            {"sortDirection", "desc"},
            {"itemsView", "full"}};
  if (!t->history_cursor.empty()) p["cursor"] = t->history_cursor;
  send_request("thread/turns/list", p, [this, id = t->id](const json* res, const json* err) {
    auto* th = find_thread(id);
    if (!th) return;
    th->history_loading = false;
    if (err || !res) {
      th->history_done = true;
      return system_message(th->id, "Could not load the earlier messages: " + rpc_error(err));
    }
    std::vector<std::string> skip(th->live_turns.begin(), th->live_turns.end());
    for (auto& m : history_messages(res->value("data", json::array()), th->id, th->codex_id, skip,
                                    opts_.max_message_bytes))
      emit(ev_message{std::move(m)});
    th->history_cursor = str_of(*res, "nextCursor");
    th->history_done = th->history_cursor.empty();
  });
}

// ---- helpers (mx_ held) -----------------------------------------------------------------------

void codex_runtime::emit(runtime_event ev) {
  std::lock_guard<std::mutex> lk(emit_mx_);
  if (sink_) sink_(std::move(ev));
}

void codex_runtime::system_message(const std::string& thread_id, const std::string& text) {
  emit(ev_message{{make_uuid(), thread_id, "system", cut_utf8(text, 4000), 0}});
}

codex_runtime::thread_state* codex_runtime::find_thread(const std::string& id) {
  auto it = threads_.find(id);
  return it == threads_.end() ? nullptr : &it->second;
}

codex_runtime::thread_state* codex_runtime::by_codex_id(const std::string& cid) {
  auto it = by_codex_.find(cid);
  return it == by_codex_.end() ? nullptr : find_thread(it->second);
}

std::string codex_runtime::str_of_thread(const json& params) {
  auto id = str_of(params, "threadId");
  return id.empty() ? str_of(params, "conversationId") : id;  // legacy approvals
}

json codex_runtime::thread_params(std::size_t ws) const {
  json p = {{"cwd", workspaces_[ws].cwd}};
  if (opts_.approval_policy) p["approvalPolicy"] = *opts_.approval_policy;
  if (opts_.sandbox) p["sandbox"] = *opts_.sandbox;
  if (opts_.model) p["model"] = *opts_.model;
  return p;
}

json codex_runtime::start_params(std::size_t ws) const {
  json p = thread_params(ws);
  if (opts_.dynamic_tools.is_array()) p["dynamicTools"] = opts_.dynamic_tools;  // thread/start only
  return p;
}

std::string codex_runtime::rpc_error(const json* err) {
  if (!err) return "no result in the reply";
  auto m = str_of(*err, "message");
  return m.empty() ? dump(*err) : m;
}

void codex_runtime::send_turn(thread_state& t, const std::string& text) {
  json p = {{"threadId", t.codex_id},
            {"input",
             json::array({{{"type", "text"}, {"text", text}, {"text_elements", json::array()}}})}};
  send_request("turn/start", p, [this, id = t.id](const json* res, const json* err) {
    auto* th = find_thread(id);
    if (!th) return;
    if (err || !res) return fail_turn(*th, "Codex refused the turn: " + rpc_error(err));
    adopt_turn(*th, str_of(res->value("turn", json::object()), "id"));
  });
}

void codex_runtime::adopt_turn(thread_state& t, const std::string& turn_id) {
  if (!t.running || !t.turn_id.empty() || turn_id.empty()) return;
  t.turn_id = turn_id;
  t.live_turns.push_back(turn_id);
  if (t.live_turns.size() > 256) t.live_turns.pop_front();
  if (t.interrupt_requested) send_interrupt(t);
}

void codex_runtime::send_interrupt(thread_state& t) {
  send_request("turn/interrupt", {{"threadId", t.codex_id}, {"turnId", t.turn_id}},
               [this, id = t.id](const json*, const json* err) {
                 auto* th = find_thread(id);
                 if (err && th && th->running)
                   system_message(id, "Codex could not interrupt the turn: " + rpc_error(err));
               });
}

void codex_runtime::fail_turn(thread_state& t, const std::string& why) {
  system_message(t.id, why);
  end_turn(t);
}

void codex_runtime::end_turn(thread_state& t) {
  if (!t.running) return;
  t.running = false;
  t.turn_id.clear();
  t.msg_ids.clear();
  t.msg_bytes.clear();
  t.items.clear();
  resolve_pending([&](const pending_request& r) { return r.thread_id == t.id; });
  emit(ev_turn{t.id, false});
}

std::string codex_runtime::message_id_for(thread_state& t, const std::string& item_id) {
  auto it = t.msg_ids.find(item_id);
  if (it != t.msg_ids.end()) return it->second;
  if (t.msg_ids.size() >= 1024) t.msg_ids.erase(t.msg_ids.begin());
  auto mid = make_uuid();
  t.msg_ids[item_id] = mid;
  return mid;
}

void codex_runtime::send_line(const json& j) {
  auto line = dump(j);
  if (opts_.debug) std::cerr << "codex <- " << cut_utf8(line, 2000) << "\n";
  if (!child_.enqueue(line, opts_.max_outbound_bytes))
    fatal_ = "codex app-server is not reading its input (more than " +
             std::to_string(opts_.max_outbound_bytes) + " bytes queued)";
}

void codex_runtime::send_request(const std::string& method, json params, rpc_callback cb) {
  uint64_t id = next_rpc_++;
  rpc_[id] = std::move(cb);
  send_line({{"id", id}, {"method", method}, {"params", std::move(params)}});
}

// ---- inbound ------------------------------------------------------------------------------------

void codex_runtime::handle_line(const std::string& line) {
  if (opts_.debug) std::cerr << "codex -> " << cut_utf8(line, 2000) << "\n";
  // Agent output: allowed deeper than a relay frame, still bounded (no recursion blow-up).
  auto j = rc::proto::parse_untrusted(line, 512);
  if (j.is_discarded() || !j.is_object()) return;
  std::lock_guard<std::mutex> lk(mx_);
  if (stopping_) return;
  auto method = j.find("method");
  auto idit = j.find("id");
  if (method == j.end()) {
    if (idit == j.end() || !idit->is_number_unsigned()) return;
    auto it = rpc_.find(idit->get<uint64_t>());
    if (it == rpc_.end()) return;
    auto cb = std::move(it->second);
    rpc_.erase(it);
    auto e = j.find("error");
    auto r = j.find("result");
    if (e != j.end())
      cb(nullptr, &*e);
    else
      cb(r != j.end() ? &*r : nullptr, nullptr);
    return;
  }
  if (!method->is_string()) return;
  auto pit = j.find("params");
  const json params = pit != j.end() && pit->is_object() ? *pit : json::object();
  if (idit != j.end())
    on_server_request(*idit, method->get<std::string>(), params);
  else
    on_notification(method->get<std::string>(), params);
}

void codex_runtime::on_notification(const std::string& m, const json& p) {
  auto* t = by_codex(p);
  if (m == "serverRequest/resolved") {
    auto rid = p.find("requestId");
    if (rid == p.end()) return;
    resolve_pending([&](const pending_request& r) { return r.server_id == *rid; });
    return;
  }
  if (!t) return;
  if (m == "item/agentMessage/delta") {
    if (!t->running) return;
    auto delta = str_of(p, "delta");
    auto mid = message_id_for(*t, str_of(p, "itemId"));
    auto& n = t->msg_bytes[mid];
    if (delta.empty() || n >= opts_.max_message_bytes) return;
    delta = cut_utf8(delta, opts_.max_message_bytes - n);
    n += delta.size();
    emit(ev_message_delta{t->id, mid, delta});
  } else if (m == "item/started" || m == "item/completed") {
    on_item(*t, member(p, "item"), m == "item/completed");
  } else if (m == "turn/started") {
    adopt_turn(*t, str_of(member(p, "turn"), "id"));
  } else if (m == "turn/completed") {
    on_turn_completed(*t, p);
  } else if (m == "error") {
    auto msg = str_of(member(p, "error"), "message");
    t->last_error = cut_utf8(msg, 1000);
    if (member(p, "willRetry") == true && !t->retry_noted && t->running) {
      t->retry_noted = true;
      system_message(t->id, "Codex: " + msg + " (retrying)");
    }
  } else if (m == "thread/name/updated") {
    auto name = one_line(str_of(p, "threadName"), 80);
    if (name.empty()) return;
    t->title = name;
    emit(ev_thread{{t->id, workspaces_[t->ws].project_id, t->title, false, false}});
  }
}

void codex_runtime::on_turn_completed(thread_state& t, const json& p) {
  if (!t.running) return;
  auto turn = member(p, "turn");
  auto status = str_of(turn, "status");
  if (status == "failed") {
    auto err = str_of(member(turn, "error"), "message");
    if (err.empty()) err = t.last_error;
    system_message(t.id, "Turn failed: " + (err.empty() ? std::string("unknown error") : err));
  } else if (status == "interrupted") {
    system_message(t.id, "Turn interrupted.");
  }
  end_turn(t);
}

void codex_runtime::on_item(thread_state& t, const json& item, bool completed) {
  auto type = str_of(item, "type");
  auto id = str_of(item, "id");
  if (type == "agentMessage") {
    if (!completed || !t.running) return;
    auto text = cut_utf8(str_of(item, "text"), opts_.max_message_bytes);
    if (text.empty() && !t.msg_ids.count(id)) return;
    emit(ev_message{{message_id_for(t, id), t.id, "assistant", text, 0}});
    return;
  }
  if (!completed) {
    auto desc = item_description(item);
    if (id.empty() || desc.empty()) return;
    if (t.items.size() >= 1024) t.items.erase(t.items.begin());
    t.items[id] = std::move(desc);
    return;
  }
  auto card = item_card(item);
  if (card.empty()) return;
  system_message(t.id, card);
  t.items.erase(id);
}

void codex_runtime::note_in_threads(thread_state* t, const std::string& text) {
  if (t) return system_message(t->id, text);
  bool any = false;
  for (auto& [id, th] : threads_)
    if (th.running) {
      system_message(id, text);
      any = true;
    }
  if (!any && find_thread(last_thread_)) system_message(last_thread_, text);
  if (!any && last_thread_.empty()) std::cerr << "desktop-bridge: " << text << "\n";
}

void codex_runtime::on_server_request(const json& sid, const std::string& m, const json& p) {
  auto* t = by_codex(p);
  auto mapped = map_server_request(m, p, [t](const std::string& item_id) {
    if (!t) return std::string();
    auto it = t->items.find(item_id);
    return it == t->items.end() ? std::string() : it->second;
  });
  if (!mapped) {
    // Auth-token refresh, attestation, anything newer: cannot be answered from a phone.
    send_line({{"id", sid}, {"error", refusal_error(m)}});
    note_in_threads(t, "Codex request \"" + m + "\" cannot be answered remotely; it was refused.");
    return;
  }
  auto& r = mapped->pending;
  r.server_id = sid;
  if (t) r.thread_id = t->id;
  if (pending_.size() >= opts_.max_pending_requests) {
    // Bound the pending set: refuse further requests instead of queueing them without limit.
    send_line({{"id", sid}, {"result", refusal_result(r)}});
    note_in_threads(t, "Too many pending Codex requests; \"" + mapped->info.title +
                           "\" was declined automatically.");
    return;
  }
  auto& info = mapped->info;
  info.id = next_request_++;
  if (t) info.thread_id = t->id;
  pending_[info.id] = std::move(r);
  emit(ev_request{info});
}

}  // namespace codex

std::unique_ptr<runtime> make_codex_runtime(codex_options opts) {
  return std::make_unique<codex::codex_runtime>(std::move(opts));
}

std::unique_ptr<runtime> make_codex_runtime(const std::vector<std::string>& args) {
  return make_codex_runtime(parse_codex_options(args));
}

}  // namespace rc::bridge
