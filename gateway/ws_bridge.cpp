// The bridge between a socket and its actor: the ONLY translation unit of the relay that
// includes both CAF and Asio/Beast headers (tests/check_includes.py enforces it). Each upgraded
// websocket gets its Beast session (ws_session: the socket, Beast only) and its actor side
// (conn_handler: relay.auth pre-parse, frame pre-classification, zero-hop desktop→phone writes,
// CAF only); from then on they meet only through the ws_peer / ws_handler interfaces.
#include "gateway/ws_bridge.hpp"

#include <type_traits>

#include "gateway/conn_handler.hpp"
#include "gateway/ws_open.hpp"
#include "gateway/ws_session.hpp"

namespace rc::gw {

struct ws_bridge {
  actors::context_ptr ctx;
  actors::broker_actor broker;
};

std::shared_ptr<ws_bridge> make_ws_bridge(actors::context_ptr ctx, actors::broker_actor broker) {
  return std::make_shared<ws_bridge>(ws_bridge{std::move(ctx), std::move(broker)});
}

namespace {

template <class Stream>
void open(ws_bridge* b, Stream&& stream, ws_upgrade&& up) {
  if (!b) return;  // no actor side: the stream is closed when it goes out of scope
  auto ws = std::make_shared<ws_session<std::decay_t<Stream>>>(
      b->ctx->cfg, b->ctx->io, std::move(stream), std::move(up.client_ip), std::move(up.origin),
      up.has_origin, std::move(up.query_token));
  ws->hold_preauth(std::move(up.preauth));
  // The MAX_CONNECTIONS_PER_IP unit goes with the factory (released if the handshake fails)
  // and then with the socket's actor side, which lives as long as the socket.
  ws->start(std::move(up.req),
            [ctx = b->ctx, broker = b->broker, slot = std::move(up.ip_slot)](
                std::shared_ptr<ws_peer> peer) -> std::shared_ptr<ws_handler> {
              auto h = std::make_shared<conn_handler>(ctx, broker, std::move(peer));
              h->hold_ip_slot(slot);
              return h;
            });
}

}  // namespace

void open_websocket(ws_bridge* bridge, beast::tcp_stream&& stream, ws_upgrade&& up) {
  open(bridge, std::move(stream), std::move(up));
}

void open_websocket(ws_bridge* bridge, beast::ssl_stream<beast::tcp_stream>&& stream,
                    ws_upgrade&& up) {
  open(bridge, std::move(stream), std::move(up));
}

}  // namespace rc::gw
