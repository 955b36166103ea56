#include "desktop-bridge/broker.hpp"

#include <algorithm>
#include <map>
#include <random>

#include "desktop-bridge/model.hpp"
#include "desktop-bridge/state_file.hpp"
#include "protocol/time.hpp"
#include "protocol/tokens.hpp"
#include "protocol/url.hpp"

namespace rc::bridge {

namespace {

enum class phase { idle, starting, active, stopping, stopped };

struct broker_state;
using broker_actor = caf::stateful_actor<broker_state>;
using http_cont = std::function<void(const net::http_response&)>;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

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

  void emit(json ev) {
    if (ui) ui->emit(ev);
  }
  void error(const std::string& where, const std::string& message, int status = 0, const std::string& body = {}) {
    json e = {{"event", "error"}, {"where", where}, {"message", message}};
    if (status) e["status"] = status;
    if (!body.empty()) e["body"] = body.size() > 512 ? body.substr(0, 512) : body;
    emit(e);
  }

  // ---- persistence ----------------------------------------------------------------------------
  void save() {
    if (cfg.state_file.empty() || !desc) return;
    saved_state s{*desc, devices, approvals};
    std::string err;
    if (!save_state(cfg.state_file, s, &err)) error("state_file", err);
  }

  // ---- HTTP -----------------------------------------------------------------------------------
  json auth_body() const {
    return {{"schemaVersion", 2}, {"sessionID", desc->session_id},
            {"desktopSessionToken", desc->desktop_token.reveal()}};
  }

  void post(const std::string& path, const json& body, http_cont k, int timeout_ms = 0) {
    uint64_t id = next_op++;
    ops.emplace(id, std::move(k));
    auto hdl = caf::actor_cast<caf::actor>(self);
    net->post(relay_http_url(desc ? desc->relay_ws_url : cfg.relay_url, path), dump(body),
              timeout_ms ? timeout_ms : cfg.http_timeout_ms, [hdl, id](net::http_response r) {
                caf::anon_send(hdl, http_atom::value, id, r.status, std::move(r.body), std::move(r.error));
              });
  }

  void on_http(uint64_t id, int status, std::string body, std::string err) {
    auto it = ops.find(id);
    if (it == ops.end()) return;
    auto k = std::move(it->second);
    ops.erase(it);
    net::http_response r{status, std::move(body), std::move(err)};
    k(r);
  }

  static bool ok(const net::http_response& r) { return r.status >= 200 && r.status < 300; }
  static std::string describe(const net::http_response& r) {
    if (r.status == 0) return "relay unreachable: " + r.error;
    return "HTTP " + std::to_string(r.status) + ": " + r.body.substr(0, 300);
  }

  void adopt_ws_url(const net::http_response& r) {
    try {
      auto j = json::parse(r.body);
      if (j.contains("wsURL") && j["wsURL"].is_string()) {
        auto u = j["wsURL"].get<std::string>();
        if (rc::proto::parse_url(u)) desc->relay_ws_url = strip_token_query(u);
      }
    } catch (...) {
    }
  }

  // ---- lifecycle ------------------------------------------------------------------------------
  void start_runtime() {
    if (runtime_started || !rt) return;
    runtime_started = true;
    auto hdl = caf::actor_cast<caf::actor>(self);
    rt->start([hdl](runtime_event ev) { caf::anon_send(hdl, runtime_atom::value, std::move(ev)); });
  }

  void start() {
    if (ph != phase::idle) return;
    start_runtime();
    approvals = cfg.approvals_default;
    if (!cfg.state_file.empty()) {
      bool purged = false;
      auto saved = load_state(cfg.state_file, &purged);
      if (purged) error("state_file", "unreadable session file purged; starting a new session");
      if (saved) {
        restore(std::move(*saved));
        return;
      }
    }
    start_new();
  }

