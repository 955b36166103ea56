// `codex app-server` child process (see runtime_codex_proc.hpp).
#include "desktop-bridge/runtime_codex_proc.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>
#include <thread>

namespace rc::bridge::codex {

app_server_process::app_server_process() {
  if (::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) wake_[0] = wake_[1] = -1;
  err_tail_.max = 4096;
}

app_server_process::~app_server_process() {
  if (child_) shutdown(false, 0);
  for (int fd : wake_)
    if (fd >= 0) ::close(fd);
}

bool app_server_process::spawn(const std::vector<std::string>& args, const std::string& cwd,
                               std::string& err) {
  if (wake_[0] < 0) {
    err = "pipe failed";
    return false;
  }
  auto c = std::make_unique<child_process>();
  if (!c->spawn(args, cwd, err)) {
    if (err.find("No such file") != std::string::npos)
      err += " — install the Codex CLI or pass its path after `--` / RC_CODEX_BIN";
    return false;
  }
  child_ = std::move(c);
  lines_.reset();
  dropped_seen_ = 0;
  out_open_ = true;
  err_tail_.data.clear();
  std::lock_guard<std::mutex> lk(out_mx_);
  outq_.clear();
  return true;
}

bool app_server_process::enqueue(const std::string& line, std::size_t max_bytes) {
  {
    std::lock_guard<std::mutex> lk(out_mx_);
    if (outq_.size() + line.size() + 1 > max_bytes) return false;
    outq_ += line;
    outq_ += '\n';
  }
  wake();
  return true;
}

void app_server_process::wake() {
  if (wake_[1] >= 0) {
    char c = 1;
    [[maybe_unused]] auto n = ::write(wake_[1], &c, 1);
  }
}

void app_server_process::read_stderr() {
  char b[4096];
  auto r = ::read(child_->err_fd(), b, sizeof b);
  if (r > 0)
    err_tail_.add(b, static_cast<std::size_t>(r));
  else if (r == 0 || (errno != EAGAIN && errno != EINTR))
    child_->close_err();
}

app_server_process::poll_result app_server_process::poll_once(
    int timeout_ms, std::size_t max_line_bytes, bool debug,
    const std::function<void(const std::string&)>& on_line, std::string& why) {
  if (!child_) return poll_result::exited;
  auto& c = *child_;
  if (!lines_) lines_ = std::make_unique<line_splitter>(max_line_bytes);
  pollfd fds[4];
  int n = 0;
  fds[n++] = {wake_[0], POLLIN, 0};
  int out_i = -1, err_i = -1, in_i = -1;
  if (out_open_ && c.out_fd() >= 0) {
    out_i = n;
    fds[n++] = {c.out_fd(), POLLIN, 0};
  }
  if (c.err_fd() >= 0) {
    err_i = n;
    fds[n++] = {c.err_fd(), POLLIN, 0};
  }
  {
    std::lock_guard<std::mutex> lk(out_mx_);
    if (!outq_.empty() && c.in_fd() >= 0) {
      in_i = n;
      fds[n++] = {c.in_fd(), POLLOUT, 0};
    }
  }
  // The direct child may die while a grandchild keeps the pipes open (npm's codex.js wrapper
  // spawns the native binary), so watch the PID as well as stdout EOF.
  if (c.poll_exit()) return poll_result::exited;
  int rc = ::poll(fds, static_cast<nfds_t>(n), timeout_ms);
  if (rc < 0 && errno != EINTR) {
    why = std::string("poll failed: ") + std::strerror(errno);
    return poll_result::error;
  }
  if (rc <= 0) return poll_result::ok;
  if (fds[0].revents) {
    char b[64];
    while (::read(wake_[0], b, sizeof b) > 0) {
    }
  }
  if (in_i >= 0 && (fds[in_i].revents & (POLLOUT | POLLERR | POLLHUP))) {
    std::lock_guard<std::mutex> lk(out_mx_);
    while (!outq_.empty()) {
      auto w = ::write(c.in_fd(), outq_.data(), outq_.size());
      if (w > 0) {
        outq_.erase(0, static_cast<std::size_t>(w));
      } else if (w < 0 && errno == EINTR) {
        continue;
      } else {
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
          outq_.clear();  // EPIPE: the child is exiting; stdout EOF follows
          c.close_stdin();
        }
        break;
      }
    }
  }
  if (err_i >= 0 && (fds[err_i].revents & (POLLIN | POLLHUP | POLLERR))) {
    auto before = err_tail_.data.size();
    read_stderr();
    if (debug && err_tail_.data.size() > before) std::cerr << err_tail_.data.substr(before);
  }
  if (out_i >= 0 && (fds[out_i].revents & (POLLIN | POLLHUP | POLLERR))) {
    char b[65536];
    auto r = ::read(c.out_fd(), b, sizeof b);
    if (r > 0) {
      std::vector<std::string> lines;
      lines_->feed(b, static_cast<std::size_t>(r), lines);
      for (auto& l : lines) on_line(l);
      if (lines_->dropped() != dropped_seen_) {
        dropped_seen_ = lines_->dropped();
        std::cerr << "codex: dropped a JSON-RPC line longer than " << max_line_bytes << " bytes\n";
      }
    } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
      out_open_ = false;
      return poll_result::eof;
    }
  }
  return poll_result::ok;
}

int app_server_process::shutdown(bool already_exited, int grace_ms) {
  if (!child_) return 0;
  auto& c = *child_;
  c.close_stdin();  // stdio transport ends
  if (!already_exited && !c.poll_exit()) c.signal_group(SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
  while (!c.poll_exit() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  // Drain what is left of stderr for the error message, then SIGKILL whatever is left of the
  // group (a wrapper's child, commands codex started) and close the pipes.
  for (int i = 0; i < 16 && c.err_fd() >= 0; ++i) read_stderr();
  c.reap(0);
  int status = c.status();
  child_.reset();
  return status;
}

}  // namespace rc::bridge::codex
