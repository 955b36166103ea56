#include "desktop-bridge/state_file.hpp"
#include "protocol/untrusted_json.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace rc::bridge {

std::string default_state_path() {
  std::string base;
  if (const char* x = std::getenv("XDG_CONFIG_HOME"); x && *x)
    base = x;
  else if (const char* h = std::getenv("HOME"); h && *h)
    base = std::string(h) + "/.config";
  else
    base = ".";
  return base + "/remote-control/bridge-session.json";
}

std::optional<saved_state> load_state(const std::string& path, bool* purged) {
  if (purged) *purged = false;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT || ::access(path.c_str(), F_OK) != 0) return std::nullopt;
    clear_state(path);
    if (purged) *purged = true;
    return std::nullopt;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    auto j = rc::proto::parse_untrusted(ss.str(), 1024);
    auto d = session_descriptor::from_json(j.at("session"));
    if (!d) throw std::runtime_error("invalid descriptor");
    saved_state s;
    s.descriptor = std::move(*d);
    s.approvals_enabled = j.value("approvalsEnabled", false);
    if (j.contains("trustedDevices") && j["trustedDevices"].is_array())
      for (auto& x : j["trustedDevices"]) {
        trusted_device t;
        t.device_id = x.value("deviceID", "");
        t.name = x.value("deviceName", "");
        t.joined_at = x.value("joinedAt", "");
        t.last_seen_at = x.value("lastSeenAt", "");
        if (!t.device_id.empty()) s.devices.push_back(t);
      }
    if (auto e = j.find("e2ee"); e != j.end() && e->is_object()) {
      s.e2ee_identity = e->value("identity", "");
      if (auto p = e->find("pinned"); p != e->end() && p->is_object())
        for (auto it = p->begin(); it != p->end(); ++it)
          if (it->is_string()) s.e2ee_pinned[it.key()] = it->get<std::string>();
      if (auto q = e->find("secrets"); q != e->end() && q->is_array())
        for (const auto& x : *q)
          if (x.is_object())
            s.e2ee_secrets.emplace_back(x.value("ps", ""), x.value("expiresAt", int64_t{0}));
    }
    if (auto p = j.find("push"); p != j.end() && p->is_object()) s.push = *p;
    return s;
  } catch (const std::exception&) {
    clear_state(path);
    if (purged) *purged = true;
    return std::nullopt;
  }
}

static void make_dirs(const std::string& path) {
  for (std::size_t pos = 1; (pos = path.find('/', pos)) != std::string::npos; ++pos)
    ::mkdir(path.substr(0, pos).c_str(), 0700);
}

bool save_state(const std::string& path, const saved_state& s, std::string* error) {
  make_dirs(path);
  json devs = json::array();
  for (auto& d : s.devices)
    devs.push_back({{"deviceID", d.device_id},
                    {"deviceName", d.name},
                    {"joinedAt", d.joined_at},
                    {"lastSeenAt", d.last_seen_at}});
  json j = {{"schemaVersion", 1},
            {"session", s.descriptor.to_json()},
            {"trustedDevices", devs},
            {"approvalsEnabled", s.approvals_enabled}};
  if (!s.e2ee_identity.empty()) {
    json secrets = json::array();
    for (auto& [ps, exp] : s.e2ee_secrets) secrets.push_back({{"ps", ps}, {"expiresAt", exp}});
    j["e2ee"] = {{"identity", s.e2ee_identity}, {"pinned", s.e2ee_pinned}, {"secrets", secrets}};
  }
  if (s.push.is_object() && !s.push.empty()) j["push"] = s.push;
  std::string text = j.dump(2) + "\n";
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (error) *error = std::string("cannot write state file: ") + std::strerror(errno);
    return false;
  }
  ::fchmod(fd, 0600);
  const char* p = text.data();
  std::size_t left = text.size();
  bool ok = true;
  while (left > 0) {
    auto n = ::write(fd, p, left);
    if (n <= 0) {
      ok = false;
      break;
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  ok = ::fsync(fd) == 0 && ok;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    if (error) *error = std::string("cannot write state file: ") + std::strerror(errno);
    ::unlink(tmp.c_str());
    return false;
  }
  return true;
}

void clear_state(const std::string& path) {
  ::unlink(path.c_str());
}

}  // namespace rc::bridge
