// `exec` runtime: runs a command per user message (message on stdin, or as the last argument),
// streams its stdout into the thread as the assistant reply; exit status → turn status and a
// system message on failure; killed on interrupt; stdout bounded.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <list>
#include <map>
#include <mutex>
#include <thread>

#include "desktop-bridge/runtime.hpp"

namespace rc::bridge {

namespace {

// Splits `buf` into a valid UTF-8 prefix (invalid bytes replaced by U+FFFD) and keeps an
// incomplete trailing sequence in `buf`.
std::string take_utf8(std::string& buf, bool final) {
  std::string out;
  std::size_t i = 0;
  while (i < buf.size()) {
    unsigned char c = static_cast<unsigned char>(buf[i]);
    std::size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
      continue;
    }
    if (i + n > buf.size()) {
      if (!final) break;
      out += "\xEF\xBF\xBD";
      i = buf.size();
      break;
    }
    bool ok = true;
    for (std::size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(buf[i + k]) & 0xC0) != 0x80) ok = false;
    if (!ok) {
      out += "\xEF\xBF\xBD";
      ++i;
      continue;
    }
    out.append(buf, i, n);
    i += n;
  }
  buf.erase(0, i);
  return out;
}

class exec_runtime final : public runtime {
 public:
  explicit exec_runtime(exec_options o) : opts_(std::move(o)) {}
  ~exec_runtime() override { stop(); }

  std::string name() const override { return "exec"; }

  void start(event_sink sink) override {
    sink_ = std::move(sink);
    std::string cmd;
    for (auto& a : opts_.argv) cmd += (cmd.empty() ? "" : " ") + a;
    const std::string p = make_uuid();
    emit(ev_project{{p, "exec: " + (opts_.argv.empty() ? std::string("?") : opts_.argv[0])}});
    thread_info t1{make_uuid(), p, "Session 1", false, false};
    thread_info t2{make_uuid(), p, "Session 2", false, false};
    emit(ev_thread{t1});
    emit(ev_thread{t2});
    emit(ev_message{{make_uuid(), t1.id, "system", "Each message runs: " + cmd, 0}});
    emit(ev_status{!opts_.argv.empty(), opts_.argv.empty() ? "no command" : "ready"});
  }

  void stop() override {
    {
      std::lock_guard<std::mutex> lk(mx_);
      if (stopping_) return;
      stopping_ = true;
      for (auto& [t, pid] : running_)
        if (pid > 0) ::kill(-pid, SIGKILL);
    }
    for (auto& w : workers_)
      if (w.joinable()) w.join();
    workers_.clear();
    std::lock_guard<std::mutex> lk(emit_mx_);
    sink_ = nullptr;
  }

  op_result start_turn(const turn_request& req) override {
    std::lock_guard<std::mutex> lk(mx_);
    if (stopping_ || opts_.argv.empty()) return op_result::fail("desktop_offline");
    if (running_.count(req.thread_id)) return op_result::fail("desktop_busy");
    running_[req.thread_id] = 0;
    workers_.emplace_back([this, req] { run_turn(req); });
    return op_result::success();
  }

  void interrupt(const std::string& thread_id) override {
    std::lock_guard<std::mutex> lk(mx_);
    auto it = running_.find(thread_id);
    if (it == running_.end()) return;
    interrupted_[thread_id] = true;
    if (it->second > 0) ::kill(-it->second, SIGTERM);
  }

  op_result respond(uint64_t, const runtime_response&) override {
    return op_result::fail("unknown_runtime_request");
  }

 private:
  void emit(runtime_event ev) {
    std::lock_guard<std::mutex> lk(emit_mx_);
    if (sink_) sink_(std::move(ev));
  }

