#include "test_servers.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include <hiredis/hiredis.h>

namespace rc::test {

std::uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  std::uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
}

std::unique_ptr<child_process> child_process::spawn(const std::vector<std::string>& argv) {
  // Everything the child needs is prepared before fork (only async-signal-safe calls after).
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) return nullptr;
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a crashed test binary
    if (::getppid() != parent) ::_exit(127);
    int devnull = ::open("/dev/null", O_RDWR);
    if (devnull >= 0) {
      ::dup2(devnull, 0);
      ::dup2(devnull, 1);
      ::dup2(devnull, 2);
    }
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  return std::unique_ptr<child_process>{new child_process(pid)};
}

child_process::~child_process() {
  kill_now();
}

bool child_process::running() {
  if (reaped_) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    reaped_ = true;
    return false;
  }
  return true;
}

void child_process::kill_now() {
  if (reaped_) return;
  ::kill(pid_, SIGCONT);
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
}

void child_process::stop() {
  if (!reaped_) ::kill(pid_, SIGSTOP);
}

void child_process::resume() {
  if (!reaped_) ::kill(pid_, SIGCONT);
}

namespace {

bool redis_ping(std::uint16_t port, const std::string& password) {
  timeval tv{0, 200'000};
  redisContext* c = redisConnectWithTimeout("127.0.0.1", port, tv);
  if (c == nullptr) return false;
  bool ok = false;
  if (c->err == 0) {
    redisSetTimeout(c, tv);
    if (!password.empty()) {
      auto* r = static_cast<redisReply*>(redisCommand(c, "AUTH %s", password.c_str()));
      if (r != nullptr) freeReplyObject(r);
    }
    auto* r = static_cast<redisReply*>(redisCommand(c, "PING"));
    ok = r != nullptr && r->type == REDIS_REPLY_STATUS && std::strcmp(r->str, "PONG") == 0;
    if (r != nullptr) freeReplyObject(r);
  }
  redisFree(c);
  return ok;
}

bool nats_banner(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  timeval tv{0, 200'000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  bool ok = false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    char buf[4] = {};
    ok = ::recv(fd, buf, sizeof(buf), MSG_WAITALL) == 4 && std::memcmp(buf, "INFO", 4) == 0;
  }
  ::close(fd);
  return ok;
}

}  // namespace

redis_server::redis_server(std::string password)
    : port_(free_port()), password_(std::move(password)) {}

bool redis_server::start() {
  kill();
  std::vector<std::string> argv{
      RC_REDIS_SERVER, "--port",    std::to_string(port_), "--save", "", "--appendonly", "no",
      "--bind",        "127.0.0.1", "--daemonize",         "no"};
  if (!password_.empty()) {
    argv.push_back("--requirepass");
    argv.push_back(password_);
  }
  proc_ = child_process::spawn(argv);
  if (!proc_) return false;
  return wait_until([this] { return proc_->running() && redis_ping(port_, password_); });
}

void redis_server::kill() {
  proc_.reset();
}

std::string redis_server::url() const {
  std::string auth = password_.empty() ? "" : ":" + password_ + "@";
  return "redis://" + auth + "127.0.0.1:" + std::to_string(port_);
}

nats_server::nats_server() : port_(free_port()) {}

bool nats_server::start() {
  kill();
  proc_ = child_process::spawn({RC_NATS_SERVER, "-a", "127.0.0.1", "-p", std::to_string(port_)});
  if (!proc_) return false;
  return wait_until([this] { return proc_->running() && nats_banner(port_); });
}

void nats_server::kill() {
  proc_.reset();
}

std::string nats_server::url() const {
  return "nats://127.0.0.1:" + std::to_string(port_);
}

}  // namespace rc::test
