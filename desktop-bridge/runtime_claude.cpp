// `claude` runtime: commands from the bridge and the CLI's stream-json output (see
// runtime_claude.hpp for the mapping, runtime_claude_impl.hpp for the threading).
#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "desktop-bridge/runtime_claude_impl.hpp"
#include "protocol/untrusted_json.hpp"

namespace rc::bridge {
namespace claude_impl {

namespace {

std::vector<option_info> approval_options() {
  return {{"approve_once", "Allow once", std::nullopt},
          {"approve_for_session", "Allow for this session", std::nullopt},
          {"decline", "Deny", std::nullopt},
          {"cancel", "Deny and stop the turn", std::nullopt}};
}

}  // namespace

claude_runtime::claude_runtime(claude_options o) : opts_(std::move(o)) {
  if (opts_.workspaces.empty()) {
    char buf[4096];
    opts_.workspaces.push_back(::getcwd(buf, sizeof buf) ? std::string(buf) : std::string("."));
  }
  if (opts_.config_dir.empty())
    opts_.config_dir = env_or("CLAUDE_CONFIG_DIR", env_or("HOME", "") + "/.claude");
  for (auto cwd : opts_.workspaces) {
    if (char* rp = ::realpath(cwd.c_str(), nullptr)) {  // the CLI keys sessions by it
      cwd = rp;
      std::free(rp);
    }
    workspace w{cwd, claude_project_dir(opts_.config_dir, cwd),
                stable_uuid("claude-project:" + cwd), basename_of(cwd) + " (claude)"};
    for (auto& other : workspaces_)  // same folder name twice: tell them apart by the path
      if (other.name == w.name) w.name = basename_of(cwd) + " (claude, " + cwd + ")";
    workspaces_.push_back(std::move(w));
  }
}

void claude_runtime::start(event_sink sink) {
  std::lock_guard<std::mutex> lk(mx_);
  if (started_) return;
  started_ = true;
  {
    std::lock_guard<std::mutex> elk(emit_mx_);
    sink_ = std::move(sink);
  }
  for (auto& w : workspaces_) emit(ev_project{{w.project_id, w.name}});
  if (!opts_.config_error.empty()) return emit(ev_status{false, "claude: " + opts_.config_error});
  emit(ev_status{false, "starting Claude Code"});
  if (::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0)
    return emit(ev_status{false, std::string("claude: pipe failed: ") + std::strerror(errno)});
  io_ = std::thread([this] { io_loop(); });
}

void claude_runtime::stop() {
  {
    std::lock_guard<std::mutex> lk(mx_);
    if (stopping_) return;
    stopping_ = true;
    ready_ = false;
  }
  wake();
  if (io_.joinable()) io_.join();
  for (int& fd : wake_)
    if (fd >= 0) ::close(std::exchange(fd, -1));
  std::lock_guard<std::mutex> elk(emit_mx_);
  sink_ = nullptr;
}

op_result claude_runtime::start_turn(const turn_request& req) {
  std::lock_guard<std::mutex> lk(mx_);
  if (!ready_ || stopping_) return op_result::fail("desktop_offline");
  auto* t = find_thread(req.thread_id);
  if (!t) return op_result::fail("unknown_thread");
  if (t->running) return op_result::fail("desktop_busy");
  if (!t->proc && running_turns() >= opts_.max_processes) return op_result::fail("desktop_busy");
  t->running = true;
  t->interrupt_requested = false;
  emit(ev_turn{t->id, true});
  if (t->draft) {  // the draft becomes a conversation: title it and offer a fresh draft
    t->draft = false;
    t->title = one_line(req.text, 60);
    if (t->title.empty()) t->title = "Claude session";
    emit(ev_thread{{t->id, workspaces_[t->ws].project_id, t->title, false, false}});
    add_draft(t->ws, false);
  }
  json line = {{"type", "user"},
               {"message", {{"role", "user"}, {"content", req.text}}},
               {"parent_tool_use_id", nullptr},
               {"session_id", t->session_id}};
  t->pending_input = dump(line) + "\n";
  t->last_used = clock_type::now();
  wake();
  return op_result::success();
}

void claude_runtime::interrupt(const std::string& thread_id) {
  std::lock_guard<std::mutex> lk(mx_);
  auto* t = find_thread(thread_id);
  if (!t || !t->running) return;
  t->interrupt_requested = true;
  if (!t->proc) {  // not started yet: nothing reached Claude
    t->pending_input.clear();
    system_message(*t, "Turn interrupted.");
    return end_turn(*t);
  }
  send_line(*t, {{"type", "control_request"},
                 {"request_id", "interrupt-" + std::to_string(next_ctl_++)},
                 {"request", {{"subtype", "interrupt"}}}});
}

op_result claude_runtime::respond(uint64_t request_id, const runtime_response& r) {
  std::lock_guard<std::mutex> lk(mx_);
  auto it = pending_.find(request_id);
  if (it == pending_.end()) return op_result::fail("unknown_runtime_request");
  auto& p = it->second;
  auto* t = find_thread(p.thread_id);
  if (!t || !t->proc) return op_result::fail("desktop_offline");
  if (p.kind == "mcpElicitation") {
    auto res = claude_elicitation_response(p.form, r);
    if (!res) return op_result::fail("invalid_runtime_request");
    control_reply(*t, p.cli_id, *res);
    pending_.erase(it);
    emit(ev_request_resolved{request_id});
    return op_result::success();
  }
  if (r.kind != "approval") return op_result::fail("invalid_runtime_request");
  const auto& d = r.decision;
  json res;
  if (d == "approve_once" || d == "approve_for_session") {
    res = {{"behavior", "allow"}, {"updatedInput", p.input}, {"toolUseID", p.tool_use_id}};
    if (d == "approve_for_session") res["updatedPermissions"] = session_rules(p);
  } else if (d == "decline" || d == "cancel") {
    res = {
        {"behavior", "deny"},
        {"message", d == "decline" ? "The user denied this from the phone."
                                   : "The user denied this from the phone and stopped the turn."},
        {"toolUseID", p.tool_use_id}};
    if (d == "cancel") {
      res["interrupt"] = true;
      t->interrupt_requested = true;
    }
    remember(t->declined, p.tool_use_id);
  } else {
    return op_result::fail("invalid_runtime_request");
  }
  control_reply(*t, p.cli_id, res);
  pending_.erase(it);
  emit(ev_request_resolved{request_id});
  return op_result::success();
}

claude_runtime::thread_state& claude_runtime::add_thread(std::size_t ws,
                                                         const std::string& session_id,
                                                         const std::string& title, bool draft) {
  auto id = upper(session_id);
  auto& t = threads_[id];
  t.id = id;
  t.ws = ws;
  t.session_id = session_id;
  t.title = title;
  t.draft = draft;
  emit(ev_thread{{t.id, workspaces_[ws].project_id, t.title, false, false}});
  return t;
}

json claude_runtime::session_rules(const pending_request& p) const {
  json rules = json::array();
  if (p.suggestions.is_array())
    for (auto s : p.suggestions)
      if (s.is_object()) {
        s["destination"] = "session";  // never written to settings files from the phone
        rules.push_back(std::move(s));
      }
  if (rules.empty()) {
    json rule = {{"toolName", p.tool}};
    if (p.tool == "Bash" && p.input.contains("command")) rule["ruleContent"] = p.input["command"];
    rules.push_back({{"type", "addRules"},
                     {"rules", json::array({rule})},
                     {"behavior", "allow"},
                     {"destination", "session"}});
  }
  return rules;
}

void claude_runtime::send_line(thread_state& t, const json& j) {
  if (!t.proc) return;
  auto line = dump(j);
  if (opts_.debug) std::cerr << "claude <- " << cut_utf8(line, 2000) << "\n";
  auto& q = t.proc->outq;
  if (q.size() + line.size() + 1 > opts_.max_outbound_bytes) {
    kill_proc(
        t, "Claude Code is not reading its input (" + std::to_string(q.size()) + " bytes queued)");
    return;
  }
  q += line + "\n";
  wake();
}

void claude_runtime::end_turn(thread_state& t) {
  if (!t.running) return;
  t.running = false;
  t.msg_ids.clear();
  t.msg_bytes.clear();
  t.cur_msg.clear();
  t.cur_text_key.clear();
  t.tools.clear();
  t.last_used = clock_type::now();
  resolve_pending([&](const pending_request& r) { return r.thread_id == t.id; });
  emit(ev_turn{t.id, false});
}

void claude_runtime::handle_line(thread_state& t, const std::string& line) {
  if (opts_.debug) std::cerr << "claude -> " << cut_utf8(line, 2000) << "\n";
  // Agent output: allowed deeper than a relay frame, still bounded (no recursion blow-up).
  auto j = rc::proto::parse_untrusted(line, 512);
  if (!j.is_object()) return;
  auto type = str_of(j, "type");
  const bool sub = j.contains("parent_tool_use_id") && !j["parent_tool_use_id"].is_null();
  auto* p = t.proc.get();
  if (type == "control_response") {
    auto r = j.value("response", json::object());
    if (p && !p->initialized && str_of(r, "request_id") == p->init_id) {
      if (str_of(r, "subtype") != "success")
        return kill_proc(t, "Claude Code refused initialize: " + one_line(str_of(r, "error"), 300));
      p->initialized = true;
      if (p->restarted) on_restarted(t);
    }
  } else if (type == "control_request") {
    on_control_request(t, str_of(j, "request_id"), j.value("request", json::object()));
  } else if (type == "control_cancel_request") {
    auto cid = str_of(j, "request_id");
    resolve_pending(
        [&](const pending_request& r) { return r.thread_id == t.id && r.cli_id == cid; });
  } else if (type == "stream_event" && !sub && t.running) {
    on_stream_event(t, j.value("event", json::object()));
  } else if (type == "assistant" && !sub && t.running) {
    auto msg = j.value("message", json::object());
    auto mid = str_of(msg, "id");
    if (!msg.contains("content") || !msg["content"].is_array()) return;
    for (auto& b : msg["content"]) {
      auto bt = str_of(b, "type");
      if (bt == "text") {
        auto text = cut_utf8(str_of(b, "text"), opts_.max_message_bytes);
        if (text.empty()) continue;
        auto key =
            !t.cur_text_key.empty() && t.cur_msg == mid ? t.cur_text_key : mid + ":" + make_uuid();
        emit(ev_message{{message_id_for(t, key), t.id, "assistant", text, 0}});
      } else if (bt == "tool_use") {
        if (t.tools.size() >= 256) t.tools.erase(t.tools.begin());
        t.tools[str_of(b, "id")] = {str_of(b, "name"), b.value("input", json::object())};
      }
    }
  } else if (type == "user" && !sub) {
    auto msg = j.value("message", json::object());
    if (!msg.contains("content") || !msg["content"].is_array()) return;
    for (auto& b : msg["content"]) {
      if (str_of(b, "type") != "tool_result") continue;
      auto tid = str_of(b, "tool_use_id");
      auto it = t.tools.find(tid);
      if (it == t.tools.end()) continue;
      bool declined = t.declined.erase(tid) > 0;
      system_message(t, claude_tool_card(it->second.first, it->second.second, b,
                                         j.value("tool_use_result", json()), declined));
      t.tools.erase(it);
    }
  } else if (type == "result" && t.running) {
    bool failed = j.value("is_error", false) || str_of(j, "subtype") != "success";
    if (failed && t.interrupt_requested) {
      system_message(t, "Turn interrupted.");
    } else if (failed) {
      auto why = one_line(str_of(j, "result"), 1000);
      if (why.empty() && j.contains("errors") && j["errors"].is_array() && !j["errors"].empty() &&
          j["errors"][0].is_string())
        why = one_line(j["errors"][0].get<std::string>(), 1000);
      if (why.empty()) why = str_of(j, "subtype", "unknown error");
      system_message(t, "Turn failed: " + why);
    }
    end_turn(t);
  }
}

void claude_runtime::on_stream_event(thread_state& t, const json& ev) {
  auto et = str_of(ev, "type");
  if (et == "message_start") {
    t.cur_msg = str_of(ev.value("message", json::object()), "id");
    t.cur_text_key.clear();
  } else if (et == "content_block_start") {
    bool text = str_of(ev.value("content_block", json::object()), "type") == "text";
    t.cur_text_key = text ? t.cur_msg + ":" + std::to_string(ev.value("index", 0)) : "";
  } else if (et == "content_block_delta" && !t.cur_text_key.empty()) {
    auto delta = ev.value("delta", json::object());
    if (str_of(delta, "type") != "text_delta") return;
    auto text = str_of(delta, "text");
    auto mid = message_id_for(t, t.cur_text_key);
    auto& n = t.msg_bytes[mid];
    if (text.empty() || n >= opts_.max_message_bytes) return;
    text = cut_utf8(text, opts_.max_message_bytes - n);
    n += text.size();
    emit(ev_message_delta{t.id, mid, text});
  }
}

void claude_runtime::on_control_request(thread_state& t, const std::string& cid, const json& req) {
  auto sub = str_of(req, "subtype");
  if (sub == "elicitation") return on_elicitation(t, cid, req);
  if (sub != "can_use_tool") {  // hook callbacks, SDK MCP messages, dialogs, ...
    auto a = claude_unserved_control(cid, req);
    send_line(t, {{"type", "control_response"}, {"response", a.response}});
    system_message(t, a.note);
    return;
  }
  pending_request p{t.id,
                    cid,
                    str_of(req, "tool_name"),
                    str_of(req, "tool_use_id"),
                    req.value("input", json::object()),
                    req.value("permission_suggestions", json()),
                    "approval",
                    {}};
  if (pending_.size() >= opts_.max_pending_requests) {
    control_reply(t, cid,
                  {{"behavior", "deny"}, {"message", "Too many pending permission requests."}});
    return;
  }
  runtime_request_info info;
  info.id = next_request_++;
  info.kind = "approval";
  info.thread_id = t.id;
  info.tool_name = p.tool;
  bool file =
      p.tool == "Write" || p.tool == "Edit" || p.tool == "MultiEdit" || p.tool == "NotebookEdit";
  info.title = p.tool == "Bash" ? "Run command?"
               : file           ? "Apply file changes?"
                                : "Allow " + p.tool + "?";
  info.summary = "Claude Code wants to " + claude_tool_action(p.tool, p.input);
  auto why = one_line(str_of(req, "decision_reason", str_of(req, "description")), 300);
  if (!why.empty()) info.summary += " — " + why;
  auto blocked = str_of(req, "blocked_path");
  if (!blocked.empty()) info.summary += " (path: " + blocked + ")";
  if (auto preview = claude_edit_preview(p.tool, p.input); !preview.empty())
    info.summary += "\n```diff\n" + preview + "\n```";
  info.title = cut_utf8(info.title, 200);
  info.summary = cut_utf8(info.summary, 2000);
  info.response_options = approval_options();
  pending_[info.id] = std::move(p);
  emit(ev_request{info});
}

// An MCP server asks the user for input (the CLI forwards it as control_request elicitation).
void claude_runtime::on_elicitation(thread_state& t, const std::string& cid, const json& req) {
  if (pending_.size() >= opts_.max_pending_requests) {
    control_reply(t, cid, {{"action", "cancel"}});
    return system_message(t, "Too many pending requests; an MCP server's question was cancelled.");
  }
  runtime_request_info info;
  pending_request p{t.id, cid, {}, {}, {}, {}, "mcpElicitation", {}};
  p.form = claude_elicitation_request(req, info);
  info.id = next_request_++;
  info.thread_id = t.id;
  pending_[info.id] = std::move(p);
  emit(ev_request{info});
}

void claude_runtime::load_history(const std::string& thread_id, bool earlier) {
  std::string path;
  int64_t before = 0;
  {
    std::lock_guard<std::mutex> lk(mx_);
    auto* t = find_thread(thread_id);
    if (!earlier || !ready_ || !t || t->history_loading || t->history_before <= 0) return;
    t->history_loading = true;
    path = session_file(*t);
    before = t->history_before;
  }
  // Bounded file reads, outside the lock (the I/O thread keeps running).
  auto page = read_claude_history(path, before, static_cast<std::size_t>(opts_.history_limit));
  std::lock_guard<std::mutex> lk(mx_);
  auto* t = find_thread(thread_id);
  if (!t) return;
  t->history_loading = false;
  if (t->history_before != before) return;
  t->history_before = page.before;
  for (auto& m : page.messages) {
    m.thread_id = t->id;
    emit(ev_message{m});
  }
}

}  // namespace claude_impl

claude_options parse_claude_options(const std::vector<std::string>& args) {
  using namespace util;
  claude_options o;
  o.claude_bin = env_or("RC_CLAUDE_BIN", o.claude_bin);
  o.workspaces = split_list(env_or("RC_CLAUDE_CWD", ""), ':');
  if (auto v = env_or("RC_CLAUDE_PERMISSION_MODE", ""); !v.empty()) o.permission_mode = v;
  if (auto v = env_or("RC_CLAUDE_MODEL", ""); !v.empty()) o.model = v;
  o.debug = env_or("RC_CLAUDE_DEBUG", "") == "1";
  std::size_t i = 0;
  if (!args.empty() && !args[0].empty() && args[0][0] != '-') o.claude_bin = args[i++];
  auto fail = [&](const std::string& e) {
    if (o.config_error.empty()) o.config_error = e;
  };
  bool cwd_flag = false;
  for (; i < args.size(); ++i) {
    const auto& a = args[i];
    auto value = [&](std::string& out) {
      if (i + 1 >= args.size()) return fail(a + " needs a value"), false;
      out = args[++i];
      return true;
    };
    auto number = [&](long lo, long hi, long& out) {
      std::string v;
      if (!value(v)) return false;
      char* end = nullptr;
      out = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || !end || *end || out < lo || out > hi)
        return fail(a + " must be " + std::to_string(lo) + ".." + std::to_string(hi)), false;
      return true;
    };
    std::string v;
    long n = 0;
    if (a == "--claude-cwd") {
      if (!value(v)) continue;
      if (!cwd_flag) o.workspaces.clear();  // flags replace RC_CLAUDE_CWD
      cwd_flag = true;
      o.workspaces.push_back(v);
    } else if (a == "--claude-permission-mode") {
      if (value(v)) o.permission_mode = v;
    } else if (a == "--claude-model") {
      if (value(v)) o.model = v;
    } else if (a == "--claude-list-limit") {
      if (number(0, 200, n)) o.list_limit = static_cast<int>(n);
    } else if (a == "--claude-history") {
      if (number(0, 500, n)) o.history_limit = static_cast<int>(n);
    } else if (a == "--claude-max-processes") {
      if (number(1, 32, n)) o.max_processes = static_cast<std::size_t>(n);
    } else if (a == "--claude-idle-timeout") {
      if (number(10, 86400, n)) o.idle_timeout_ms = static_cast<int>(n * 1000);
    } else if (a == "--claude-max-failures") {
      if (number(1, 100, n)) o.max_failures = static_cast<int>(n);
    } else if (a == "--claude-failure-window") {
      if (number(10, 86400, n)) o.failure_window_ms = static_cast<int>(n * 1000);
    } else if (a == "--claude-no-partial") {
      o.partial_messages = false;
    } else if (a == "--claude-debug") {
      o.debug = true;
    } else if (a == "-p" || a == "--print" || a == "--input-format" || a == "--output-format" ||
               a == "--permission-prompt-tool" || a == "--resume" || a == "-r" ||
               a == "--session-id" || a == "--continue" || a == "-c" ||
               a == "--include-partial-messages" || a == "--verbose") {
      fail(a + " is set by the bridge (stream-json on stdio, one session per thread)");
    } else {
      o.extra_args.push_back(a);
    }
  }
  if (o.permission_mode) {
    static const char* modes[] = {"default",           "acceptEdits", "plan",
                                  "bypassPermissions", "dontAsk",     "auto"};
    if (std::none_of(std::begin(modes), std::end(modes),
                     [&](const char* m) { return *o.permission_mode == m; }))
      fail(
          "--claude-permission-mode must be default, acceptEdits, plan, bypassPermissions, dontAsk "
          "or auto");
  }
  if (o.config_error.empty()) o.config_error = resolve_workspaces(o.workspaces, "--claude-cwd");
  return o;
}

std::unique_ptr<runtime> make_claude_runtime(claude_options opts) {
  return std::make_unique<claude_impl::claude_runtime>(std::move(opts));
}

std::unique_ptr<runtime> make_claude_runtime(const std::vector<std::string>& args) {
  return make_claude_runtime(parse_claude_options(args));
}

}  // namespace rc::bridge
