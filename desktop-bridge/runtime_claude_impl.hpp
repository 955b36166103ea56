// claude runtime internals: the runtime class shared by runtime_claude.cpp (commands, inbound
// stream-json) and runtime_claude_io.cpp (processes, I/O thread, restarts). Not a public
// header: the contract is runtime.hpp; construct through make_claude_runtime().
//
// One I/O thread owns every child's pipes (poll: stdout, stderr, stdin when output is queued,
// a wake pipe) and the timers (init/idle timeouts, restart backoff); runtime methods only queue
// lines and return. All state is guarded by `mx_`; events are emitted while holding it, so
// their order is the order in which the CLI produced them.
#pragma once
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "desktop-bridge/child_process.hpp"
#include "desktop-bridge/runtime_claude.hpp"
#include "desktop-bridge/runtime_util.hpp"

namespace rc::bridge::claude_impl {

using json = nlohmann::json;
using namespace util;
using clock_type = std::chrono::steady_clock;
using ms = std::chrono::milliseconds;

class claude_runtime final : public runtime {
 public:
  explicit claude_runtime(claude_options o);
  ~claude_runtime() override { stop(); }

  std::string name() const override { return "claude"; }

  void start(event_sink sink) override;

  void stop() override;

  op_result start_turn(const turn_request& req) override;

  void interrupt(const std::string& thread_id) override;

  op_result respond(uint64_t request_id, const runtime_response& r) override;

  void load_history(const std::string& thread_id, bool earlier) override;

 private:
  struct proc_state {
    child_process child;
    line_splitter lines;
    byte_tail err_tail;
    std::string outq, init_id;
    bool initialized = false, closing = false, restarted = false;
    clock_type::time_point spawned = clock_type::now(), close_deadline{};
    explicit proc_state(std::size_t max_line) : lines(max_line) {}
  };
  struct workspace {
    std::string cwd, project_dir, project_id, name;  // project_dir: the CLI's session directory
  };
  struct thread_state {
    std::string id, session_id, title;
    std::size_t ws = 0;  // index into workspaces_
    bool draft = false, running = false, interrupt_requested = false;
    std::unique_ptr<proc_state> proc;
    std::string pending_input;                     // the user line, until a process takes it
    std::map<std::string, std::string> msg_ids;    // "<message id>:<block>" → bridge message ID
    std::map<std::string, std::size_t> msg_bytes;  // bridge message ID → streamed bytes
    std::string cur_msg, cur_text_key;             // the block being streamed
    std::map<std::string, std::pair<std::string, json>> tools;  // tool_use id → name, input
    std::set<std::string> declined;                             // tool_use ids denied
    clock_type::time_point last_used = clock_type::now();
    int64_t history_before = 0;  // transcript offset of the next earlier page (0 = none)
    bool history_loading = false;
  };
  struct pending_request {
    std::string thread_id, cli_id, tool, tool_use_id;
    json input, suggestions;
    std::string kind = "approval";  // or "mcpElicitation"
    json form;                      // mcpElicitation: the requested schema (null: url mode)
  };

  // ---- helpers (mx_ held) -----------------------------------------------------------------

  void emit(runtime_event ev) {
    std::lock_guard<std::mutex> lk(emit_mx_);
    if (sink_) sink_(std::move(ev));
  }
  /// Withdraws the pending requests `pred` selects (the phone sees them resolved).
  template <class Pred>
  void resolve_pending(Pred&& pred) {
    util::erase_pending_if(pending_, pred, [this](uint64_t id) { emit(ev_request_resolved{id}); });
  }
  void system_message(const thread_state& t, const std::string& text) {
    emit(ev_message{{make_uuid(), t.id, "system", cut_utf8(text, 4000), 0}});
  }
  thread_state* find_thread(const std::string& id) {
    auto it = threads_.find(id);
    return it == threads_.end() ? nullptr : &it->second;
  }
  template <class C>
  static void remember(C& set, const std::string& v) {
    if (set.size() >= 256) set.erase(set.begin());
    set.insert(v);
  }
  std::size_t live_processes() const {
    std::size_t n = 0;
    for (auto& [id, t] : threads_)
      if (t.proc && !t.proc->closing) ++n;
    return n;
  }
  std::size_t running_turns() const {
    std::size_t n = 0;
    for (auto& [id, t] : threads_)
      if (t.running) ++n;
    return n;
  }
  void wake() {
    if (wake_[1] >= 0) {
      char c = 1;
      [[maybe_unused]] auto n = ::write(wake_[1], &c, 1);
    }
  }

