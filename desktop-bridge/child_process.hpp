// A child process with pipes on stdin/stdout/stderr (non-blocking, close-on-exec), in its own
// process group with default signal mask and dispositions — the shape every stdio agent runtime
// needs (claude; codex has the same code privately). No threads: the owner polls the fds.
#pragma once
#include <sys/types.h>

#include <cstddef>
#include <string>
#include <vector>

namespace rc::bridge {

/// "exit status N" / "killed by signal N" for a waitpid status.
std::string describe_wait_status(int status);

class child_process {
 public:
  child_process() = default;
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  ~child_process();  ///< kills the group (SIGKILL) and reaps if still running

  /// posix_spawnp(argv[0]) in `cwd`. On failure `err` says why (and nothing is left open).
  bool spawn(const std::vector<std::string>& argv, const std::string& cwd, std::string& err);

  pid_t pid() const { return pid_; }
  int in_fd() const { return in_; }
  int out_fd() const { return out_; }
  int err_fd() const { return err_; }
  bool running() const { return pid_ > 0 && !exited_; }
  bool exited() const { return exited_; }
  int status() const { return status_; }

  /// waitpid(WNOHANG); true once the direct child has exited (status() then valid).
  bool poll_exit();
  void close_stdin();
  void close_out();
  void close_err();
  /// Signal the whole process group (and the child itself).
  void signal_group(int sig);
  /// Waits up to `ms` for the child, SIGKILLs the group after that; closes every fd.
  void reap(int ms);

 private:
  pid_t pid_ = -1;
  int in_ = -1, out_ = -1, err_ = -1;
  bool exited_ = false;
  int status_ = 0;
};

/// Splits a byte stream into lines; lines longer than `max_line` are dropped whole (counted).
class line_splitter {
 public:
  explicit line_splitter(std::size_t max_line) : max_(max_line) {}
  /// Appends bytes; complete lines are appended to `out` (without the '\n').
  void feed(const char* data, std::size_t n, std::vector<std::string>& out);
  std::size_t dropped() const { return dropped_; }

 private:
  std::size_t max_;
  std::string buf_;
  bool discarding_ = false;
  std::size_t dropped_ = 0;
};

/// Bounded tail of a byte stream (e.g. stderr).
struct byte_tail {
  std::size_t max = 4096;
  std::string data;
  void add(const char* p, std::size_t n) {
    data.append(p, n);
    if (data.size() > max) data.erase(0, data.size() - max);
  }
};

}  // namespace rc::bridge
