// The actor side of one websocket. Lives on the socket's strand: parses the first frame as
// relay.auth, pre-classifies later frames (desktop: cheap top-level scan; mobile: full parse),
// and hands them to the session or device actor with one asynchronous send.
#pragma once
#include <deque>

#include "actors/context.hpp"
#include "actors/messages.hpp"
#include "gateway/ws_link.hpp"

namespace rc::gw {

class conn_handler final : public ws_handler,
                           public ws_link,
                           public std::enable_shared_from_this<conn_handler> {
 public:
  conn_handler(actors::context_ptr ctx, actors::broker_actor broker, std::shared_ptr<ws_peer> peer);

  void on_text(std::string&& text) override;
  void on_binary_first() override;
  void on_closed() override;

  // ---- ws_link (on the strand, posted by the session) ----
  void authed(const actors::auth_grant& grant) override;
  void set_routes(std::shared_ptr<const route_table> routes) override {
    routes_ = std::move(routes);
    failed_.clear();
  }
  void rejected() override { phase_ = phase::closed; }

  const std::string& conn_id() const { return conn_id_; }
  /// The socket's unit of MAX_CONNECTIONS_PER_IP (gateway/listener.cpp), held while it is open.
  void hold_ip_slot(std::shared_ptr<void> slot) { ip_slot_ = std::move(slot); }

  /// Bound on frames received while authentication is in flight.
  static constexpr std::size_t max_early_frames = 32;

 private:
  enum class phase { awaiting_auth, auth_pending, desktop, mobile, closed };
  void start_auth(const std::string& token);
  void route(std::string&& text);

  actors::context_ptr ctx_;
  actors::broker_actor broker_;
  std::weak_ptr<ws_peer> peer_;
  std::string conn_id_;
  phase phase_ = phase::awaiting_auth;
  bool socket_closed_ = false;
  actors::session_actor session_;
  actors::device_actor device_;
  std::string session_id_, device_id_;
  std::deque<std::string> early_;
  std::shared_ptr<const route_table> routes_;
  std::vector<std::string> failed_;  ///< mobiles of routes_ that refused a frame (reported once)
  std::shared_ptr<void> ip_slot_;
};

/// Top-level scan of a JSON object for string members `sessionID` and `type` without building a
/// DOM. Returns false when the text is not a simple object (caller falls back to a full parse).
struct top_level_fields {
  bool has_session_id = false;
  std::string session_id;
  bool has_type = false;
  std::string type;
};
bool scan_top_level(std::string_view text, top_level_fields& out);

}  // namespace rc::gw
