// Shared fakes and fixtures of rc_relay_test. Include after "caf/test/dsl.hpp".
//
// Everything runs on the deterministic test scheduler (virtual time). The broker schedules a
// periodic sweep, so tests with a broker must NOT call run() (it fires timeouts forever): use
// drain() (= consume_messages) and advance(ms), which moves the relay's wall clock (ctx->now_ms)
// and CAF's virtual clock together.
#pragma once
#include <atomic>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "actors/actors.hpp"
#include "actors/context.hpp"
#include "actors/messages.hpp"
#include "gateway/conn_handler.hpp"
#include "persistence/memory_store.hpp"
#include "protocol/http_schema.hpp"
#include "protocol/time.hpp"
#include "protocol/tokens.hpp"
#include "protocol/wire.hpp"

namespace rc_test {

using namespace rc;
using namespace rc::actors;
using rc::gw::conn_handler;
using rc::gw::scan_top_level;
using rc::gw::top_level_fields;
using json = nlohmann::json;

/// 2026-01-01T00:00:00Z: the relay's wall clock at the start of every test.
inline constexpr int64_t t0_ms = 1767225600000;
inline constexpr const char* test_origin = "http://localhost:4173";

// ---- fakes ------------------------------------------------------------------------------------

/// A websocket as the gateway would hand it to the actors. Records everything; `capacity` bounds
/// the outbound queue (send() false when full, like the Beast peer), and a stopped socket refuses
/// further frames.
struct fake_peer final : gw::ws_peer {
  std::vector<std::string> frames;       ///< queued text frames, in order
  std::vector<std::string> disconnects;  ///< reasons passed to disconnect()
  int policy_rejects = 0;                ///< reject_policy() calls (session_expired + 1008)
  int missing_auth_rejects = 0;
  int drops = 0;
  int failed_sends = 0;
  int posts = 0;
  bool authenticated = false;
  bool stopped = false;
  std::size_t capacity = std::numeric_limits<std::size_t>::max();
  std::string ip = "203.0.113.7";
  std::string origin_ = test_origin;
  bool has_origin_ = true;
  std::string query_token_;

  bool send(gw::frame_ptr frame) override {
    if (stopped || frames.size() >= capacity) {
      ++failed_sends;
      return false;
    }
    frames.push_back(*frame);
    return true;
  }
  void disconnect(proto::close_reason reason) override {
    disconnects.push_back(proto::to_string(reason));
    stopped = true;
  }
  void reject_policy() override {
    ++policy_rejects;
    stopped = true;
  }
  void reject_missing_auth() override {
    ++missing_auth_rejects;
    stopped = true;
  }
  void drop() override {
    ++drops;
    stopped = true;
  }
  void mark_authenticated() override { authenticated = true; }
  void post(std::function<void()> fn) override {
    ++posts;
    fn();  // the strand is the test thread
  }
  const std::string& client_ip() const override { return ip; }
  const std::string& origin() const override { return origin_; }
  bool has_origin() const override { return has_origin_; }
  const std::string& query_token() const override { return query_token_; }

