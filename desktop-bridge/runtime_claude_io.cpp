// `claude` runtime: CLI processes (one per active thread), the I/O thread, the start probe,
// session listing and restarts with bounded backoff (see runtime_claude_impl.hpp).
#include <poll.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iostream>

#include "desktop-bridge/runtime_claude_impl.hpp"

namespace rc::bridge::claude_impl {

namespace {

bool file_exists(const std::string& p) {
  return ::access(p.c_str(), F_OK) == 0;
}

}  // namespace

bool claude_runtime::spawn_proc(thread_state& t, bool restarted) {
  std::vector<std::string> args = {
      opts_.claude_bin, "-p",        "--input-format",           "stream-json", "--output-format",
      "stream-json",    "--verbose", "--permission-prompt-tool", "stdio"};
  if (opts_.partial_messages) args.push_back("--include-partial-messages");
  if (opts_.permission_mode) args.insert(args.end(), {"--permission-mode", *opts_.permission_mode});
  if (opts_.model) args.insert(args.end(), {"--model", *opts_.model});
  bool on_disk = file_exists(session_file(t));
  args.insert(args.end(), {on_disk ? "--resume" : "--session-id", t.session_id});
  args.insert(args.end(), opts_.extra_args.begin(), opts_.extra_args.end());
  auto p = std::make_unique<proc_state>(opts_.max_line_bytes);
  p->err_tail.max = 4096;
  p->restarted = restarted;
  std::string err;
  if (!p->child.spawn(args, workspaces_[t.ws].cwd, err)) {
    if (err.find("No such file") != std::string::npos)
      err += " — install Claude Code or pass its path after `--` / RC_CLAUDE_BIN";
    if (t.running) {
      system_message(t, "Claude Code did not start: " + err);
      end_turn(t);
    }
    on_failure(err, t.id);
    return false;
  }
  if (opts_.debug)
    std::cerr << "claude: started pid " << p->child.pid() << " for " << t.session_id << "\n";
  p->init_id = "init-" + std::to_string(next_ctl_++);
  t.proc = std::move(p);
  send_line(t, {{"type", "control_request"},
                {"request_id", t.proc->init_id},
                {"request", {{"subtype", "initialize"}}}});
  return true;
}

// The process of `t` has exited (or must go): drain it, end what was in flight.
void claude_runtime::on_proc_gone(thread_state& t) {
  auto& p = *t.proc;
  char b[65536];
  for (int i = 0; i < 64 && p.child.out_fd() >= 0; ++i) {
    auto r = ::read(p.child.out_fd(), b, sizeof b);
    if (r <= 0) break;
    std::vector<std::string> lines;
    p.lines.feed(b, static_cast<std::size_t>(r), lines);
    for (auto& l : lines) handle_line(t, l);
  }
  for (int i = 0; i < 16 && p.child.err_fd() >= 0; ++i) {
    auto r = ::read(p.child.err_fd(), b, sizeof b);
    if (r <= 0) break;
    p.err_tail.add(b, static_cast<std::size_t>(r));
  }
  const bool expected = p.closing && !fatal_.count(t.id);
  std::string why = fatal_.count(t.id)
                        ? fatal_[t.id] + "; Claude Code stopped"
                        : "Claude Code exited (" + describe_wait_status(p.child.status()) + ")";
  fatal_.erase(t.id);
  auto tail = one_line(tail_utf8(p.err_tail.data, 600), 600);
  if (!tail.empty()) why += ": " + tail;
  p.child.reap(0);
  t.proc.reset();
  if (stopping_) return;
  if (expected && !t.pending_input.empty()) return;  // closed while idle; a new one takes over
  t.pending_input.clear();
  if (t.running) {
    system_message(t, "Claude Code stopped: " + why);
    end_turn(t);
  }
  if (!expected) {
    std::cerr << "desktop-bridge: claude: " << why << "\n";
    on_failure(why, t.id);
  }
}

void claude_runtime::on_failure(const std::string& why, const std::string& thread_id) {
  auto now = clock_type::now();
  failures_.push_back(now);
  while (!failures_.empty() && now - failures_.front() > ms(opts_.failure_window_ms))
    failures_.pop_front();
  ready_ = false;
  resolve_pending([](const pending_request&) { return true; });
  if (static_cast<int>(failures_.size()) >= opts_.max_failures) {
    gave_up_ = true;
    restart_at_.reset();
    emit(ev_status{false, "claude: " + why + " — " + std::to_string(failures_.size()) +
                              " failures within " + std::to_string(opts_.failure_window_ms / 1000) +
                              " s; staying offline (restart the bridge)"});
    return;
  }
  int delay = opts_.backoff_min_ms;
  for (int i = 0; i < attempt_ && delay < opts_.backoff_max_ms; ++i) delay *= 2;
  delay = std::min(delay, opts_.backoff_max_ms);
  ++attempt_;
  restart_at_ = now + ms(delay);
  restart_thread_ = thread_id;
  emit(ev_status{false, "claude: " + why + " — restarting in " + std::to_string(delay) +
                            " ms (attempt " + std::to_string(attempt_) + ")"});
}

// `claude --version` (blocking, on the I/O thread, bounded): the CLI is there and runs.
bool claude_runtime::probe(std::string& err) {
  child_process c;
  if (!c.spawn({opts_.claude_bin, "--version"}, workspaces_.front().cwd, err)) {
    if (err.find("No such file") != std::string::npos)
      err += " — install Claude Code or pass its path after `--` / RC_CLAUDE_BIN";
    return false;
  }
  c.close_stdin();
  std::string out;
  byte_tail etail;
  auto deadline = clock_type::now() + ms(opts_.init_timeout_ms);
  while (c.out_fd() >= 0 || c.err_fd() >= 0) {
    pollfd fds[2] = {{c.out_fd(), POLLIN, 0}, {c.err_fd(), POLLIN, 0}};
    ::poll(fds, 2, 100);
    char b[4096];
    for (int i = 0; i < 2; ++i) {
      int fd = i == 0 ? c.out_fd() : c.err_fd();
      if (fd < 0 || !fds[i].revents) continue;
      auto r = ::read(fd, b, sizeof b);
      if (r > 0 && i == 0 && out.size() < 4096) out.append(b, static_cast<std::size_t>(r));
      if (r > 0 && i == 1) etail.add(b, static_cast<std::size_t>(r));
      if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
        i == 0 ? c.close_out() : c.close_err();
    }
    std::lock_guard<std::mutex> lk(mx_);
    if (stopping_ || clock_type::now() > deadline) break;
  }
  c.reap(1000);
  if (!WIFEXITED(c.status()) || WEXITSTATUS(c.status()) != 0 || out.empty()) {
    err = "'" + opts_.claude_bin + " --version' failed (" + describe_wait_status(c.status()) + ")";
    auto tail = one_line(tail_utf8(etail.data, 600), 600);
    if (!tail.empty()) err += ": " + tail;
    return false;
  }
  version_ = one_line(out, 80);
  if (auto i = version_.find(" (Claude Code)"); i != std::string::npos) version_.resize(i);
  return true;
}

// The recorded sessions of each workspace (the newest list_limit of each) as its threads.
void claude_runtime::list_sessions() {
  for (std::size_t ws = 0; ws < workspaces_.size(); ++ws) {
    auto sessions = list_claude_sessions(workspaces_[ws].project_dir,
                                         static_cast<std::size_t>(opts_.list_limit),
                                         static_cast<std::size_t>(opts_.history_limit));
    for (auto& s : sessions) {
      if (threads_.count(upper(s.session_id))) continue;
      auto& t = add_thread(ws, s.session_id, s.title, false);
      t.history_before = s.history_before;
      for (auto& m : s.history) {
        m.thread_id = t.id;
        emit(ev_message{m});
      }
    }
  }
}

// Timers, spawns and exits (mx_ held).
void claude_runtime::housekeeping() {
  auto now = clock_type::now();
  if (restart_at_ && now >= *restart_at_) {
    restart_at_.reset();
    auto* t = find_thread(restart_thread_);
    if (!t) {
      std::string err;
      if (probe_locked(err)) {
        attempt_ = 0;
        if (!drafted_) {  // one draft per workspace, the first one selected
          for (std::size_t ws = 0; ws < workspaces_.size(); ++ws) add_draft(ws, ws == 0);
          drafted_ = true;
        }
        announce_ready("ready");
      } else {
        on_failure(err, "");
      }
    } else if (!t->proc) {
      spawn_proc(*t, true);
    }
  }
  for (auto& [id, t] : threads_) {
    if (!t.pending_input.empty() && !t.proc && !gave_up_) {
      if (!spawn_proc(t, false)) continue;
    }
    if (!t.proc) continue;
    auto& p = *t.proc;
    if (!t.pending_input.empty() && !p.closing) {  // a closing one hands over to a new one
      p.outq += t.pending_input;
      t.pending_input.clear();
    }
    if (!p.initialized && !p.closing && now - p.spawned > ms(opts_.init_timeout_ms))
      kill_proc(t, "Claude Code did not answer `initialize` within " +
                       std::to_string(opts_.init_timeout_ms / 1000) + " s");
    bool idle = !t.running && now - t.last_used > ms(opts_.idle_timeout_ms);
    if (idle || (!t.running && live_processes() > opts_.max_processes)) begin_close(p);
    if (p.closing && now > p.close_deadline) {
      p.child.signal_group(SIGTERM);
      p.close_deadline = now + ms(3000);
    }
    if (p.child.poll_exit()) on_proc_gone(t);
  }
}

void claude_runtime::io_loop() {
  std::unique_lock<std::mutex> lk(mx_);
  list_sessions();
  restart_at_ = clock_type::now();  // first "restart" = the probe
  restart_thread_.clear();
  std::vector<std::string> lines;
  while (!stopping_) {
    housekeeping();
    if (stopping_) break;
    std::vector<pollfd> fds = {{wake_[0], POLLIN, 0}};
    std::vector<std::pair<thread_state*, int>> who = {{nullptr, 0}};  // 0 out, 1 err, 2 in
    for (auto& [id, t] : threads_) {
      if (!t.proc) continue;
      auto& c = t.proc->child;
      if (c.out_fd() >= 0) fds.push_back({c.out_fd(), POLLIN, 0}), who.push_back({&t, 0});
      if (c.err_fd() >= 0) fds.push_back({c.err_fd(), POLLIN, 0}), who.push_back({&t, 1});
      if (c.in_fd() >= 0 && !t.proc->outq.empty())
        fds.push_back({c.in_fd(), POLLOUT, 0}), who.push_back({&t, 2});
    }
    lk.unlock();
    int rc = ::poll(fds.data(), static_cast<nfds_t>(fds.size()), 250);
    lk.lock();
    if (rc <= 0) continue;
    if (fds[0].revents) {
      char b[64];
      while (::read(wake_[0], b, sizeof b) > 0) {
      }
    }
    for (std::size_t i = 1; i < fds.size() && !stopping_; ++i) {
      auto [t, kind] = who[i];
      if (!fds[i].revents || !t->proc || t->proc->child.exited()) continue;
      auto& p = *t->proc;
      char b[65536];
      if (kind == 2) {
        auto w = ::write(p.child.in_fd(), p.outq.data(), p.outq.size());
        if (w > 0)
          p.outq.erase(0, static_cast<std::size_t>(w));
        else if (w < 0 && errno != EAGAIN && errno != EINTR)
          p.outq.clear(), p.child.close_stdin();
        continue;
      }
      int fd = kind == 0 ? p.child.out_fd() : p.child.err_fd();
      if (fd != fds[i].fd) continue;
      auto r = ::read(fd, b, sizeof b);
      if (r > 0 && kind == 1) {
        if (opts_.debug) std::cerr.write(b, r);
        p.err_tail.add(b, static_cast<std::size_t>(r));
      } else if (r > 0) {
        lines.clear();
        p.lines.feed(b, static_cast<std::size_t>(r), lines);
        for (auto& l : lines)
          if (t->proc) handle_line(*t, l);
      } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
        kind == 0 ? p.child.close_out() : p.child.close_err();
      }
    }
  }
  // Shutdown: close every stdin (the CLI saves and exits), then SIGTERM, then SIGKILL.
  for (auto& [id, t] : threads_)
    if (t.proc) t.proc->child.close_stdin();
  auto deadline = clock_type::now() + ms(1500);
  for (auto& [id, t] : threads_) {
    if (!t.proc) continue;
    while (!t.proc->child.poll_exit() && clock_type::now() < deadline)
      std::this_thread::sleep_for(ms(10));
    if (!t.proc->child.exited()) t.proc->child.signal_group(SIGTERM);
    t.proc->child.reap(1000);
    t.proc.reset();
  }
}

}  // namespace rc::bridge::claude_impl
