// The hand-over of an upgraded HTTP connection to the socket↔actor bridge. Beast types, no CAF:
// http_session calls open_websocket; ws_bridge.cpp defines it for the two production streams
// (the gateway tests define it for beast::test::stream).
#pragma once
#include <string>

#include "gateway/beast.hpp"
#include "gateway/socket.hpp"

namespace rc::gw {

struct ws_bridge;

/// An accepted `GET /ws` upgrade request and what the HTTP layer learned about its client.
struct ws_upgrade {
  http::request<http::string_body> req;
  std::string client_ip;  ///< after TRUST_PROXY resolution
  std::string origin;
  bool has_origin = false;
  std::string query_token;  ///< legacy `?token=` (only when ALLOW_LEGACY_QUERY_TOKEN_AUTH)
  counted_slot preauth;     ///< this socket's unit of MAX_PREAUTH_WEBSOCKETS (held until auth)
  std::shared_ptr<void> ip_slot;  ///< its unit of MAX_CONNECTIONS_PER_IP (held while open)
};

void open_websocket(ws_bridge* bridge, beast::tcp_stream&& stream, ws_upgrade&& up);
void open_websocket(ws_bridge* bridge, beast::ssl_stream<beast::tcp_stream>&& stream,
                    ws_upgrade&& up);

}  // namespace rc::gw
