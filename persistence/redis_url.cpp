#include "persistence/redis_url.hpp"

#include <cctype>

namespace rc::persistence {

namespace {

bool iequals_prefix(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  return true;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool percent_decode(std::string_view in, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    int hi = hex_value(in[i + 1]);
    int lo = hex_value(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

bool parse_uint(std::string_view s, unsigned long max, unsigned long& out) {
  if (s.empty() || s.size() > 10) return false;
  unsigned long v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<unsigned long>(c - '0');
  }
  if (v > max) return false;
  out = v;
  return true;
}

}  // namespace

std::string redis_url::redacted() const {
  std::string out = "redis://";
  if (!username.empty() || !password.empty()) out += "***@";
  if (host.find(':') != std::string::npos)
    out += "[" + host + "]";
  else
    out += host;
  out += ":" + std::to_string(port) + "/" + std::to_string(db);
  return out;
}

result<redis_url> parse_redis_url(std::string_view url) {
  using res = result<redis_url>;
  constexpr std::string_view scheme = "redis://";
  if (iequals_prefix(url, "rediss://"))
    return res::failure("rediss:// (TLS) is not supported by hiredis 0.14");
  if (!iequals_prefix(url, scheme)) return res::failure("Redis URL must start with redis://");
  auto rest = url.substr(scheme.size());
  if (rest.find_first_of("?#") != std::string_view::npos)
    return res::failure("Redis URL query or fragment not supported");
  redis_url out;
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    auto userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    auto colon = userinfo.find(':');
    std::string_view user = userinfo.substr(0, colon);
    std::string_view pass =
        colon == std::string_view::npos ? std::string_view{} : userinfo.substr(colon + 1);
    if (!percent_decode(user, out.username) || !percent_decode(pass, out.password))
      return res::failure("invalid percent-escape in Redis URL credentials");
  }
  auto slash = rest.find('/');
  auto authority = rest.substr(0, slash);
  auto path = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
  std::string_view host;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return res::failure("unterminated IPv6 host in Redis URL");
    host = authority.substr(1, close - 1);
    auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return res::failure("invalid Redis URL host");
      port = after.substr(1);
      if (port.empty()) return res::failure("invalid Redis URL port");
    }
  } else {
    auto colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      if (port.empty()) return res::failure("invalid Redis URL port");
    }
  }
  if (host.empty()) return res::failure("Redis URL has no host");
  out.host = std::string{host};
  if (!port.empty()) {
    unsigned long p = 0;
    if (!parse_uint(port, 65535, p) || p == 0) return res::failure("invalid Redis URL port");
    out.port = static_cast<std::uint16_t>(p);
  }
  if (!path.empty()) {
    unsigned long db = 0;
    if (!parse_uint(path, 1'000'000, db)) return res::failure("invalid Redis URL database number");
    out.db = static_cast<int>(db);
  }
  return res::success(std::move(out));
}

std::string redact_url(std::string_view url) {
  // Everything between the scheme and the last '@' is user info. Using the last '@' of the
  // whole string (not of the authority) also hides passwords containing unescaped '/', '?'.
  std::size_t start = 0;
  if (auto sep = url.find("://"); sep != std::string_view::npos) start = sep + 3;
  auto at = url.rfind('@');
  if (at == std::string_view::npos || at < start) return std::string{url};
  std::string out{url.substr(0, start)};
  out += "***";
  out += url.substr(at);
  return out;
}

}  // namespace rc::persistence