  void start_new() {
    ph = phase::starting;
    out_seq = 0;
    devices.clear();
    device_count = 0;
    desc = session_descriptor::make(cfg.join_base, cfg.relay_url, rc::proto::now_ms(), cfg.join_ttl_s);
    desc->idle_timeout_s = cfg.idle_timeout_s;
    json body = auth_body();
    body["joinToken"] = desc->lease.token.reveal();
    body["joinTokenExpiresAt"] = rc::proto::format_rfc3339_ms(desc->lease.expires_ms);
    body["relayWebSocketURL"] = desc->relay_ws_url;
    body["idleTimeoutSeconds"] = desc->idle_timeout_s;
    auto sid = desc->session_id;
    post("/pair/start", body, [this, sid](const net::http_response& r) {
      if (!desc || desc->session_id != sid || ph != phase::starting) return;
      if (!ok(r)) {
        error("pair_start", "could not start session: " + describe(r), r.status, r.body);
        desc.reset();
        ph = phase::idle;
        if (r.status == 0 || r.status >= 500 || r.status == 429) {
          schedule_restart();
        } else {
          emit({{"event", "stopped"}, {"reason", "start_failed"}});
          ph = phase::stopped;
          self->quit();
        }
        return;
      }
      adopt_ws_url(r);
      ph = phase::active;
      attempt = 0;
      save();
      emit({{"event", "session_started"}, {"sessionID", desc->session_id}, {"joinURL", desc->join_url},
            {"relay", desc->relay_ws_url}, {"restored", false},
            {"joinTokenExpiresAt", rc::proto::format_rfc3339_ms(desc->lease.expires_ms)}});
      connect();
    });
  }

  void schedule_restart() {
    ++attempt;
    self->delayed_send(self, std::chrono::milliseconds(delay()), start_atom::value);
  }

  void restore(saved_state s) {
    desc = std::move(s.descriptor);
    devices = std::move(s.devices);
    approvals = cfg.approvals_default;  // remote approvals never survive a restart: OFF unless asked
    out_seq = 0;
    ph = phase::active;
    restoring = true;
    resume();
  }

  /// Restore (once) or reconnect: /pair/refresh probe, then connect (never /pair/start).
  void resume() {
    probe([this](bool alive) {
      if (!alive || ph != phase::active || ws) return;
      if (restoring) {
        restoring = false;
        emit({{"event", "session_started"}, {"sessionID", desc->session_id}, {"joinURL", desc->join_url},
              {"relay", desc->relay_ws_url}, {"restored", true},
              {"joinTokenExpiresAt", rc::proto::format_rfc3339_ms(desc->lease.expires_ms)}});
        list_devices(false);
      }
      connect();
    });
  }

  /// /pair/refresh probe. Keeps the current join token when it is unused and has > 15 s left
  /// (the displayed QR stays valid); otherwise installs a new one. `k(true)` when alive;
  /// invalidation handled here; transient failures schedule another reconnect attempt.
  void probe(std::function<void(bool)> k, bool force_new_token = false) {
    auto now = rc::proto::now_ms();
    bool rotated = false;
    if (force_new_token || !desc->lease.usable(now + 15000)) {
      desc->rotate_join_token(desc->join_base.empty() ? cfg.join_base : desc->join_base, now, cfg.join_ttl_s);
      rotated = true;
    }
    json body = auth_body();
    body["joinToken"] = desc->lease.token.reveal();
    body["joinTokenExpiresAt"] = rc::proto::format_rfc3339_ms(desc->lease.expires_ms);
    auto sid = desc->session_id;
    post("/pair/refresh", body, [this, sid, k, rotated](const net::http_response& r) {
      if (!desc || desc->session_id != sid) return;
      if (ok(r)) {
        adopt_ws_url(r);
        save();
        if (rotated && ph == phase::active && !restoring)
          emit({{"event", "join_link"}, {"sessionID", desc->session_id}, {"joinURL", desc->join_url},
                {"joinTokenExpiresAt", rc::proto::format_rfc3339_ms(desc->lease.expires_ms)}});
        k(true);
        return;
      }
      if (r.status != 0 && http_invalidates_session(r.status, r.body)) {
        invalidate("pair_refresh: " + describe(r));
        k(false);
        return;
      }
      error("pair_refresh", "relay probe failed: " + describe(r), r.status, r.body);
      k(false);
      schedule_reconnect();
    });
  }

  int delay() {
    int d = reconnect_delay_ms(attempt < 1 ? 1 : attempt);
    if (cfg.jitter) d += std::uniform_int_distribution<int>(0, 750)(rng);
    return d;
  }

