// The codex runtime's I/O thread: the `codex app-server` child, handshake, thread listing per
// workspace, drafts, and restarts with bounded exponential backoff (runtime_codex_impl.hpp).
#include <algorithm>
#include <iostream>

#include "desktop-bridge/runtime_codex_impl.hpp"
#include "desktop-bridge/runtime_codex_util.hpp"

namespace rc::bridge::codex {

void codex_runtime::io_loop() {
  for (;;) {
    std::string why = run_child();
    std::unique_lock<std::mutex> lk(mx_);
    if (stopping_) return;
    std::cerr << "desktop-bridge: " << why << "\n";
    auto now = clock_type::now();
    failures_.push_back(now);
    while (!failures_.empty() &&
           now - failures_.front() > std::chrono::seconds(opts_.restart_window_s))
      failures_.pop_front();
    auto n = static_cast<int>(failures_.size());
    if (n > opts_.restart_max) {
      auto gave_up = opts_.restart_max == 0
                         ? why + " (automatic restart is off: restart the bridge)"
                         : why + " — gave up after " + std::to_string(n) + " failures within " +
                               std::to_string(opts_.restart_window_s) +
                               " s; fix the cause and restart the bridge";
      on_child_gone(gave_up, -1);
      return;
    }
    int delay = std::min(30000, opts_.restart_base_ms << std::min(n - 1, 10));
    on_child_gone(why, delay);
    cv_.wait_for(lk, std::chrono::milliseconds(delay), [this] { return stopping_; });
    if (stopping_) return;
    restarted_ = true;
    initialized_ = false;
    fatal_.clear();
  }
}

std::string codex_runtime::run_child() {
  {
    std::lock_guard<std::mutex> lk(mx_);
    if (stopping_) return {};
    std::vector<std::string> argv = {opts_.codex_bin, "app-server"};
    argv.insert(argv.end(), opts_.app_server_args.begin(), opts_.app_server_args.end());
    std::string err;
    if (!child_.spawn(argv, workspaces_.front().cwd, err)) return err;
    if (restarted_) emit(ev_status{false, "restarting codex app-server"});
    begin_handshake();
  }
  const auto t0 = clock_type::now();
  std::string why;
  bool exited = false;
  auto on_line = [this](const std::string& line) { handle_line(line); };
  for (;;) {
    {
      std::lock_guard<std::mutex> lk(mx_);
      if (stopping_) break;
      if (!fatal_.empty()) {
        why = fatal_;
        break;
      }
      if (!initialized_ &&
          clock_type::now() - t0 > std::chrono::milliseconds(opts_.init_timeout_ms)) {
        why = "codex app-server did not answer `initialize` within " +
              std::to_string(opts_.init_timeout_ms / 1000) + " s";
        break;
      }
    }
    auto r = child_.poll_once(250, opts_.max_line_bytes, opts_.debug, on_line, why);
    if (r == app_server_process::poll_result::ok) continue;
    exited = r != app_server_process::poll_result::error;
    break;
  }
  bool stopping;
  {
    std::lock_guard<std::mutex> lk(mx_);
    stopping = stopping_;
  }
  int status = child_.shutdown(exited, stopping ? 1500 : 3000);
  if (stopping) return {};
  std::string msg = exited ? "codex app-server exited (" + describe_wait_status(status) + ")"
                           : why + "; codex app-server stopped";
  // The stderr tail, without a Rust backtrace (noise in a status line).
  auto err_tail = child_.stderr_tail();
  if (auto bt = err_tail.find("Stack backtrace:"); bt != std::string::npos) err_tail.resize(bt);
  auto tail =
      one_line(err_tail.size() > 600 ? err_tail.substr(err_tail.size() - 600) : err_tail, 600);
  if (!tail.empty()) msg += ": " + tail;
  return msg;
}

void codex_runtime::begin_handshake() {
  // thread/start `dynamicTools` is part of the experimental API: opt in only when tools are given.
  json caps = {{"experimentalApi", opts_.dynamic_tools.is_array()}};
  json p = {{"clientInfo",
             {{"name", "remote_control_bridge"},
              {"title", "Remote Control desktop bridge"},
              {"version", "0.1.0"}}},
            {"capabilities", caps}};
  send_request("initialize", p, [this](const json* res, const json* err) {
    if (err || !res) {
      fatal_ = "initialize failed: " + rpc_error(err);
      return;
    }
    initialized_ = true;
    user_agent_ = str_of(*res, "userAgent");
    send_line({{"method", "initialized"}});
    list_threads(0);
  });
}

// thread/list per workspace, one after the other; then the drafts, then online.
void codex_runtime::list_threads(std::size_t ws) {
  if (ws >= workspaces_.size() || opts_.list_limit <= 0) return prepare_drafts();
  json lp = {{"limit", opts_.list_limit}, {"cwd", workspaces_[ws].cwd}};
  send_request("thread/list", lp, [this, ws](const json* r, const json* e) {
    if (r && r->contains("data") && (*r)["data"].is_array()) {
      for (auto& th : (*r)["data"]) add_listed_thread(ws, th);
    } else if (e) {
      std::cerr << "desktop-bridge: codex thread/list failed: " << rpc_error(e) << "\n";
    }
    list_threads(ws + 1);
  });
}

void codex_runtime::add_listed_thread(std::size_t ws, const json& th) {
  auto cid = str_of(th, "id");
  if (cid.empty() || by_codex_.count(cid) || threads_.size() >= 2000) return;
  thread_state t;
  t.id = bridge_thread_id(cid);
  t.codex_id = cid;
  t.ws = ws;
  auto title = str_of(th, "name");
  if (title.empty()) title = str_of(th, "preview");
  t.title = one_line(title, 60);
  if (t.title.empty()) t.title = "Codex thread";
  by_codex_[cid] = t.id;
  emit(ev_thread{{t.id, workspaces_[ws].project_id, t.title, false, false}});
  threads_[t.id] = std::move(t);
}

// First start: one draft per workspace (the first one selected). After a restart the drafts of
// the dead process were never written by codex: each gets a fresh codex thread under its ID.
void codex_runtime::prepare_drafts() {
  setup_pending_ = 1;  // released below, so online waits for every thread/start
  if (!restarted_) {
    for (std::size_t ws = 0; ws < workspaces_.size(); ++ws) start_draft(ws, ws == 0, "");
  } else {
    for (auto& [id, t] : threads_)
      if (t.draft) start_draft(t.ws, false, id);
  }
  setup_step_done();
}

void codex_runtime::start_draft(std::size_t ws, bool select, const std::string& reuse_id) {
  ++setup_pending_;
  send_request("thread/start", start_params(ws),
               [this, ws, select, reuse_id](const json* res, const json* err) {
                 std::string cid = res ? str_of(res->value("thread", json::object()), "id") : "";
                 if (err || cid.empty()) {
                   std::cerr << "desktop-bridge: codex thread/start failed: " << rpc_error(err)
                             << "\n";
                 } else if (auto* old = find_thread(reuse_id)) {
                   by_codex_.erase(old->codex_id);
                   old->codex_id = cid;
                   old->loaded = true;
                   by_codex_[cid] = reuse_id;
                 } else {
                   thread_state t;
                   t.id = bridge_thread_id(cid);
                   t.codex_id = cid;
                   t.ws = ws;
                   t.loaded = t.draft = t.history_done = true;
                   t.title = "New conversation";
                   by_codex_[cid] = t.id;
                   emit(ev_thread{{t.id, workspaces_[ws].project_id, t.title, false, false}});
                   if (select) emit(ev_selection{workspaces_[ws].project_id, t.id});
                   threads_[t.id] = std::move(t);
                 }
                 setup_step_done();
               });
}

void codex_runtime::setup_step_done() {
  if (setup_pending_ > 0 && --setup_pending_ == 0 && !ready_) announce_ready();
}

void codex_runtime::announce_ready() {
  ready_ = true;
  std::string where;
  for (auto& w : workspaces_) where += (where.empty() ? "" : ", ") + w.cwd;
  emit(ev_status{true,
                 "codex app-server ready" + (user_agent_.empty() ? "" : " (" + user_agent_ + ")") +
                     " in " + where + (restarted_ ? " (restarted)" : ""),
                 true});
  if (restarted_) resume_cut_threads();
}

// Threads whose turn the crash cut off: resume them in the new process and say so.
void codex_runtime::resume_cut_threads() {
  for (auto& [id, t] : threads_) {
    if (!t.resume_after_restart || t.loaded || t.running) continue;
    json p = thread_params(t.ws);
    p["threadId"] = t.codex_id;
    p["excludeTurns"] = true;
    send_request("thread/resume", p, [this, id = id](const json* res, const json* err) {
      auto* th = find_thread(id);
      if (!th || !th->resume_after_restart) return;
      th->resume_after_restart = false;
      if (err || !res)
        return system_message(
            id, "Codex restarted, but this thread could not be resumed: " + rpc_error(err));
      th->loaded = true;
      system_message(id, "Codex restarted; this thread was resumed. Send a message to continue.");
    });
  }
}

// The child is gone: everything in flight ends; the runtime goes offline. `restart_in_ms` ≥ 0:
// a restart follows; -1: it stays offline (the reason goes to the threads concerned too).
void codex_runtime::on_child_gone(const std::string& why, int restart_in_ms) {
  ready_ = false;
  rpc_.clear();
  setup_pending_ = 0;
  std::string next = restart_in_ms >= 0 ? "; restarting it in " +
                                              std::to_string((restart_in_ms + 999) / 1000) + " s"
                                        : "";
  bool noted = false;
  for (auto& [id, t] : threads_) {
    t.loaded = false;
    if (t.history_loading && t.history_cursor.empty()) t.history_started = false;  // page lost
    t.history_loading = false;
    if (t.running) {
      system_message(id, "Codex stopped: " + why + next);
      t.resume_after_restart = restart_in_ms >= 0;
      end_turn(t);
      noted = noted || id == last_thread_;
    }
  }
  if (restart_in_ms < 0 && !noted && find_thread(last_thread_))
    system_message(last_thread_, "Codex is offline: " + why);
  resolve_pending([](const pending_request&) { return true; });
  emit(ev_status{false, "codex: " + why + next});
}

}  // namespace rc::bridge::codex
