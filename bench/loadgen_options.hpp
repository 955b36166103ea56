// rc-loadgen: options, small text/time helpers, /proc readers and result statistics (no Asio).
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace loadgen {

using json = nlohmann::json;

// ------------------------------------------------------------------------------------------
// Options
// ------------------------------------------------------------------------------------------
struct options {
  std::string scenario;
  std::string url = "http://127.0.0.1:8787";
  std::string origin = "http://localhost:4173";
  std::string out;
  int threads = 1;
  int relay_pid = 0;
  int sessions = 0;   // scenario default when 0
  int messages = 20;  // roundtrip: commands per phone
  int phones =
      100;  // fanout: phones in the one session; connections: phones per session (default 0)
  int phones_per_session = 0;
  double duration = 10;  // seconds (throughput, fanout, pairing, churn)
  double rate = 0;       // msgs/s total, 0 = unpaced (window-limited)
  int window =
      0;  // max in-flight desktop messages per session (0 = auto); protects against slow_consumer
  int payload_bytes = 200;
  int target = 10000;    // connections
  double hold = 2;       // connections: seconds to hold sockets open before the final RSS read
  int concurrency = 16;  // pairing lanes
  int setup_concurrency = 32;
  int src_ips = 0;            // 0 = auto
  int count = 0;              // pairing: stop after this many flows (0 = duration only)
  bool stop_sessions = true;  // pairing: POST /pair/stop at the end of each flow
  int min_dwell_ms = 100, max_dwell_ms = 400;  // churn
  int sample_ms = 250;                         // churn: RSS sample period
  double rt_timeout = 5;                       // seconds per roundtrip / delivery drain
  double timeout = 0;                          // hard watchdog, seconds (0 = auto)
  std::string label;
};
extern options g_opt;

inline uint64_t now_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

std::string rfc3339(std::chrono::system_clock::time_point tp);
std::string random_token(std::mt19937_64& rng, std::size_t bytes);
// "key":"value" lookup without parsing; tolerates whitespace around the colon.
std::string_view find_string_field(std::string_view text, std::string_view key);
uint64_t parse_u64(std::string_view s, std::size_t pos);
bool contains(std::string_view h, std::string_view n);

// ------------------------------------------------------------------------------------------
// /proc readers
// ------------------------------------------------------------------------------------------
struct proc_cpu {
  bool ok = false;
  double tick_us = 0;   // (utime + stime) in µs, 1/CLK_TCK resolution
  double sched_us = 0;  // sum over threads of /proc/<pid>/task/*/schedstat run time (ns resolution)
};

proc_cpu read_cpu(int pid);
long read_rss_kib(int pid);
// Malloc calls of a server built with RC_BENCH_COUNT_ALLOCS (/dev/shm/rc-allocs-PID), or -1.
long long read_allocs(int pid);
double self_cpu_us();

json percentiles(std::vector<uint64_t>& v);
double round3(double x);
void usage();
bool parse_args(int argc, char** argv);

}  // namespace loadgen