  void schedule_reconnect() {
    if (reconnect_pending || !desc) return;
    reconnect_pending = true;
    ++attempt;
    int d = delay();
    emit({{"event", "reconnect_scheduled"}, {"attempt", attempt}, {"delayMs", d}});
    self->delayed_send(self, std::chrono::milliseconds(d), reconnect_atom::value, desc->session_id);
  }

  void on_reconnect(const std::string& sid) {
    reconnect_pending = false;
    if (!desc || desc->session_id != sid || ph != phase::active || ws) return;
    resume();
  }

  void connect() {
    auto gen = ++ws_gen;
    auto hdl = caf::actor_cast<caf::actor>(self);
    net::ws_handlers h;
    h.on_open = [hdl, gen] { caf::anon_send(hdl, ws_open_atom::value, gen); };
    h.on_text = [hdl, gen](std::string t) { caf::anon_send(hdl, ws_text_atom::value, gen, std::move(t)); };
    h.on_close = [hdl, gen](int code, std::string reason) {
      caf::anon_send(hdl, ws_close_atom::value, gen, code, std::move(reason));
    };
    authed = false;
    ws = net->connect(desc->relay_ws_url, std::move(h));
  }

  void close_ws() {
    ++ws_gen;  // late callbacks of the old socket are ignored
    if (ws) ws->close();
    ws.reset();
    authed = false;
    trackers.clear();
  }

  void on_ws_open(uint64_t gen) {
    if (gen != ws_gen || !ws || !desc) return;
    ws->send(dump({{"type", "relay.auth"}, {"token", desc->desktop_token.reveal()}}));
  }

  void on_ws_close(uint64_t gen, int code, const std::string& reason) {
    if (gen != ws_gen) return;
    ws.reset();
    bool was_authed = authed;
    authed = false;
    trackers.clear();
    emit({{"event", "relay_disconnected"}, {"code", code}, {"reason", reason}, {"wasConnected", was_authed}});
    if (ph != phase::active) return;
    if (code == 1008) {
      invalidate("relay closed the socket with 1008 (session expired)");
      return;
    }
    schedule_reconnect();
  }

  /// Session invalidation (§11): clear descriptor, best-effort /pair/stop, tell the user.
  void invalidate(const std::string& why) {
    if (!desc) return;
    emit({{"event", "session_ended"}, {"reason", why}, {"message", "Session ended; start new session."}});
    json body = auth_body();
    post("/pair/stop", body, [](const net::http_response&) {}, 5000);
    close_ws();
    if (!cfg.state_file.empty()) clear_state(cfg.state_file);
    desc.reset();
    devices.clear();
    pair_requests.clear();
    ph = phase::idle;
    attempt = 0;
    if (cfg.restart_after_session_end) {
      self->delayed_send(self, std::chrono::milliseconds(1000), start_atom::value);
    } else {
      ph = phase::stopped;
      emit({{"event", "stopped"}, {"reason", "session_ended"}});
      self->quit();
    }
  }

  /// Kill switch: end remote control at once.
  void kill_switch(const std::string& reason) {
    if (ph == phase::stopping || ph == phase::stopped) return;
    close_ws();
    pair_requests.clear();
    if (!cfg.state_file.empty()) clear_state(cfg.state_file);
    if (!desc) {
      ph = phase::stopped;
      emit({{"event", "stopped"}, {"reason", reason}});
      self->quit();
      return;
    }
    ph = phase::stopping;
    json body = auth_body();
    post("/pair/stop", body, [this, reason](const net::http_response& r) {
      if (!ok(r)) error("pair_stop", "pair/stop failed (ignored): " + describe(r), r.status);
      desc.reset();
      devices.clear();
      ph = phase::stopped;
      emit({{"event", "stopped"}, {"reason", reason}});
      self->quit();
    }, 5000);
  }

  void teardown() {
    close_ws();
    ph = phase::stopped;
    emit({{"event", "stopped"}, {"reason", "teardown"}, {"sessionKept", desc.has_value()}});
    self->quit();
  }

