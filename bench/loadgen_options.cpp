// rc-loadgen: options and helpers (see loadgen_options.hpp).
#include "loadgen_options.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <dirent.h>
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>

namespace loadgen {

options g_opt;

std::string rfc3339(std::chrono::system_clock::time_point tp) {
  std::time_t t = std::chrono::system_clock::to_time_t(tp);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string random_token(std::mt19937_64& rng, std::size_t bytes) {
  static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::size_t chars = (bytes * 4 + 2) / 3;
  std::string out;
  out.reserve(chars);
  for (std::size_t i = 0; i < chars; ++i) out.push_back(alphabet[rng() & 63]);
  return out;
}

// "key":"value" lookup without parsing; tolerates whitespace around the colon.
std::string_view find_string_field(std::string_view text, std::string_view key) {
  std::size_t from = 0;
  while (true) {
    auto pos = text.find(key, from);
    if (pos == std::string_view::npos) return {};
    from = pos + key.size();
    if (pos == 0 || text[pos - 1] != '"' || from >= text.size() || text[from] != '"') continue;
    std::size_t p = from + 1;
    while (p < text.size() && (text[p] == ' ' || text[p] == ':')) ++p;
    if (p >= text.size() || text[p] != '"') continue;
    auto end = text.find('"', p + 1);
    if (end == std::string_view::npos) return {};
    return text.substr(p + 1, end - p - 1);
  }
}

uint64_t parse_u64(std::string_view s, std::size_t pos) {
  uint64_t v = 0;
  while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9')
    v = v * 10 + static_cast<uint64_t>(s[pos++] - '0');
  return v;
}

bool contains(std::string_view h, std::string_view n) {
  return h.find(n) != std::string_view::npos;
}

proc_cpu read_cpu(int pid) {
  proc_cpu r;
  if (pid <= 0) return r;
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(f, line)) return r;
  auto rp = line.rfind(')');
  if (rp == std::string::npos) return r;
  std::istringstream is(line.substr(rp + 2));
  std::string field;
  std::vector<std::string> fields;
  while (is >> field) fields.push_back(field);
  // after ")": state(3) ... utime is field 14 overall -> index 11 here, stime index 12
  if (fields.size() < 13) return r;
  double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
  r.tick_us = (std::stod(fields[11]) + std::stod(fields[12])) * 1e6 / hz;
  r.ok = true;
  std::string task_dir = "/proc/" + std::to_string(pid) + "/task";
  if (DIR* d = opendir(task_dir.c_str())) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] == '.') continue;
      std::ifstream s(task_dir + "/" + e->d_name + "/schedstat");
      double ns = 0;
      if (s >> ns) r.sched_us += ns / 1000.0;
    }
    closedir(d);
  }
  return r;
}

long read_rss_kib(int pid) {
  if (pid <= 0) return -1;
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}

long long read_allocs(int pid) {
  if (pid <= 0) return -1;
  std::ifstream f("/dev/shm/rc-allocs-" + std::to_string(pid), std::ios::binary);
  uint64_t v = 0;
  if (!f.read(reinterpret_cast<char*>(&v), sizeof v)) return -1;
  return static_cast<long long>(v);
}

double self_cpu_us() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 + ru.ru_utime.tv_usec +
         ru.ru_stime.tv_usec;
}

// ------------------------------------------------------------------------------------------
// Result assembly
// ------------------------------------------------------------------------------------------
json percentiles(std::vector<uint64_t>& v) {
  json j;
  j["count"] = v.size();
  if (v.empty()) {
    for (auto k : {"p50", "p95", "p99", "p999", "max", "mean"}) j[k] = nullptr;
    return j;
  }
  std::sort(v.begin(), v.end());
  auto q = [&](double p) {
    auto idx = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size()))) - 1;
    return static_cast<double>(v[std::min(idx, v.size() - 1)]) / 1000.0;
  };
  double sum = 0;
  for (auto x : v) sum += static_cast<double>(x);
  j["p50"] = q(0.50);
  j["p95"] = q(0.95);
  j["p99"] = q(0.99);
  j["p999"] = q(0.999);
  j["max"] = static_cast<double>(v.back()) / 1000.0;
  j["mean"] = sum / static_cast<double>(v.size()) / 1000.0;
  return j;
}

