// The codex runtime class (internal to runtime_codex.cpp and runtime_codex_io.cpp).
//  * runtime_codex.cpp: the runtime interface (turns, interrupt, answers, history) and the
//    inbound JSON-RPC traffic (responses, notifications, server requests);
//  * runtime_codex_io.cpp: the I/O thread: the child process, handshake, thread listing per
//    workspace, drafts, and restarts with backoff.
// All state is guarded by `mx_`; events are emitted while holding it, so their order is the order
// in which codex produced them.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "desktop-bridge/runtime_codex.hpp"
#include "desktop-bridge/runtime_codex_map.hpp"
#include "desktop-bridge/runtime_codex_proc.hpp"
#include "desktop-bridge/runtime_util.hpp"

namespace rc::bridge::codex {

class codex_runtime final : public runtime {
 public:
  explicit codex_runtime(codex_options o);
  ~codex_runtime() override { stop(); }

  std::string name() const override { return "codex"; }
  void start(event_sink sink) override;
  void stop() override;
  op_result start_turn(const turn_request& req) override;
  void interrupt(const std::string& thread_id) override;
  op_result respond(uint64_t request_id, const runtime_response& r) override;
  void load_history(const std::string& thread_id, bool earlier) override;

 private:
  using clock_type = std::chrono::steady_clock;
  using rpc_callback = std::function<void(const json* result, const json* error)>;

  struct workspace {
    std::string cwd, project_id, name;
  };
  struct thread_state {
    std::string id;  // bridge thread ID
    std::string codex_id;
    std::string title;
    std::size_t ws = 0;   // index into workspaces_
    bool loaded = false;  // started/resumed in the current app-server process
    bool draft = false;   // "New conversation": no message yet
    bool running = false;
    bool interrupt_requested = false;
    bool retry_noted = false;
    bool resume_after_restart = false;  // a turn was cut by a crash: resume + say so
    bool history_started = false, history_loading = false, history_done = false;
    std::string history_cursor;          // `nextCursor` of the last thread/turns/list page
    std::deque<std::string> live_turns;  // turn IDs seen live (not repeated from history)
    std::string turn_id;
    std::string last_error;
    std::map<std::string, std::string> msg_ids;    // codex item ID → bridge message ID
    std::map<std::string, std::size_t> msg_bytes;  // bridge message ID → streamed bytes
    std::map<std::string, std::string> items;      // codex item ID → short description
  };

  // ---- runtime_codex.cpp (mx_ held) ---------------------------------------------------------
  void emit(runtime_event ev);
  /// Withdraws the pending requests `pred` selects (the phone sees them resolved).
  template <class Pred>
  void resolve_pending(Pred&& pred) {
    util::erase_pending_if(pending_, pred, [this](uint64_t id) { emit(ev_request_resolved{id}); });
  }
  void system_message(const std::string& thread_id, const std::string& text);
  thread_state* find_thread(const std::string& id);
  thread_state* by_codex_id(const std::string& cid);
  thread_state* by_codex(const json& params) { return by_codex_id(str_of_thread(params)); }
  static std::string str_of_thread(const json& params);
  json thread_params(std::size_t ws) const;
  json start_params(std::size_t ws) const;  // thread_params + dynamicTools (thread/start)
  static std::string rpc_error(const json* err);
  void send_turn(thread_state& t, const std::string& text);
  void adopt_turn(thread_state& t, const std::string& turn_id);
  void send_interrupt(thread_state& t);
  void fail_turn(thread_state& t, const std::string& why);
  void end_turn(thread_state& t);
  std::string message_id_for(thread_state& t, const std::string& item_id);
  void send_line(const json& j);
  void send_request(const std::string& method, json params, rpc_callback cb);
  void handle_line(const std::string& line);
  void on_notification(const std::string& m, const json& p);
  void on_turn_completed(thread_state& t, const json& p);
  void on_item(thread_state& t, const json& item, bool completed);
  void on_server_request(const json& sid, const std::string& m, const json& p);
  /// A note in the threads concerned by a refused request (never silent): its thread, else
  /// the running threads, else the thread used last.
  void note_in_threads(thread_state* t, const std::string& text);

  // ---- runtime_codex_io.cpp -----------------------------------------------------------------
  void io_loop();
  std::string run_child();  // one app-server process, until it is gone; "" when stopping
  void begin_handshake();
  void list_threads(std::size_t ws);
  void add_listed_thread(std::size_t ws, const json& th);
  void prepare_drafts();
  void start_draft(std::size_t ws, bool select, const std::string& reuse_id);
  void setup_step_done();
  void announce_ready();
  void resume_cut_threads();
  void on_child_gone(const std::string& why, int restart_in_ms);

  codex_options opts_;
  std::vector<workspace> workspaces_;
  std::string user_agent_;
  std::mutex mx_, emit_mx_;
  std::condition_variable cv_;  // restart backoff wait (woken by stop)
  event_sink sink_;
  std::thread io_;
  app_server_process child_;
  bool started_ = false, stopping_ = false, ready_ = false, initialized_ = false;
  int setup_pending_ = 0;   // thread/start calls before the runtime reports online
  bool restarted_ = false;  // the current process is a restart
  std::deque<clock_type::time_point> failures_;  // within restart_window_s
  std::string fatal_;
  std::string last_thread_;  // the thread of the last turn (for notes without a thread)
  uint64_t next_rpc_ = 1;
  uint64_t next_request_ = 1;
  std::map<uint64_t, rpc_callback> rpc_;
  std::map<std::string, thread_state> threads_;
  std::map<std::string, std::string> by_codex_;
  std::map<uint64_t, pending_request> pending_;
};

}  // namespace rc::bridge::codex