  // ---- devices / pairing --------------------------------------------------------------------
  void list_devices(bool show) {
    if (!desc) return;
    auto sid = desc->session_id;
    post("/devices/list", auth_body(), [this, sid, show](const net::http_response& r) {
      if (!desc || desc->session_id != sid) return;
      if (!ok(r)) {
        if (r.status != 0 && http_invalidates_session(r.status, r.body)) return invalidate("devices_list: " + describe(r));
        error("devices_list", describe(r), r.status, r.body);
        return;
      }
      std::vector<trusted_device> fresh;
      json list = json::array();
      try {
        auto j = json::parse(r.body);
        for (auto& d : j.value("devices", json::array())) {
          trusted_device t;
          t.device_id = d.value("deviceID", "");
          t.name = d.value("deviceName", "");
          t.connected = d.value("connected", false);
          t.joined_at = d.value("joinedAt", "");
          t.last_seen_at = d.value("lastSeenAt", "");
          fresh.push_back(t);
          list.push_back({{"deviceID", t.device_id}, {"deviceName", t.name}, {"connected", t.connected},
                          {"joinedAt", t.joined_at}, {"lastSeenAt", t.last_seen_at}});
        }
      } catch (...) {
        error("devices_list", "invalid response");
        return;
      }
      for (auto& t : fresh) {
        bool known = std::any_of(devices.begin(), devices.end(),
                                 [&](const trusted_device& o) { return o.device_id == t.device_id; });
        if (!known)
          emit({{"event", "device_paired"}, {"deviceID", t.device_id}, {"deviceName", t.name}});
      }
      devices = std::move(fresh);
      save();
      if (show) emit({{"event", "devices"}, {"devices", list}});
    });
  }

  void revoke(const std::string& device_id) {
    if (!desc) return error("revoke", "no active session");
    if (!rc::proto::is_opaque(device_id, rc::proto::min_device_id_len))
      return error("revoke", "invalid device id");
    json body = auth_body();
    body["deviceID"] = device_id;
    post("/devices/revoke", body, [this, device_id](const net::http_response& r) {
      if (!desc) return;
      if (!ok(r)) {
        if (r.status == 404 && r.body.find("device_not_found") != std::string::npos)
          return error("revoke", "device not found", r.status, r.body);
        if (r.status != 0 && http_invalidates_session(r.status, r.body)) return invalidate("devices_revoke: " + describe(r));
        return error("revoke", describe(r), r.status, r.body);
      }
      devices.erase(std::remove_if(devices.begin(), devices.end(),
                                   [&](const trusted_device& d) { return d.device_id == device_id; }),
                    devices.end());
      save();
      emit({{"event", "device_revoked"}, {"deviceID", device_id}});
    });
  }

  void add_device() {
    if (!desc || ph != phase::active) return error("add_device", "no active session");
    probe([this](bool alive) {
      if (alive && desc)
        emit({{"event", "add_device"}, {"sessionID", desc->session_id}, {"joinURL", desc->join_url}});
    }, true);
  }

  void decide(const std::string& request_id, bool approved) {
    auto it = pair_requests.find(request_id);
    if (it == pair_requests.end()) return error("pair_decision", "no pending pair request " + request_id);
    pair_requests.erase(it);
    if (ws && authed && desc)
      ws->send(dump({{"type", "relay.pair_decision"}, {"sessionID", desc->session_id},
                     {"requestID", request_id}, {"approved", approved}}));
    emit({{"event", "pair_decision"}, {"requestID", request_id}, {"approved", approved}});
  }

  // ---- outbound stream ------------------------------------------------------------------------
  void send_envelope(const std::string& type, json body) {
    if (!ws || !authed || !desc) return;
    json env = {{"schemaVersion", 2},
                {"sessionID", desc->session_id},
                {"seq", ++out_seq},
                {"timestamp", rc::proto::format_rfc3339_seconds_z(rc::proto::now_ms())},
                {"payload", {{"type", type}, {"payload", std::move(body)}}}};
    ws->send(dump(env));
  }

  void send_hello() {
    send_envelope("hello", {{"role", "desktop"},
                            {"clientName", "Remote Control Desktop Bridge"},
                            {"supportsRuntimeRequests", approvals}});
  }