double round3(double x) {
  return std::round(x * 1000.0) / 1000.0;
}

void usage() {
  std::cout << R"(usage: rc-loadgen --scenario NAME --url http://127.0.0.1:PORT [options]
scenarios: roundtrip throughput fanout connections pairing churn
common:   --relay-pid PID (CPU/RSS from /proc)  --threads N (1)  --out FILE  --origin URL (http://localhost:4173)
          --timeout S (hard watchdog; auto)  --setup-concurrency N (32)  --src-ips N (auto)  --label TEXT
roundtrip:   --sessions S (200) --messages M (20) --rt-timeout S (5)
throughput:  --sessions S (1) --duration S (10) --rate MSGS_PER_S (0 = unpaced) --window W (auto: 1024/sessions in 8..128; fanout 32) --payload-bytes B (200)
fanout:      --phones N (100) --duration S --rate R --window W --payload-bytes B
connections: --target N (10000) --phones-per-session P (0) --hold S (2)
pairing:     --concurrency C (16) --duration S --count N (0 = unbounded) --no-stop
churn:       --sessions S (20) --duration S --rate R (1000) --min-dwell-ms (100) --max-dwell-ms (400) --sample-ms (250)
)";
}

bool parse_args(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error("missing value for " + a);
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      usage();
      std::exit(0);
    } else if (a == "--scenario")
      g_opt.scenario = val();
    else if (a == "--url")
      g_opt.url = val();
    else if (a == "--origin")
      g_opt.origin = val();
    else if (a == "--out")
      g_opt.out = val();
    else if (a == "--label")
      g_opt.label = val();
    else if (a == "--threads")
      g_opt.threads = std::stoi(val());
    else if (a == "--relay-pid")
      g_opt.relay_pid = std::stoi(val());
    else if (a == "--sessions")
      g_opt.sessions = std::stoi(val());
    else if (a == "--messages")
      g_opt.messages = std::stoi(val());
    else if (a == "--phones")
      g_opt.phones = std::stoi(val());
    else if (a == "--phones-per-session")
      g_opt.phones_per_session = std::stoi(val());
    else if (a == "--duration")
      g_opt.duration = std::stod(val());
    else if (a == "--rate")
      g_opt.rate = std::stod(val());
    else if (a == "--window")
      g_opt.window = std::stoi(val());
    else if (a == "--payload-bytes")
      g_opt.payload_bytes = std::stoi(val());
    else if (a == "--target")
      g_opt.target = std::stoi(val());
    else if (a == "--hold")
      g_opt.hold = std::stod(val());
    else if (a == "--concurrency")
      g_opt.concurrency = std::stoi(val());
    else if (a == "--setup-concurrency")
      g_opt.setup_concurrency = std::stoi(val());
    else if (a == "--src-ips")
      g_opt.src_ips = std::stoi(val());
    else if (a == "--count")
      g_opt.count = std::stoi(val());
    else if (a == "--no-stop")
      g_opt.stop_sessions = false;
    else if (a == "--min-dwell-ms")
      g_opt.min_dwell_ms = std::stoi(val());
    else if (a == "--max-dwell-ms")
      g_opt.max_dwell_ms = std::stoi(val());
    else if (a == "--sample-ms")
      g_opt.sample_ms = std::stoi(val());
    else if (a == "--rt-timeout")
      g_opt.rt_timeout = std::stod(val());
    else if (a == "--timeout")
      g_opt.timeout = std::stod(val());
    else {
      std::cerr << "unknown option " << a << "\n";
      return false;
    }
  }
  return true;
}

}  // namespace loadgen
