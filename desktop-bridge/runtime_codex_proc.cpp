// `codex app-server` child process (see runtime_codex_proc.hpp).
#include "desktop-bridge/runtime_codex_proc.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>
#include <thread>

extern char** environ;

namespace rc::bridge::codex {

namespace {
constexpr std::size_t stderr_tail_bytes = 4096;
}

child_process::child_process() {
  if (::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) wake_[0] = wake_[1] = -1;
}

child_process::~child_process() {
  if (pid_ > 0) shutdown(false, 0);
  close_fds();
  for (int fd : wake_)
    if (fd >= 0) ::close(fd);
}

bool child_process::spawn(const std::vector<std::string>& args, const std::string& cwd,
                          std::string& err) {
  if (wake_[0] < 0) {
    err = "pipe failed";
    return false;
  }
  int in[2] = {-1, -1}, out[2] = {-1, -1}, er[2] = {-1, -1};
  auto close_all = [&] {
    for (int fd : {in[0], in[1], out[0], out[1], er[0], er[1]})
      if (fd >= 0) ::close(fd);
  };
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(er, O_CLOEXEC) != 0) {
    err = std::string("pipe failed: ") + std::strerror(errno);
    close_all();
    return false;
  }
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, er[1], 2);
  posix_spawn_file_actions_addchdir_np(&fa, cwd.c_str());
  // Own process group (killed as a group); default signal mask and dispositions (the bridge
  // blocks SIGINT/SIGTERM and ignores SIGPIPE, which a child would otherwise inherit).
  sigset_t empty, def;
  sigemptyset(&empty);
  sigemptyset(&def);
  for (int s : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGCHLD}) sigaddset(&def, s);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setsigdefault(&attr, &def);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, argv[0], &fa, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  ::close(in[0]);
  ::close(out[1]);
  ::close(er[1]);
  in[0] = out[1] = er[1] = -1;
  if (rc != 0) {
    err =
        "cannot run '" + args.front() + "' (in " + cwd + "): " + std::strerror(rc) +
        (rc == ENOENT ? " — install the Codex CLI or pass its path after `--` / RC_CODEX_BIN" : "");
    close_all();
    return false;
  }
  for (int fd : {in[1], out[0], er[0]}) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  pid_ = pid;
  in_fd_ = in[1];
  out_fd_ = out[0];
  err_fd_ = er[0];
  out_open_ = true;
  reaped_ = discarding_ = false;
  exit_status_ = 0;
  linebuf_.clear();
  err_tail_.clear();
  std::lock_guard<std::mutex> lk(out_mx_);
  outq_.clear();
  return true;
}

bool child_process::enqueue(const std::string& line, std::size_t max_bytes) {
  {
    std::lock_guard<std::mutex> lk(out_mx_);
    if (outq_.size() + line.size() + 1 > max_bytes) return false;
    outq_ += line;
    outq_ += '\n';
  }
  wake();
  return true;
}

void child_process::wake() {
  if (wake_[1] >= 0) {
    char c = 1;
    [[maybe_unused]] auto n = ::write(wake_[1], &c, 1);
  }
}

void child_process::read_stderr() {
  char b[4096];
  auto r = ::read(err_fd_, b, sizeof b);
  if (r > 0) {
    err_tail_.append(b, static_cast<std::size_t>(r));
    if (err_tail_.size() > stderr_tail_bytes)
      err_tail_.erase(0, err_tail_.size() - stderr_tail_bytes);
  } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
    ::close(err_fd_);
    err_fd_ = -1;
  }
}

child_process::poll_result child_process::poll_once(
    int timeout_ms, std::size_t max_line_bytes, bool debug,
    const std::function<void(const std::string&)>& on_line, std::string& why) {
  pollfd fds[4];
  int n = 0;
  fds[n++] = {wake_[0], POLLIN, 0};
  int out_i = -1, err_i = -1, in_i = -1;
  if (out_open_) {
    out_i = n;
    fds[n++] = {out_fd_, POLLIN, 0};
  }
  if (err_fd_ >= 0) {
    err_i = n;
    fds[n++] = {err_fd_, POLLIN, 0};
  }
  {
    std::lock_guard<std::mutex> lk(out_mx_);
    if (!outq_.empty() && in_fd_ >= 0) {
      in_i = n;
      fds[n++] = {in_fd_, POLLOUT, 0};
    }
  }
  // The direct child may die while a grandchild keeps the pipes open (npm's codex.js wrapper
  // spawns the native binary), so watch the PID as well as stdout EOF.
  if (::waitpid(pid_, &exit_status_, WNOHANG) == pid_) {
    reaped_ = true;
    return poll_result::exited;
  }
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
      auto w = ::write(in_fd_, outq_.data(), outq_.size());
      if (w > 0) {
        outq_.erase(0, static_cast<std::size_t>(w));
      } else if (w < 0 && errno == EINTR) {
        continue;
      } else {
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
          outq_.clear();  // EPIPE: the child is exiting; stdout EOF follows
          ::close(in_fd_);
          in_fd_ = -1;
        }
        break;
      }
    }
  }
  if (err_i >= 0 && (fds[err_i].revents & (POLLIN | POLLHUP | POLLERR))) {
    auto before = err_tail_.size();
    read_stderr();
    if (debug && err_tail_.size() > before) std::cerr << err_tail_.substr(before);
  }
  if (out_i >= 0 && (fds[out_i].revents & (POLLIN | POLLHUP | POLLERR))) {
    char b[65536];
    auto r = ::read(out_fd_, b, sizeof b);
    if (r > 0) {
      std::size_t start = 0, len = static_cast<std::size_t>(r);
      for (std::size_t i = 0; i < len; ++i) {
        if (b[i] != '\n') continue;
        if (!discarding_) {
          linebuf_.append(b + start, i - start);
          on_line(linebuf_);
        }
        linebuf_.clear();
        discarding_ = false;
        start = i + 1;
      }
      if (!discarding_) linebuf_.append(b + start, len - start);
      if (linebuf_.size() > max_line_bytes) {
        std::cerr << "codex: dropped a JSON-RPC line longer than " << max_line_bytes << " bytes\n";
        linebuf_.clear();
        linebuf_.shrink_to_fit();
        discarding_ = true;
      }
    } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
      out_open_ = false;
      return poll_result::eof;
    }
  }
  return poll_result::ok;
}

int child_process::shutdown(bool already_exited, int grace_ms) {
  if (in_fd_ >= 0) {
    ::close(in_fd_);  // stdio transport ends
    in_fd_ = -1;
  }
  if (pid_ <= 0) return exit_status_;
  if (!already_exited && !reaped_) {
    ::kill(-pid_, SIGTERM);
    ::kill(pid_, SIGTERM);
  }
  int status = exit_status_;
  if (!reaped_) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
    for (;;) {
      pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_ || (r < 0 && errno != EINTR)) break;
      if (std::chrono::steady_clock::now() >= deadline) {
        ::kill(-pid_, SIGKILL);
        ::kill(pid_, SIGKILL);
        while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  ::kill(-pid_, SIGKILL);  // leftovers of the group (a wrapper's child, commands codex started)
  pid_ = -1;
  // Drain what is left of stderr for the error message.
  for (int i = 0; i < 16 && err_fd_ >= 0; ++i) read_stderr();
  close_fds();
  exit_status_ = status;
  return status;
}

void child_process::close_fds() {
  for (int* fd : {&in_fd_, &out_fd_, &err_fd_})
    if (*fd >= 0) {
      ::close(*fd);
      *fd = -1;
    }
}

}  // namespace rc::bridge::codex
