// The actor side of one websocket. Lives on the socket's strand: parses the first frame as
// relay.auth, pre-classifies later frames (desktop: cheap top-level scan; mobile: full parse),
// and hands them to the session or device actor with one asynchronous send.
#pragma once
#include <deque>

#include "actors/context.hpp"
#include "actors/messages.hpp"

namespace rc::actors {

/// A mobile socket of the session, as seen by the desktop's connection (zero-hop routing).
struct mobile_route {
  std::string conn_id;
  std::shared_ptr<gw::ws_peer> peer;
};
using route_table = std::vector<mobile_route>;

class conn_handler final : public gw::ws_handler,
                           public std::enable_shared_from_this<conn_handler> {
 public:
  conn_handler(context_ptr ctx, broker_actor broker, std::shared_ptr<gw::ws_peer> peer);

  void on_text(std::string&& text) override;
  void on_binary_first() override;
  void on_closed() override;

  /// Called on the strand (via ws_peer::post) once a session accepted this socket.
  void authed(bool desktop, session_actor session, device_actor device, std::string session_id,
              std::string device_id);
  /// Called on the strand by the session: the mobiles to forward desktop frames to directly
  /// (nullptr = send every frame through the session actor).
  void set_routes(std::shared_ptr<const route_table> routes) {
    routes_ = std::move(routes);
    failed_.clear();
  }
  /// Called on the strand when authentication failed (the peer is being closed).
  void rejected() { phase_ = phase::closed; }

  const std::string& conn_id() const { return conn_id_; }

  /// Bound on frames received while authentication is in flight.
  static constexpr std::size_t max_early_frames = 32;

 private:
  enum class phase { awaiting_auth, auth_pending, desktop, mobile, closed };
  void start_auth(const std::string& token);
  void route(std::string&& text);

  context_ptr ctx_;
  broker_actor broker_;
  std::weak_ptr<gw::ws_peer> peer_;
  std::string conn_id_;
  phase phase_ = phase::awaiting_auth;
  bool socket_closed_ = false;
  session_actor session_;
  device_actor device_;
  std::string session_id_, device_id_;
  std::deque<std::string> early_;
  std::shared_ptr<const route_table> routes_;
  std::vector<std::string> failed_;  ///< mobiles of routes_ that refused a frame (reported once)
};

/// Rejects an authenticating socket: counts the reason, logs it (never the token) and closes
/// the socket the way RELAY_PROTOCOL §6.4 prescribes (policy close for stale credentials).
void reject_auth(const context_ptr& ctx, auth_request& a, auth_failure why, bool policy);

/// Top-level scan of a JSON object for string members `sessionID` and `type` without building a
/// DOM. Returns false when the text is not a simple object (caller falls back to a full parse).
struct top_level_fields {
  bool has_session_id = false;
  std::string session_id;
  bool has_type = false;
  std::string type;
};
bool scan_top_level(std::string_view text, top_level_fields& out);

}  // namespace rc::actors
