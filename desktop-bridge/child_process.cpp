#include "desktop-bridge/child_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

extern char** environ;

namespace rc::bridge {

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "status " + std::to_string(status);
}

child_process::~child_process() {
  if (pid_ > 0 && !exited_) {
    signal_group(SIGKILL);
    reap(0);
  } else {
    reap(0);
  }
}

bool child_process::spawn(const std::vector<std::string>& args, const std::string& cwd,
                          std::string& err) {
  if (args.empty()) {
    err = "no command";
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
  if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa, cwd.c_str());
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
    err = "cannot run '" + args[0] + "'" + (cwd.empty() ? "" : " (in " + cwd + ")") + ": " +
          std::strerror(rc);
    close_all();
    return false;
  }
  for (int fd : {in[1], out[0], er[0]}) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  pid_ = pid;
  in_ = in[1];
  out_ = out[0];
  err_ = er[0];
  exited_ = false;
  status_ = 0;
  return true;
}

bool child_process::poll_exit() {
  if (pid_ <= 0) return true;
  if (exited_) return true;
  int st = 0;
  pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    exited_ = true;
    status_ = st;
  } else if (r < 0 && errno == ECHILD) {
    exited_ = true;
  }
  return exited_;
}

void child_process::close_stdin() {
  if (in_ >= 0) ::close(in_);
  in_ = -1;
}
void child_process::close_out() {
  if (out_ >= 0) ::close(out_);
  out_ = -1;
}
void child_process::close_err() {
  if (err_ >= 0) ::close(err_);
  err_ = -1;
}

void child_process::signal_group(int sig) {
  if (pid_ <= 0) return;
  ::kill(-pid_, sig);
  if (!exited_) ::kill(pid_, sig);
}

void child_process::reap(int ms) {
  if (pid_ > 0) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (!poll_exit()) {
      if (std::chrono::steady_clock::now() >= deadline) {
        signal_group(SIGKILL);
        int st = 0;
        while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
        }
        exited_ = true;
        status_ = st;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::kill(-pid_, SIGKILL);  // leftovers of the group (commands the agent started)
    pid_ = -1;
  }
  close_stdin();
  close_out();
  close_err();
}

void line_splitter::feed(const char* b, std::size_t len, std::vector<std::string>& out) {
  std::size_t start = 0;
  for (std::size_t i = 0; i < len; ++i) {
    if (b[i] != '\n') continue;
    if (!discarding_) {
      if (buf_.size() + (i - start) > max_) {
        ++dropped_;
      } else {
        buf_.append(b + start, i - start);
        out.push_back(std::move(buf_));
      }
    }
    buf_.clear();
    discarding_ = false;
    start = i + 1;
  }
  if (!discarding_) buf_.append(b + start, len - start);
  if (buf_.size() > max_) {
    ++dropped_;
    buf_.clear();
    buf_.shrink_to_fit();
    discarding_ = true;
  }
}

}  // namespace rc::bridge
