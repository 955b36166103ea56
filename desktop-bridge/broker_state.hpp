// Internal to the broker (broker.cpp, broker_session.cpp): the broker actor's state. The
// behaviour and lifecycle live in broker.cpp; devices, pairing, the outbound stream, inbound
// frames and E2EE in broker_session.cpp (split to keep units small).
#pragma once
#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <unordered_map>

#include "desktop-bridge/broker.hpp"
#include "desktop-bridge/e2ee_hub.hpp"
#include "desktop-bridge/model.hpp"
#include "desktop-bridge/state_file.hpp"

namespace rc::bridge::detail {

enum class phase { idle, starting, active, stopping, stopped };

struct broker_state;
using broker_actor = caf::stateful_actor<broker_state>;
using http_cont = std::function<void(const net::http_response&)>;

std::string dump(const json& j);

struct broker_state {
  static inline const char* name = "rc-bridge-broker";

  broker_actor* self = nullptr;
  broker_config cfg;
  std::shared_ptr<transport> net;
  std::shared_ptr<runtime> rt;
  std::shared_ptr<ui_sink> ui;

  phase ph = phase::idle;
  std::optional<session_descriptor> desc;
  std::vector<trusted_device> devices;
  bool approvals = false;
  bool runtime_started = false;
  bool restoring = false;
  e2ee_hub hub;
  push::hub pushes;                       // web push (docs/PUSH.md)
  std::set<std::string> running_threads;  // turn running (a push when it ends)
  bool push_wake_pending = false;
  int64_t push_wake_at = 0;

  std::shared_ptr<net::ws_connection> ws;
  uint64_t ws_gen = 0;
  bool authed = false;
  int attempt = 0;
  bool reconnect_pending = false;
  std::size_t device_count = 0;

  uint64_t out_seq = 0;
  model m;
  command_processor cp;
  tracker_set trackers;
  std::string last_snapshot;
  bool flush_scheduled = false;

  uint64_t next_op = 1;
  std::unordered_map<uint64_t, http_cont> ops;
  std::map<std::string, json> pair_requests;  // requestID → event
  std::mt19937 rng{std::random_device{}()};

  void emit(json ev);
  void error(const std::string& where, const std::string& message, int status = 0,
             const std::string& body = {});

  // ---- persistence ----------------------------------------------------------------------------
  void save();

  // ---- HTTP -----------------------------------------------------------------------------------
  json auth_body() const;

  void post(const std::string& path, const json& body, http_cont k, int timeout_ms = 0);

  void on_http(uint64_t id, int status, std::string body, std::string err);

  static bool ok(const net::http_response& r);
  static std::string describe(const net::http_response& r);

  void adopt_ws_url(const net::http_response& r);

  // ---- lifecycle ------------------------------------------------------------------------------
  void start_runtime();

  void start();

  void start_new();

  void schedule_restart();

  void restore(saved_state s);

  /// Restore (once) or reconnect: /pair/refresh probe, then connect (never /pair/start).
  void resume();

  /// /pair/refresh probe. Keeps the current join token when it is unused and has > 15 s left
  /// (the displayed QR stays valid); otherwise installs a new one. `k(true)` when alive;
  /// invalidation handled here; transient failures schedule another reconnect attempt.
  void probe(std::function<void(bool)> k, bool force_new_token = false);

  int delay();

  void schedule_reconnect();

  void on_reconnect(const std::string& sid);

  void connect();

  void close_ws();

  void on_ws_open(uint64_t gen);

  void on_ws_close(uint64_t gen, int code, const std::string& reason);

  /// Session invalidation (§11): clear descriptor, best-effort /pair/stop, tell the user.
  void invalidate(const std::string& why);

  /// Kill switch: end remote control at once.
  void kill_switch(const std::string& reason);

  void teardown();

  // ---- devices / pairing --------------------------------------------------------------------
  void list_devices(bool show);

  void revoke(const std::string& device_id);

  void add_device();

  void decide(const std::string& request_id, bool approved);

  // ---- outbound stream ------------------------------------------------------------------------
  /// `personal` (optional) edits the body per E2EE device; plaintext copies get `body` as is.
  void send_envelope(const std::string& type, json body,
                     const std::function<void(const std::string&, json&)>& personal = {});

  void send_hello();

  void flush(bool forced);

  void schedule_flush();

  // ---- inbound ----------------------------------------------------------------------------------
  void on_ws_text(uint64_t gen, const std::string& text);

  void on_control(const json& j);

  void on_envelope(const json& env);
  bool envelope_header_ok(const json& env) const;
  void process_command(const json& env, const std::string& conn,
                       const std::string& e2ee_device = {});

  // ---- web push (broker_push.cpp) ---------------------------------------------------------------
  void on_push_command(const json& env, const std::string& conn, const std::string& device);
  /// `push.state` to every E2EE device (each its own); plaintext copies get an empty event.
  void send_push_state();
  void push_on_runtime(const runtime_event& ev);
  void push_notify(push::kind k, const std::string& thread_id, const std::string& title,
                   const std::string& text);
  void push_pump();
  void on_push_answer(uint64_t id, int status, const std::string& retry_after);
  void on_e2ee(const std::string& device, const std::string& conn, const json& body);
  void refuse(const std::string& device, const std::string& reason);
  /// The session's join link plus `dk`/`ps` (fresh single-use secret); call save() after.
  std::string join_url_now();
};

}  // namespace rc::bridge::detail