  void run_turn(turn_request req) {
    emit(ev_turn{req.thread_id, true});
    int in_pipe[2], out_pipe[2], err_pipe[2];
    if (::pipe2(in_pipe, O_CLOEXEC) != 0 || ::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) {
      finish(req, "Could not start command: " + std::string(std::strerror(errno)));
      return;
    }
    std::vector<std::string> args = opts_.argv;
    if (opts_.message_as_arg) args.push_back(req.text);
    std::vector<char*> cargv;
    for (auto& a : args) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    pid_t pid = ::fork();
    if (pid == 0) {
      ::setpgid(0, 0);
      ::dup2(in_pipe[0], 0);
      ::dup2(out_pipe[1], 1);
      ::dup2(err_pipe[1], 2);
      ::execvp(cargv[0], cargv.data());
      std::fprintf(stderr, "exec %s: %s\n", cargv[0], std::strerror(errno));
      ::_exit(127);
    }
    ::close(in_pipe[0]);
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    if (pid < 0) {
      ::close(in_pipe[1]);
      ::close(out_pipe[0]);
      ::close(err_pipe[0]);
      finish(req, "Could not start command: fork failed");
      return;
    }
    ::setpgid(pid, pid);
    {
      std::lock_guard<std::mutex> lk(mx_);
      running_[req.thread_id] = pid;
      if (stopping_) ::kill(-pid, SIGKILL);
    }
    // stdin: the message (or nothing with --exec-arg). Small writes; ignore SIGPIPE errors.
    ::signal(SIGPIPE, SIG_IGN);
    if (!opts_.message_as_arg) {
      std::string payload = req.text + "\n";
      const char* p = payload.data();
      std::size_t left = payload.size();
      while (left > 0) {
        auto n = ::write(in_pipe[1], p, left);
        if (n <= 0) break;
        p += n;
        left -= static_cast<std::size_t>(n);
      }
    }
    ::close(in_pipe[1]);

    const std::string mid = make_uuid();
    std::string pending, err_tail;
    std::size_t total = 0;
    bool truncated = false, started = false;
    auto t0 = std::chrono::steady_clock::now();
    pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
    int open_fds = 2;
    while (open_fds > 0) {
      int rc = ::poll(fds, 2, 200);
      if (rc < 0 && errno != EINTR) break;
      if (opts_.timeout_ms > 0 &&
          std::chrono::steady_clock::now() - t0 > std::chrono::milliseconds(opts_.timeout_ms))
        ::kill(-pid, SIGKILL);
      for (int i = 0; i < 2; ++i) {
        if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        char buf[4096];
        auto n = ::read(fds[i].fd, buf, sizeof buf);
        if (n <= 0) {
          ::close(fds[i].fd);
          fds[i].fd = -1;
          --open_fds;
          continue;
        }
        if (i == 1) {
          err_tail.append(buf, static_cast<std::size_t>(n));
          if (err_tail.size() > 2048) err_tail.erase(0, err_tail.size() - 2048);
          continue;
        }
        std::size_t keep = static_cast<std::size_t>(n);
        if (total + keep > opts_.max_output_bytes) {
          keep = opts_.max_output_bytes > total ? opts_.max_output_bytes - total : 0;
          truncated = true;
        }
        total += keep;
        pending.append(buf, keep);
        auto chunk = take_utf8(pending, false);
        if (!chunk.empty()) {
          emit(ev_message_delta{req.thread_id, mid, chunk});
          started = true;
        }
      }
    }
    auto rest = take_utf8(pending, true);
    if (!rest.empty()) {
      emit(ev_message_delta{req.thread_id, mid, rest});
      started = true;
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    bool interrupted;
    {
      std::lock_guard<std::mutex> lk(mx_);
      interrupted = interrupted_.erase(req.thread_id) > 0;
    }
    if (truncated)
      emit(ev_message{{make_uuid(), req.thread_id, "system",
                       "Output truncated at " + std::to_string(opts_.max_output_bytes) + " bytes.", 0}});
    std::string failure;
    if (interrupted)
      failure = "Command interrupted.";
    else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
      failure = "Command failed with exit status " + std::to_string(WEXITSTATUS(status)) + ".";
    else if (WIFSIGNALED(status))
      failure = "Command killed by signal " + std::to_string(WTERMSIG(status)) + ".";
    if (!failure.empty() && !err_tail.empty()) failure += "\n" + take_utf8(err_tail, true);
    if (!started && failure.empty()) emit(ev_message{{mid, req.thread_id, "assistant", "(no output)", 0}});
    finish(req, failure);
  }

  void finish(const turn_request& req, const std::string& failure) {
    if (!failure.empty()) emit(ev_message{{make_uuid(), req.thread_id, "system", failure, 0}});
    {
      std::lock_guard<std::mutex> lk(mx_);
      running_.erase(req.thread_id);
    }
    emit(ev_turn{req.thread_id, false});
  }

  exec_options opts_;
  std::mutex mx_, emit_mx_;
  bool stopping_ = false;
  event_sink sink_;
  std::list<std::thread> workers_;
  std::map<std::string, pid_t> running_;
  std::map<std::string, bool> interrupted_;
};

}  // namespace

std::unique_ptr<runtime> make_exec_runtime(exec_options opts) { return std::make_unique<exec_runtime>(std::move(opts)); }

}  // namespace rc::bridge