  thread_state& add_thread(std::size_t ws, const std::string& session_id, const std::string& title,
                           bool draft);
  // A draft's session ID is ours to pick (--session-id), so its thread ID is final from the start.
  void add_draft(std::size_t ws, bool select) {
    auto& t = add_thread(ws, lower(make_uuid()), "New conversation", true);
    if (select) emit(ev_selection{workspaces_[ws].project_id, t.id});
  }
  std::string session_file(const thread_state& t) const {
    return workspaces_[t.ws].project_dir + "/" + t.session_id + ".jsonl";
  }

  json session_rules(const pending_request& p) const;

  void send_line(thread_state& t, const json& j);

  void end_turn(thread_state& t);

  std::string message_id_for(thread_state& t, const std::string& key) {
    auto it = t.msg_ids.find(key);
    if (it != t.msg_ids.end()) return it->second;
    if (t.msg_ids.size() >= 1024) t.msg_ids.erase(t.msg_ids.begin());
    return t.msg_ids[key] = make_uuid();
  }

  // ---- inbound ---------------------------------------------------------------------------

  void handle_line(thread_state& t, const std::string& line);

  void on_stream_event(thread_state& t, const json& ev);

  void on_control_request(thread_state& t, const std::string& cid, const json& req);

  void on_elicitation(thread_state& t, const std::string& cid, const json& req);

  void control_reply(thread_state& t, const std::string& cid, const json& response) {
    send_line(
        t, {{"type", "control_response"},
            {"response", {{"subtype", "success"}, {"request_id", cid}, {"response", response}}}});
  }

  // ---- processes ----------------------------------------------------------------------------

  bool spawn_proc(thread_state& t, bool restarted);

  void begin_close(proc_state& p) {  // orderly: close stdin, the CLI saves and exits
    if (p.closing) return;
    p.closing = true;
    p.child.close_stdin();
    p.close_deadline = clock_type::now() + ms(5000);
  }

  void kill_proc(thread_state& t, const std::string& why) {
    if (!t.proc) return;
    fatal_[t.id] = why;
    t.proc->child.signal_group(SIGTERM);
  }

  // The process of `t` has exited (or must go): drain it, end what was in flight.
  void on_proc_gone(thread_state& t);

  void on_failure(const std::string& why, const std::string& thread_id);

  void on_restarted(thread_state& t) {
    attempt_ = 0;
    announce_ready("restarted");
    system_message(t, "Claude Code restarted; this session was resumed.");
  }

  void announce_ready(const std::string& how) {
    ready_ = true;
    std::string where;
    for (auto& w : workspaces_) where += (where.empty() ? "" : ", ") + w.cwd;
    emit(ev_status{true, "Claude Code " + version_ + " " + how + " in " + where, true});
  }

  // `claude --version` (blocking, on the I/O thread, bounded): the CLI is there and runs.
  bool probe(std::string& err);

  void list_sessions();

  // Timers, spawns and exits (mx_ held).
  void housekeeping();

  bool probe_locked(std::string& err) {
    mx_.unlock();
    bool ok = probe(err);
    mx_.lock();
    return ok && !stopping_;
  }

  void io_loop();

  claude_options opts_;
  std::vector<workspace> workspaces_;  // one project each (never empty)
  std::string version_;
  std::mutex mx_, emit_mx_;
  event_sink sink_;
  std::thread io_;
  int wake_[2] = {-1, -1};
  bool started_ = false, stopping_ = false, ready_ = false, gave_up_ = false, drafted_ = false;
  std::optional<clock_type::time_point> restart_at_;
  std::string restart_thread_;  // "" = the start probe
  int attempt_ = 0;
  std::deque<clock_type::time_point> failures_;
  std::map<std::string, std::string> fatal_;  // thread ID → why we are killing its process
  uint64_t next_request_ = 1, next_ctl_ = 1;
  std::map<std::string, thread_state> threads_;
  std::map<uint64_t, pending_request> pending_;
};

}  // namespace rc::bridge::claude_impl