  void flush(bool forced) {
    flush_scheduled = false;
    if (!ws || !authed) return;
    for (auto& e : m.collect_events(approvals)) send_envelope("event", e);
    snapshot_limits lim;
    std::string text = dump(m.snapshot(approvals, lim));
    // The relay limits inbound frames to 64 KiB: shrink the window if the bounded snapshot
    // (plus JSON escaping and metadata) would still not fit.
    while (text.size() > 60000 && lim.text_budget > 1000) {
      lim.text_budget /= 2;
      lim.max_messages = std::max<std::size_t>(10, lim.max_messages / 2);
      text = dump(m.snapshot(approvals, lim));
    }
    if (!forced && text == last_snapshot) return;
    last_snapshot = text;
    send_envelope("snapshot", json::parse(text));
  }

  void schedule_flush() {
    if (flush_scheduled) return;
    flush_scheduled = true;
    self->delayed_send(self, std::chrono::milliseconds(cfg.flush_debounce_ms), flush_atom::value);
  }

  // ---- inbound ----------------------------------------------------------------------------------
  void on_ws_text(uint64_t gen, const std::string& text) {
    if (gen != ws_gen || !desc) return;
    json j;
    try {
      j = json::parse(text);
    } catch (...) {
      return;
    }
    if (!j.is_object()) return;
    if (j.contains("type") && j["type"].is_string()) return on_control(j);
    on_envelope(j);
  }

  void on_control(const json& j) {
    auto type = j["type"].get<std::string>();
    if (j.contains("sessionID") && j["sessionID"].is_string() && j["sessionID"] != desc->session_id) return;
    if (type == "auth_ok") {
      authed = true;
      attempt = 0;
      trackers.clear();
      device_count = j.value("connectedDeviceCount", std::size_t{0});
      emit({{"event", "relay_connected"}, {"sessionID", desc->session_id},
            {"connectedDeviceCount", device_count}});
      send_hello();
      m.reset_baselines();
      m.record_baselines();
      last_snapshot.clear();
      flush(true);
    } else if (type == "relay.device_count") {
      auto n = j.value("connectedDeviceCount", std::size_t{0});
      emit({{"event", "device_count"}, {"connectedDeviceCount", n}});
      if (n > device_count) {
        send_hello();
        list_devices(false);
      }
      device_count = n;
    } else if (type == "relay.snapshot_request") {
      send_hello();
      flush(true);
    } else if (type == "relay.pair_request") {
      auto rid = j.value("requestID", "");
      if (rid.empty()) return;
      json ev = {{"event", "pair_request"}, {"requestID", rid}};
      if (j.contains("deviceName") && j["deviceName"].is_string()) ev["deviceName"] = j["deviceName"];
      ev["requesterIP"] = j.value("requesterIP", "");
      ev["requestedAt"] = j.value("requestedAt", "");
      ev["expiresAt"] = j.value("expiresAt", "");
      pair_requests[rid] = ev;
      emit(ev);
      if (cfg.auto_approve) return decide(rid, true);
      int64_t timeout_ms = int64_t{cfg.pair_prompt_timeout_s} * 1000;
      if (auto exp = rc::proto::parse_rfc3339(j.value("expiresAt", "")))
        timeout_ms = std::clamp<int64_t>(*exp - rc::proto::now_ms(), 1000, timeout_ms);
      self->delayed_send(self, std::chrono::milliseconds(timeout_ms), pair_timeout_atom::value, rid);
    } else if (type == "relay.pair_result") {
      auto rid = j.value("requestID", "");
      bool approved = j.value("approved", false);
      pair_requests.erase(rid);
      emit({{"event", "pair_result"}, {"requestID", rid}, {"approved", approved}});
      if (approved) {
        desc->lease.mark_used(rc::proto::now_ms());
        save();
        list_devices(false);
      }
    } else if (type == "disconnect") {
      auto reason = j.value("reason", "");
      emit({{"event", "relay_disconnect"}, {"reason", reason}});
      if (disconnect_invalidates_session(reason)) invalidate("relay: " + reason);
    }
  }

