// Minimal, strict URL handling for origins and relay URLs (no I/O).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rc::proto {

struct url {
  std::string scheme;  ///< lower-case
  std::string host;    ///< lower-case; IPv6 keeps its brackets
  uint16_t port = 0;   ///< 0 = none given
  std::string path;    ///< starts with '/' or is empty
  std::string query;   ///< without '?'
  std::string fragment;

  /// Port given, or the scheme's default (80/443 for http/ws/https/wss), or 0.
  uint16_t effective_port() const;
  /// `scheme://host[:port]` with the default port dropped.
  std::string origin() const;
  /// origin() + path (no query, no fragment).
  std::string without_query() const { return origin() + path; }
};

/// Parses an absolute hierarchical URL (`scheme://host[:port][/path][?query][#fragment]`).
std::optional<url> parse_url(std::string_view s);

/// Normalised origin of an http(s) URL, or nullopt (e.g. `null`, garbage, other schemes).
std::optional<std::string> normalize_origin(std::string_view s);

/// `relayWebSocketURL` rule: ws/wss only; empty or `/` path → `/ws`; query/fragment dropped.
std::optional<std::string> normalize_ws_url(std::string_view s);

/// Default wsURL from PUBLIC_BASE_URL: http→ws, https→wss, path replaced by `/ws`.
std::optional<std::string> ws_url_from_base(std::string_view public_base_url);

/// Relay HTTP origin from a ws URL (`wss://h/ws` → `https://h`), used in join links.
std::optional<std::string> http_origin_from_ws(std::string_view ws_url);

/// Percent-encoding of a URL component (RFC 3986 unreserved kept).
std::string percent_encode(std::string_view s);
std::optional<std::string> percent_decode(std::string_view s);

}  // namespace rc::proto
