#include "protocol/url.hpp"

#include <cctype>

namespace rc::proto {

namespace {
std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool host_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' ||
         c == '~' || c == '%';
}
}  // namespace

uint16_t url::effective_port() const {
  if (port != 0) return port;
  if (scheme == "http" || scheme == "ws") return 80;
  if (scheme == "https" || scheme == "wss") return 443;
  return 0;
}

std::string url::origin() const {
  std::string out = scheme + "://" + host;
  bool is_default = ((scheme == "http" || scheme == "ws") && port == 80) ||
                    ((scheme == "https" || scheme == "wss") && port == 443);
  if (port != 0 && !is_default) out += ":" + std::to_string(port);
  return out;
}

std::optional<url> parse_url(std::string_view s) {
  if (s.empty() || s.size() > 2048) return std::nullopt;
  for (char c : s)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return std::nullopt;
  auto colon = s.find("://");
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  url u;
  u.scheme = lower(s.substr(0, colon));
  if (!std::isalpha(static_cast<unsigned char>(u.scheme[0]))) return std::nullopt;
  for (char c : u.scheme)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.')
      return std::nullopt;
  std::string_view rest = s.substr(colon + 3);
  auto auth_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, auth_end);
  std::string_view tail = auth_end == std::string_view::npos ? "" : rest.substr(auth_end);
  if (auto at = authority.rfind('@'); at != std::string_view::npos)
    authority = authority.substr(at + 1);
  std::string_view host, port;
  if (!authority.empty() && authority[0] == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = authority.substr(0, close + 1);
    auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return std::nullopt;
      port = after.substr(1);
    }
    for (char c : host.substr(1, host.size() - 2))
      if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.')
        return std::nullopt;
  } else {
    auto pc = authority.rfind(':');
    host = authority.substr(0, pc);
    if (pc != std::string_view::npos) port = authority.substr(pc + 1);
    for (char c : host)
      if (!host_char(c)) return std::nullopt;
  }
  if (host.empty()) return std::nullopt;
  u.host = lower(host);
  if (!port.empty()) {
    if (port.size() > 5) return std::nullopt;
    unsigned v = 0;
    for (char c : port) {
      if (c < '0' || c > '9') return std::nullopt;
      v = v * 10 + static_cast<unsigned>(c - '0');
    }
    if (v > 65535) return std::nullopt;
    u.port = static_cast<uint16_t>(v);
  }
  auto hash = tail.find('#');
  if (hash != std::string_view::npos) {
    u.fragment = std::string(tail.substr(hash + 1));
    tail = tail.substr(0, hash);
  }
  auto q = tail.find('?');
  if (q != std::string_view::npos) {
    u.query = std::string(tail.substr(q + 1));
    tail = tail.substr(0, q);
  }
  u.path = std::string(tail);
  if (u.path.empty() &&
      (u.scheme == "http" || u.scheme == "https" || u.scheme == "ws" || u.scheme == "wss"))
    u.path = "/";
  return u;
}

std::optional<std::string> normalize_origin(std::string_view s) {
  auto u = parse_url(s);
  if (!u || (u->scheme != "http" && u->scheme != "https")) return std::nullopt;
  return u->origin();
}

std::optional<std::string> normalize_ws_url(std::string_view s) {
  auto u = parse_url(s);
  if (!u || (u->scheme != "ws" && u->scheme != "wss")) return std::nullopt;
  if (u->path.empty() || u->path == "/") u->path = "/ws";
  return u->without_query();
}

std::optional<std::string> ws_url_from_base(std::string_view public_base_url) {
  auto u = parse_url(public_base_url);
  if (!u || (u->scheme != "http" && u->scheme != "https")) return std::nullopt;
  u->scheme = u->scheme == "https" ? "wss" : "ws";
  u->path = "/ws";
  return u->without_query();
}

std::optional<std::string> http_origin_from_ws(std::string_view ws_url) {
  auto u = parse_url(ws_url);
  if (!u) return std::nullopt;
  if (u->scheme == "wss")
    u->scheme = "https";
  else if (u->scheme == "ws")
    u->scheme = "http";
  else if (u->scheme != "http" && u->scheme != "https")
    return std::nullopt;
  return u->origin();
}

std::string percent_encode(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      if (i + 2 >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i + 1])) ||
          !std::isxdigit(static_cast<unsigned char>(s[i + 2])))
        return std::nullopt;
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace rc::proto