  void on_envelope(const json& env) {
    if (!env.contains("schemaVersion") || env["schemaVersion"] != 2) return;
    if (!env.contains("sessionID") || env["sessionID"] != desc->session_id) return;
    if (!env.contains("timestamp") || !env["timestamp"].is_string()) return;
    if (!env.contains("seq") || !env["seq"].is_number_unsigned()) return;
    auto& p = env["payload"];
    if (!p.is_object() || p.value("type", "") != "command" || !p.contains("payload") || !p["payload"].is_object()) return;
    uint64_t seq = env["seq"].get<uint64_t>();
    std::string conn = env.value("relayConnectionID", "");
    auto& tr = trackers.get(conn);
    auto res = tr.ingest(seq);
    bool stale = res.r == rc::proto::sequence_tracker::result::stale;
    if (res.r == rc::proto::sequence_tracker::result::gap) tr.force(seq);  // §8.3 hazard: accept forward jumps
    auto out = cp.process(p["payload"], seq, stale, m, rt.get(), approvals);
    if (!out.ack) {
      emit({{"event", "command_received"}, {"name", out.name}, {"commandID", out.command_id},
            {"status", "dropped"}, {"seq", seq}});
      return;
    }
    json ev = {{"event", "command_received"}, {"name", out.name}, {"commandID", out.command_id},
               {"status", out.accepted ? "accepted" : "rejected"}, {"seq", seq}, {"replay", out.replay}};
    if (!out.reason.empty()) ev["reason"] = out.reason;
    emit(ev);
    for (auto& e : out.before_ack) send_envelope("event", e);
    send_envelope("command_ack", *out.ack);
    if (out.accepted && out.applied) flush(true);
  }
};

caf::behavior broker_fun(broker_actor* self, broker_config cfg, std::shared_ptr<transport> net,
                         std::shared_ptr<runtime> rt, std::shared_ptr<ui_sink> ui) {
  auto& s = self->state;
  s.self = self;
  s.cfg = std::move(cfg);
  s.net = std::move(net);
  s.rt = std::move(rt);
  s.ui = std::move(ui);
  s.approvals = s.cfg.approvals_default;
  return {
      [self](start_atom) {
        auto& st = self->state;
        if (st.ph == phase::idle) st.start();
      },
      [self](stop_atom) { self->state.kill_switch("stopped_by_user"); },
      [self](quit_atom) { self->state.teardown(); },
      [self](decide_atom, const std::string& rid, bool approved) { self->state.decide(rid, approved); },
      [self](add_device_atom) { self->state.add_device(); },
      [self](devices_atom) {
        if (!self->state.desc) return self->state.error("devices", "no active session");
        self->state.list_devices(true);
      },
      [self](revoke_atom, const std::string& id) { self->state.revoke(id); },
      [self](approvals_atom, bool on) {
        auto& st = self->state;
        st.approvals = on;
        st.save();
        st.emit({{"event", "approvals"}, {"enabled", on}});
        st.send_hello();
        st.flush(true);
      },
      [self](http_atom, uint64_t id, int status, std::string& body, std::string& err) {
        self->state.on_http(id, status, std::move(body), std::move(err));
      },
      [self](ws_open_atom, uint64_t gen) { self->state.on_ws_open(gen); },
      [self](ws_text_atom, uint64_t gen, const std::string& text) { self->state.on_ws_text(gen, text); },
      [self](ws_close_atom, uint64_t gen, int code, const std::string& reason) {
        self->state.on_ws_close(gen, code, reason);
      },
      [self](reconnect_atom, const std::string& sid) { self->state.on_reconnect(sid); },
      [self](flush_atom) {
        if (self->state.flush_scheduled) self->state.flush(false);
      },
      [self](pair_timeout_atom, const std::string& rid) {
        auto& st = self->state;
        if (st.pair_requests.count(rid)) {
          st.emit({{"event", "pair_request_timeout"}, {"requestID", rid}});
          st.decide(rid, false);
        }
      },
      [self](runtime_atom, const runtime_event& ev) {
        auto& st = self->state;
        st.m.apply(ev);
        if (auto* s2 = std::get_if<ev_status>(&ev))
          st.emit({{"event", "runtime_status"}, {"connected", s2->connected}, {"detail", s2->detail}});
        st.schedule_flush();
      },
  };
}

}  // namespace

caf::actor spawn_broker(caf::actor_system& sys, broker_config cfg, std::shared_ptr<transport> net,
                        std::shared_ptr<runtime> rt, std::shared_ptr<ui_sink> ui) {
  return sys.spawn(broker_fun, std::move(cfg), std::move(net), std::move(rt), std::move(ui));
}

}  // namespace rc::bridge