  /// Frames parsed as JSON (non-JSON frames become discarded values).
  std::vector<json> json_frames() const {
    std::vector<json> out;
    for (auto& f : frames) out.push_back(json::parse(f, nullptr, false));
    return out;
  }
  /// Frames whose top-level "type" equals `type`.
  std::vector<json> of_type(const std::string& type) const {
    std::vector<json> out;
    for (auto& j : json_frames())
      if (j.is_object() && j.value("type", "") == type) out.push_back(j);
    return out;
  }
  std::size_t count(const std::string& type) const { return of_type(type).size(); }
  json last() const { return frames.empty() ? json() : json::parse(frames.back(), nullptr, false); }
  std::string last_disconnect() const { return disconnects.empty() ? "" : disconnects.back(); }
};

/// The HTTP responder: records every respond() call.
struct fake_responder final : gw::http_responder {
  int calls = 0;
  int status = 0;
  std::string body;
  std::string content_type;
  void respond(int s, std::string b, std::string ct) override {
    ++calls;
    status = s;
    body = std::move(b);
    content_type = std::move(ct);
  }
  json j() const { return json::parse(body, nullptr, false); }
  std::string error() const {
    auto v = j();
    return v.is_object() ? v.value("error", "") : "";
  }
};

/// Copies a value out of a temporary (CAF_CHECK_EQUAL binds `auto&&` to its argument, which
/// would dangle for members reached through a temporary shared_ptr).
template <class T>
std::decay_t<T> val(T&& x) {
  return std::forward<T>(x);
}

inline std::string str_of(const json& j, const char* key) {
  if (!j.is_object()) return "<not an object>";
  auto it = j.find(key);
  if (it == j.end()) return "<absent>";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

// ---- fixtures ---------------------------------------------------------------------------------

inline settings::relay_config test_config() {
  settings::relay_config c;
  c.allowed_origins = {test_origin};
  c.max_pair_requests_per_minute = 1000;
  c.sweep_interval_ms = 365ull * 86400000ull;  // sweeps are sent by hand
  c.public_base_url = "https://relay.example";
  return c;
}

struct session_ids {
  std::string sid = proto::random_token(proto::session_id_bytes);
  std::string join = proto::random_token(proto::token_bytes);
  std::string desk = proto::random_token(proto::token_bytes);
};

/// Context, clock and memory store; no broker (run() and request<T>() are safe here).
struct base_fixture : test_coordinator_fixture<> {
  std::shared_ptr<std::atomic<int64_t>> clock = std::make_shared<std::atomic<int64_t>>(t0_ms);
  context_ptr ctx;
  std::shared_ptr<persistence::memory_store> mem = std::make_shared<persistence::memory_store>();
  store_actor store;
  std::vector<caf::actor> extra;  ///< actors the fixture must stop

  /// The relay's config is read-only once its actors run (`relay_context::cfg` is const), in the
  /// tests as in the node: a test that needs other values builds its fixture with them
  /// (`with_config`), or restarts the relay with them (`relay_fixture::restart_relay`).
  explicit base_fixture(settings::relay_config cfg = test_config()) {
    make_context(std::move(cfg));
    // Normally detached; here the deterministic scheduler must run it.
    store = spawn_store(sys, ctx, std::shared_ptr<persistence::state_store>(mem), false);
    drain();
  }

  void make_context(settings::relay_config cfg) {
    ctx = std::make_shared<relay_context>(std::move(cfg), std::make_shared<gw::counters>(),
                                          log_level::error);
    auto c = clock;
    ctx->now_ms = [c] { return c->load(); };
    ctx->started_at_ms = t0_ms;
  }

  ~base_fixture() override {
    sys.await_actors_before_shutdown(false);
    for (auto& a : extra) self->send_exit(a, caf::exit_reason::kill);
    self->send_exit(store, caf::exit_reason::kill);
    drain();
  }

  int64_t now() const { return clock->load(); }

  /// The record persisted in the memory store (empty record + failed check when absent).
  persistence::session_record stored(const std::string& sid) {
    auto r = mem->load(sid);
    CAF_CHECK(r.record.has_value());
    return r.record ? *r.record : persistence::session_record{};
  }
  bool stored_absent(const std::string& sid) {
    return mem->load(sid).status == persistence::store_status::not_found;
  }

  std::size_t drain() { return consume_messages(); }

  /// Moves the relay wall clock and CAF's virtual clock by `ms`, then drains mailboxes.
  void advance(int64_t ms) {
    clock->fetch_add(ms);
    advance_time(std::chrono::milliseconds(ms));
    drain();
  }

  /// Spawns an event-based parent that runs `init(self)` (to reach spawn helpers that need a
  /// parent) and keeps running until the fixture ends.
  template <class F>
  caf::actor spawn_parent(F init) {
    auto a = sys.spawn([init](caf::event_based_actor* p) -> caf::behavior {
      p->set_exit_handler([](caf::exit_msg&) {});
      init(p);
      return {[](int) {}};
    });
    extra.push_back(a);
    drain();
    return a;
  }
};

/// Full relay core: store, broker and per-IP limiter, driven like front.cpp drives them.
struct relay_fixture : base_fixture {
  broker_actor broker;
  ip_limiter_actor ip_limiter;

  /// A websocket client: the fake peer plus the real conn_handler the gateway would create.
  struct client {
    std::shared_ptr<fake_peer> peer;
    std::shared_ptr<conn_handler> handler;
    const std::string& conn_id() const { return handler->conn_id(); }
  };

  explicit relay_fixture(settings::relay_config cfg = test_config())
      : base_fixture(std::move(cfg)) {
    start_relay();
  }

  ~relay_fixture() override { stop_relay(); }

  void start_relay() {
    broker = spawn_broker(sys, ctx, store);
    ip_limiter = spawn_ip_limiter(sys, ctx, broker);
    self->send(broker, attach_atom::value, ip_limiter);
    drain();
  }

  void stop_relay() {
    // Close every session (keeps records), then stop the broker so no periodic sweep remains.
    self->send(broker, shutdown_atom::value);
    drain();
    self->send_exit(ip_limiter, caf::exit_reason::kill);
    self->send_exit(broker, caf::exit_reason::kill);
    drain();
  }

  /// A node restart with a changed config: every session closes (records kept), a new context
  /// with `tweak` applied to the old config, a new store actor on the same memory store, a new
  /// broker that restores every stored record (what the node's loader does at start-up).
  template <class Tweak>
  void restart_relay(Tweak tweak) {
    stop_relay();
    self->send_exit(store, caf::exit_reason::kill);
    drain();
    auto cfg = ctx->cfg;
    tweak(cfg);
    make_context(std::move(cfg));
    store = spawn_store(sys, ctx, std::shared_ptr<persistence::state_store>(mem), false);
    drain();
    start_relay();
    auto all = mem->load_all();
    CAF_REQUIRE(all.status == persistence::store_status::ok);
    for (auto& r : all.records) self->send(broker, restore_atom::value, r.record, r.version);
    drain();
  }

  // -- HTTP ------------------------------------------------------------------------------------

  json start_body(const session_ids& ids, int64_t expires_in_ms = 600000) {
    return json{{"schemaVersion", 2},
                {"sessionID", ids.sid},
                {"joinToken", ids.join},
                {"desktopSessionToken", ids.desk},
                {"joinTokenExpiresAt", proto::format_rfc3339_ms(now() + expires_in_ms)}};
  }
  json join_body(const session_ids& ids, const std::string& name = "Test Phone") {
    return json{{"sessionID", ids.sid}, {"joinToken", ids.join}, {"deviceName", name}};
  }
  json desk_body(const session_ids& ids) {
    return json{{"schemaVersion", 2}, {"sessionID", ids.sid}, {"desktopSessionToken", ids.desk}};
  }

  /// Parses `body` exactly as front.cpp does and sends the api_call to `target` (default: the
  /// per-IP limiter, like the front). Drains mailboxes.
  std::shared_ptr<fake_responder> api(proto::route r, const json& body,
                                      const std::string& ip = "198.51.100.1",
                                      caf::actor target = {}) {
    proto::framework_error fe{0, ""};
    auto req = proto::parse_api_request(r, body.dump(), fe);
    CAF_REQUIRE(req.has_value());
    auto resp = std::make_shared<fake_responder>();
    self->send(target ? target : caf::actor_cast<caf::actor>(ip_limiter), api_atom::value,
               api_call{std::move(*req), ip, resp});
    drain();
    return resp;
  }

  /// pair/start sent straight to the broker; returns the session actor the broker spawned
  /// (captured from the deterministic scheduler's job queue).
  caf::actor start_session(const session_ids& ids, std::shared_ptr<fake_responder>* out = nullptr) {
    drain();
    proto::framework_error fe{0, ""};
    auto req = proto::parse_api_request(proto::route::pair_start, start_body(ids).dump(), fe);
    CAF_REQUIRE(req.has_value());
    auto resp = std::make_shared<fake_responder>();
    self->send(broker, api_atom::value, api_call{std::move(*req), "198.51.100.1", resp});
    CAF_REQUIRE(sched.try_run_once());  // broker: spawns the session and forwards the call
    CAF_REQUIRE(sched.has_job());
    caf::actor session = caf::actor_cast<caf::actor>(&sched.next_job<caf::abstract_actor>());
    CAF_REQUIRE(session != broker);
    drain();
    CAF_REQUIRE_EQUAL(resp->status, 200);
    if (out) *out = resp;
    return session;
  }

  // -- websockets ------------------------------------------------------------------------------

  /// Opens a socket and sends relay.auth through a real conn_handler; drains.
  client connect(const std::string& token, std::shared_ptr<fake_peer> peer = nullptr) {
    client c;
    c.peer = peer ? peer : std::make_shared<fake_peer>();
    c.handler = std::make_shared<conn_handler>(ctx, broker, c.peer);
    c.handler->on_text(json{{"type", "relay.auth"}, {"token", token}}.dump());
    drain();
    return c;
  }

  /// Sends an auth_request straight to the broker (what conn_handler::start_auth sends).
  std::shared_ptr<fake_peer> auth_direct(const std::string& token,
                                         std::shared_ptr<fake_peer> peer = nullptr) {
    if (!peer) peer = std::make_shared<fake_peer>();
    self->send(broker, auth_atom::value,
               auth_request{token, proto::random_token(proto::connection_id_bytes), peer, {}});
    drain();
    return peer;
  }

  void send_text(client& c, const std::string& text) {
    c.handler->on_text(std::string(text));
    drain();
  }

  void close_socket(client& c) {
    c.handler->on_closed();
    c.peer->stopped = true;
    drain();
  }

  // -- composite steps -------------------------------------------------------------------------

  struct paired_device {
    std::string device_id;
    std::string token;
    std::shared_ptr<fake_responder> join;
  };

  /// pair/join + desktop approval through the desktop's conn_handler.
  paired_device pair_device(const session_ids& ids, client& desktop,
                            const std::string& name = "Test Phone") {
    auto before = desktop.peer->count("relay.pair_request");
    auto join = api(proto::route::pair_join, join_body(ids, name));
    CAF_REQUIRE_EQUAL(join->calls, 0);
    CAF_REQUIRE_EQUAL(desktop.peer->count("relay.pair_request"), before + 1);
    auto rid =
        desktop.peer->of_type("relay.pair_request").back().at("requestID").get<std::string>();
    send_text(desktop, json{{"type", "relay.pair_decision"},
                            {"sessionID", ids.sid},
                            {"requestID", rid},
                            {"approved", true}}
                           .dump());
    CAF_REQUIRE_EQUAL(join->status, 200);
    auto j = join->j();
    return {j.at("deviceID").get<std::string>(), j.at("deviceSessionToken").get<std::string>(),
            join};
  }

  /// New session with a connected desktop.
  client start_with_desktop(const session_ids& ids) {
    auto r = api(proto::route::pair_start, start_body(ids));
    CAF_REQUIRE_EQUAL(r->status, 200);
    auto d = connect(ids.desk);
    CAF_REQUIRE_EQUAL(d.peer->count("auth_ok"), 1u);
    return d;
  }

  /// A valid schema-v2 command envelope.
  static json command(const std::string& sid, uint64_t seq,
                      const std::string& name = "thread.select",
                      const std::string& cmd_id = "cmd-1") {
    json body{{"name", name}, {"commandID", cmd_id}};
    if (name == "thread.select" || name == "thread.send_message") body["threadID"] = "T1";
    if (name == "thread.send_message") body["text"] = "Ship it";
    if (name == "project.select") body["projectID"] = "P1";
    return json{{"schemaVersion", 2},
                {"sessionID", sid},
                {"seq", seq},
                {"timestamp", "2026-01-01T00:00:00Z"},
                {"payload", {{"type", "command"}, {"payload", body}}}};
  }
};

/// Fixture `F` built with test_config() changed by `Tweak::apply` (the relay's config is
/// read-only once its actors run). CAF_TEST_FIXTURE_SCOPE needs one type: name it with `using`.
template <class F, class Tweak>
struct with_config : F {
  with_config() : F(tweaked()) {}
  static settings::relay_config tweaked() {
    auto c = test_config();
    Tweak::apply(c);
    return c;
  }
};

}  // namespace rc_test
