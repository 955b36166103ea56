#include "desktop-bridge/broker.hpp"

#include "desktop-bridge/broker_state.hpp"
#include "protocol/time.hpp"
#include "protocol/tokens.hpp"
#include "protocol/untrusted_json.hpp"
#include "protocol/url.hpp"

namespace rc::bridge {

namespace detail {

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

void broker_state::emit(json ev) {
  if (ui) ui->emit(ev);
}

void broker_state::error(const std::string& where, const std::string& message, int status,
                         const std::string& body) {
  json e = {{"event", "error"}, {"where", where}, {"message", message}};
  if (status) e["status"] = status;
  if (!body.empty()) e["body"] = body.size() > 512 ? body.substr(0, 512) : body;
  emit(e);
}

void broker_state::save() {
  if (cfg.state_file.empty() || !desc) return;
  saved_state s{*desc, devices, approvals, {}, {}, {}};
  hub.store(s.e2ee_identity, s.e2ee_pinned, s.e2ee_secrets);
  s.push = pushes.store();
  std::string err;
  if (!save_state(cfg.state_file, s, &err)) error("state_file", err);
}

json broker_state::auth_body() const {
  return {{"schemaVersion", 2},
          {"sessionID", desc->session_id},
          {"desktopSessionToken", desc->desktop_token.reveal()}};
}

void broker_state::post(const std::string& path, const json& body, http_cont k, int timeout_ms) {
  uint64_t id = next_op++;
  ops.emplace(id, std::move(k));
  auto hdl = caf::actor_cast<caf::actor>(self);
  net->post(relay_http_url(desc ? desc->relay_ws_url : cfg.relay_url, path), dump(body),
            timeout_ms ? timeout_ms : cfg.http_timeout_ms, [hdl, id](net::http_response r) {
              caf::anon_send(hdl, http_atom::value, id, r.status, std::move(r.body),
                             std::move(r.error));
            });
}

void broker_state::on_http(uint64_t id, int status, std::string body, std::string err) {
  auto it = ops.find(id);
  if (it == ops.end()) return;
  auto k = std::move(it->second);
  ops.erase(it);
  net::http_response r{status, std::move(body), std::move(err)};
  k(r);
}

bool broker_state::ok(const net::http_response& r) {
  return r.status >= 200 && r.status < 300;
}

std::string broker_state::describe(const net::http_response& r) {
  if (r.status == 0) return "relay unreachable: " + r.error;
  return "HTTP " + std::to_string(r.status) + ": " + r.body.substr(0, 300);
}

void broker_state::adopt_ws_url(const net::http_response& r) {
  try {
    auto j = rc::proto::parse_untrusted(r.body);
    if (j.contains("wsURL") && j["wsURL"].is_string()) {
      auto u = j["wsURL"].get<std::string>();
      if (rc::proto::parse_url(u)) desc->relay_ws_url = strip_token_query(u);
    }
  } catch (...) {
  }
}

void broker_state::start_runtime() {
  if (runtime_started || !rt) return;
  runtime_started = true;
  auto hdl = caf::actor_cast<caf::actor>(self);
  rt->start([hdl](runtime_event ev) { caf::anon_send(hdl, runtime_atom::value, std::move(ev)); });
}

void broker_state::start() {
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

void broker_state::start_new() {
  ph = phase::starting;
  out_seq = 0;
  devices.clear();
  device_count = 0;
  desc =
      session_descriptor::make(cfg.join_base, cfg.relay_url, rc::proto::now_ms(), cfg.join_ttl_s);
  desc->idle_timeout_s = cfg.idle_timeout_s;
  hub.reset();     // new session: new desktop identity key, no pinned devices
  pushes.reset();  // and no push subscriptions (a new VAPID key on first use)
  hub.set_session(desc->session_id);
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
    emit({{"event", "session_started"},
          {"sessionID", desc->session_id},
          {"joinURL", join_url_now()},
          {"e2ee", e2ee_policy_name(hub.policy())},
          {"relay", desc->relay_ws_url},
          {"restored", false},
          {"joinTokenExpiresAt", rc::proto::format_rfc3339_ms(desc->lease.expires_ms)}});
    save();  // the new pairing secret
    connect();
  });
}

void broker_state::schedule_restart() {
  ++attempt;
  self->delayed_send(self, std::chrono::milliseconds(delay()), start_atom::value);
}

void broker_state::restore(saved_state s) {
  desc = std::move(s.descriptor);
  devices = std::move(s.devices);
  if (!hub.load(s.e2ee_identity, s.e2ee_pinned, s.e2ee_secrets) && hub.policy() != e2ee_policy::off)
    error("e2ee",
          "no usable E2EE identity in the state file: a new key was made; phones must pair again");
  hub.set_session(desc->session_id);
  pushes.load(s.push);
  approvals = cfg.approvals_default;  // remote approvals never survive a restart: OFF unless asked
  out_seq = 0;
  ph = phase::active;
  restoring = true;
  resume();
}

void broker_state::resume() {
  probe([this](bool alive) {
    if (!alive || ph != phase::active || ws) return;
    if (restoring) {
      restoring = false;
      emit({{"event", "session_started"},
            {"sessionID", desc->session_id},
            {"joinURL", join_url_now()},
            {"e2ee", e2ee_policy_name(hub.policy())},
            {"relay", desc->relay_ws_url},
            {"restored", true},
            {"joinTokenExpiresAt", rc::proto::format_rfc3339_ms(desc->lease.expires_ms)}});
      save();
      list_devices(false);
    }
    connect();
  });
}

void broker_state::probe(std::function<void(bool)> k, bool force_new_token) {
  auto now = rc::proto::now_ms();
  bool rotated = false;
  if (force_new_token || !desc->lease.usable(now + 15000)) {
    desc->rotate_join_token(desc->join_base.empty() ? cfg.join_base : desc->join_base, now,
                            cfg.join_ttl_s);
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
        emit({{"event", "join_link"},
              {"sessionID", desc->session_id},
              {"joinURL", join_url_now()},
              {"e2ee", e2ee_policy_name(hub.policy())},
              {"joinTokenExpiresAt", rc::proto::format_rfc3339_ms(desc->lease.expires_ms)}});
      if (rotated) save();
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

int broker_state::delay() {
  int d = reconnect_delay_ms(attempt < 1 ? 1 : attempt);
  if (cfg.jitter) d += std::uniform_int_distribution<int>(0, 750)(rng);
  return d;
}

void broker_state::schedule_reconnect() {
  if (reconnect_pending || !desc) return;
  reconnect_pending = true;
  ++attempt;
  int d = delay();
  emit({{"event", "reconnect_scheduled"}, {"attempt", attempt}, {"delayMs", d}});
  self->delayed_send(self, std::chrono::milliseconds(d), reconnect_atom::value, desc->session_id);
}

void broker_state::on_reconnect(const std::string& sid) {
  reconnect_pending = false;
  if (!desc || desc->session_id != sid || ph != phase::active || ws) return;
  resume();
}

void broker_state::connect() {
  auto gen = ++ws_gen;
  auto hdl = caf::actor_cast<caf::actor>(self);
  net::ws_handlers h;
  h.on_open = [hdl, gen] { caf::anon_send(hdl, ws_open_atom::value, gen); };
  h.on_text = [hdl, gen](std::string t) {
    caf::anon_send(hdl, ws_text_atom::value, gen, std::move(t));
  };
  h.on_close = [hdl, gen](int code, std::string reason) {
    caf::anon_send(hdl, ws_close_atom::value, gen, code, std::move(reason));
  };
  authed = false;
  ws = net->connect(desc->relay_ws_url, std::move(h));
}

std::string broker_state::join_url_now() {
  return desc->join_url + hub.join_fragment(desc->lease.expires_ms, rc::proto::now_ms());
}

void broker_state::close_ws() {
  hub.drop_channels();
  ++ws_gen;  // late callbacks of the old socket are ignored
  if (ws) ws->close();
  ws.reset();
  authed = false;
  trackers.clear();
}

void broker_state::on_ws_open(uint64_t gen) {
  if (gen != ws_gen || !ws || !desc) return;
  ws->send(dump({{"type", "relay.auth"}, {"token", desc->desktop_token.reveal()}}));
}

void broker_state::on_ws_close(uint64_t gen, int code, const std::string& reason) {
  if (gen != ws_gen) return;
  ws.reset();
  bool was_authed = authed;
  authed = false;
  trackers.clear();
  hub.drop_channels();
  pushes.clear_all_visible();  // no live connection to any phone now
  emit({{"event", "relay_disconnected"},
        {"code", code},
        {"reason", reason},
        {"wasConnected", was_authed}});
  if (ph != phase::active) return;
  if (code == 1008) {
    invalidate("relay closed the socket with 1008 (session expired)");
    return;
  }
  schedule_reconnect();
}

void broker_state::invalidate(const std::string& why) {
  if (!desc) return;
  emit({{"event", "session_ended"},
        {"reason", why},
        {"message", "Session ended; start new session."}});
  json body = auth_body();
  post(
      "/pair/stop", body, [](const net::http_response&) {}, 5000);
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

void broker_state::kill_switch(const std::string& reason) {
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
  post(
      "/pair/stop", body,
      [this, reason](const net::http_response& r) {
        if (!ok(r)) error("pair_stop", "pair/stop failed (ignored): " + describe(r), r.status);
        desc.reset();
        devices.clear();
        ph = phase::stopped;
        emit({{"event", "stopped"}, {"reason", reason}});
        self->quit();
      },
      5000);
}

void broker_state::teardown() {
  close_ws();
  ph = phase::stopped;
  emit({{"event", "stopped"}, {"reason", "teardown"}, {"sessionKept", desc.has_value()}});
  self->quit();
}
}  // namespace detail

namespace {
using namespace detail;

caf::behavior broker_fun(broker_actor* self, broker_config cfg, std::shared_ptr<transport> net,
                         std::shared_ptr<runtime> rt, std::shared_ptr<ui_sink> ui) {
  auto& s = self->state;
  s.self = self;
  s.cfg = std::move(cfg);
  s.net = std::move(net);
  s.rt = std::move(rt);
  s.ui = std::move(ui);
  s.approvals = s.cfg.approvals_default;
  s.hub.set_policy(s.cfg.e2ee);
  s.pushes = push::hub(s.cfg.push);
  return {
      [self](start_atom) {
        auto& st = self->state;
        if (st.ph == phase::idle) st.start();
      },
      [self](stop_atom) { self->state.kill_switch("stopped_by_user"); },
      [self](quit_atom) { self->state.teardown(); },
      [self](decide_atom, const std::string& rid, bool approved) {
        self->state.decide(rid, approved);
      },
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
      [self](ws_text_atom, uint64_t gen, const std::string& text) {
        self->state.on_ws_text(gen, text);
      },
      [self](ws_close_atom, uint64_t gen, int code, const std::string& reason) {
        self->state.on_ws_close(gen, code, reason);
      },
      [self](reconnect_atom, const std::string& sid) { self->state.on_reconnect(sid); },
      [self](flush_atom) {
        if (self->state.flush_scheduled) self->state.flush(false);
      },
      [self](push_answer_atom, uint64_t id, int status, const std::string& retry_after) {
        self->state.on_push_answer(id, status, retry_after);
      },
      [self](push_wake_atom) {
        self->state.push_wake_pending = false;
        self->state.push_pump();
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
        st.push_on_runtime(ev);
        if (auto* s2 = std::get_if<ev_status>(&ev))
          st.emit(
              {{"event", "runtime_status"}, {"connected", s2->connected}, {"detail", s2->detail}});
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
