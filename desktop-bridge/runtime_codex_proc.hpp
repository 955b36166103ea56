// The `codex app-server` child process of the codex runtime: the shared child_process (spawn in
// its own process group with default signal dispositions, cwd = workspace; reap) plus what a
// single JSON-RPC peer needs — a bounded stdin queue, one poll round at a time over stdout
// (split into lines by the shared line_splitter, over-long lines dropped), stderr (a 4 KiB
// tail) and a wake pipe, and shutdown (close stdin, SIGTERM, SIGKILL after a grace period).
// Not thread-safe except `enqueue` / `wake`, which the runtime calls from the broker thread
// while the I/O thread polls.
#pragma once
#include <sys/types.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "desktop-bridge/child_process.hpp"

namespace rc::bridge::codex {

class app_server_process {
 public:
  app_server_process();
  ~app_server_process();
  app_server_process(const app_server_process&) = delete;
  app_server_process& operator=(const app_server_process&) = delete;

  /// Starts `argv` (argv[0] looked up in PATH) in `cwd`. False + `err` on failure.
  bool spawn(const std::vector<std::string>& argv, const std::string& cwd, std::string& err);
  pid_t pid() const { return child_ ? child_->pid() : -1; }

  /// Queues one line for stdin (a '\n' is added). False when `max_bytes` would be exceeded.
  bool enqueue(const std::string& line, std::size_t max_bytes);
  /// Wakes a poll() in progress (thread-safe).
  void wake();

  enum class poll_result { ok, exited, eof, error };
  /// One round: waits ≤ `timeout_ms`, writes queued stdin, reads stderr and stdout; every
  /// complete stdout line goes to `on_line`. `why` is set for `error`.
  poll_result poll_once(int timeout_ms, std::size_t max_line_bytes, bool debug,
                        const std::function<void(const std::string&)>& on_line, std::string& why);

  /// Ends the child (stdin closed; SIGTERM unless it already exited; SIGKILL of the group after
  /// `grace_ms`), closes the pipes. Returns the wait status; `stderr_tail()` is complete after.
  int shutdown(bool already_exited, int grace_ms);
  const std::string& stderr_tail() const { return err_tail_.data; }

 private:
  void read_stderr();

  std::unique_ptr<child_process> child_;  // one per spawn
  std::unique_ptr<line_splitter> lines_;
  std::size_t dropped_seen_ = 0;
  int wake_[2] = {-1, -1};
  bool out_open_ = true;
  byte_tail err_tail_;
  std::mutex out_mx_;  // guards outq_
  std::string outq_;
};

}  // namespace rc::bridge::codex
