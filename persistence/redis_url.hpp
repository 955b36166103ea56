#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "persistence/result.hpp"

namespace rc::persistence {

/// A parsed `redis://[[user]:password@]host[:port][/db]` URL. IPv6 hosts go in brackets.
/// Percent-escapes in user and password are decoded. `rediss://` (TLS) is rejected: the
/// Debian hiredis 0.14 has no TLS.
struct redis_url {
  std::string host;
  std::uint16_t port = 6379;
  std::string username;  ///< empty: AUTH <password> (pre-ACL form)
  std::string password;  ///< secret: never log; empty: no AUTH
  int db = 0;

  /// The URL with the password replaced by "***" (safe to log).
  std::string redacted() const;
};

/// Parses a Redis URL. The error message never echoes the input.
result<redis_url> parse_redis_url(std::string_view url);

/// Returns `url` with any credentials (user info before '@') replaced by "***", also for
/// strings that do not parse. Use it whenever a configured URL (Redis or NATS) is logged.
std::string redact_url(std::string_view url);

}  // namespace rc::persistence
