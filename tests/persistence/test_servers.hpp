#pragma once

// Real redis-server / nats-server processes for tests: random free loopback port, fork/exec,
// bounded readiness wait, SIGKILL + waitpid by PID in the destructor.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace rc::test {

/// A free TCP port on 127.0.0.1 (bind to port 0, read it back, close).
std::uint16_t free_port();

/// Polls `pred` every 10 ms until it returns true or `timeout` passes.
bool wait_until(const std::function<bool()>& pred,
                std::chrono::milliseconds timeout = std::chrono::seconds{5});

/// A child process, killed (SIGKILL) and reaped in the destructor.
class child_process {
 public:
  /// fork/exec of argv[0] (PATH lookup) with stdout/stderr to /dev/null. nullptr on failure.
  static std::unique_ptr<child_process> spawn(const std::vector<std::string>& argv);
  ~child_process();
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  void kill_now();  ///< SIGKILL + waitpid
  void stop();      ///< SIGSTOP (process freezes, sockets stay open)
  void resume();    ///< SIGCONT

 private:
  explicit child_process(pid_t pid) : pid_(pid) {}
  pid_t pid_;
  bool reaped_ = false;
};

/// redis-server --port P --save '' --appendonly no --bind 127.0.0.1 [--requirepass X].
class redis_server {
 public:
  explicit redis_server(std::string password = {});
  bool start();  ///< (re)starts on the same port; waits until PING answers (bounded)
  void kill();
  child_process* process() { return proc_.get(); }
  std::uint16_t port() const { return port_; }
  std::string url() const;  ///< redis://[:password@]127.0.0.1:port

 private:
  std::uint16_t port_;
  std::string password_;
  std::unique_ptr<child_process> proc_;
};

/// nats-server -a 127.0.0.1 -p P.
class nats_server {
 public:
  nats_server();
  bool start();  ///< (re)starts on the same port; waits until the INFO banner arrives
  void kill();
  std::uint16_t port() const { return port_; }
  std::string url() const;  ///< nats://127.0.0.1:port

 private:
  std::uint16_t port_;
  std::unique_ptr<child_process> proc_;
};

}  // namespace rc::test
