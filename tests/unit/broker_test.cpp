// Broker: supervision of sessions, token index, sweep (SCENARIOS 47/48/55), restore (45),
// kill switch (one / all / shutdown, 53/54/56).
#define CAF_SUITE relay_broker
#define FAIL(msg) CAF_FAIL(msg)  // CAF 0.17.6 DSL bug workaround (before dsl.hpp)
#include "caf/test/dsl.hpp"

#include "relay_fixture.hpp"

using namespace rc_test;
using rc::proto::route;

namespace {

struct broker_fixture : relay_fixture {
  using relay_fixture::relay_fixture;
  /// Sends a request to the broker and returns its (already delivered) reply.
  template <class T, class... Ts>
  T ask(Ts... xs) {
    auto h = self->request(broker, caf::infinite, xs...);
    drain();
    T out{};
    bool got = false;
    h.receive(
        [&](T& x) {
          out = std::move(x);
          got = true;
        },
        [&](caf::error& e) { CAF_FAIL("broker request failed: " << sys.render(e)); });
    CAF_CHECK(got);
    return out;
  }
  json describe() { return json::parse(ask<std::string>(describe_atom::value, uint64_t{100})); }
  void sweep() {
    self->send(broker, sweep_atom::value);
    drain();
  }
  std::size_t failures(auth_failure f) {
    return ctx->metrics.auth_failures[static_cast<std::size_t>(f)].load();
  }
};

}  // namespace

CAF_TEST_FIXTURE_SCOPE(broker_supervision, broker_fixture)

CAF_TEST(a session that ends is removed) {
  session_ids ids;
  auto s = start_session(ids);
  auto d = describe();
  CAF_CHECK_EQUAL(d.at("sessions").get<int>(), 1);
  CAF_CHECK_EQUAL(d.at("desktopTokens").get<int>(), 1);
  CAF_CHECK_EQUAL(str_of(d, "state"), "running");
  auto stop = api(route::pair_stop, desk_body(ids));
  CAF_CHECK_EQUAL(stop->status, 200);
  d = describe();
  CAF_CHECK_EQUAL(d.at("sessions").get<int>(), 0);
  CAF_CHECK_EQUAL(d.at("desktopTokens").get<int>(), 0);
  CAF_CHECK_EQUAL(ctx->metrics.sessions.load(), 0);
  CAF_CHECK_EQUAL(ctx->metrics.sessions_closed.load(), 1u);
  CAF_CHECK_EQUAL(val(api(route::pair_join, join_body(ids))->error()), "session_not_found");
  // A new pair/start for the same ID gets a fresh session actor.
  auto s2 = start_session(ids);
  CAF_CHECK_NOT_EQUAL(s, s2);
}

CAF_TEST(abnormal end restarts the session from the store) {
  session_ids ids, other;
  auto s = start_session(ids);
  auto d = connect(ids.desk);
  auto dev = pair_device(ids, d);
  auto m = connect(dev.token);  // rotation: current + grace token indexed
  auto od = start_with_desktop(other);
  auto odev = pair_device(other, od);
  auto before = describe();
  CAF_CHECK_EQUAL(before.at("sessions").get<int>(), 2);
  CAF_CHECK_EQUAL(before.at("desktopTokens").get<int>(), 2);
  CAF_CHECK_EQUAL(before.at("deviceTokens").get<int>(), 3);
  CAF_CHECK_EQUAL(ctx->metrics.device_tokens.load(), 3);
  self->send_exit(s, caf::exit_reason::kill);  // crash: no closed message
  drain();
  // The dying session told its sockets to reconnect and released its gauges ...
  CAF_CHECK_EQUAL(d.peer->disconnects.size(), 1u);
  CAF_CHECK_EQUAL(val(d.peer->disconnects.at(0)), "server_shutdown");
  CAF_CHECK_EQUAL(m.peer->disconnects.size(), 1u);
  // ... and the broker restarted it from its persisted record: same tokens work again.
  auto after = describe();
  CAF_CHECK_EQUAL(after.at("sessions").get<int>(), 2);
  CAF_CHECK_EQUAL(after.at("desktopTokens").get<int>(), 2);
  CAF_CHECK_EQUAL(ctx->metrics.sessions.load(), 2);
  CAF_CHECK_EQUAL(val(connect(ids.desk).peer->count("auth_ok")), 1u);
  CAF_CHECK_EQUAL(val(connect(dev.token).peer->count("auth_ok")), 1u);  // grace token still valid
  CAF_CHECK_EQUAL(failures(auth_failure::token_not_found), 0u);
  // The other session is untouched (SCENARIOS 54).
  CAF_CHECK_EQUAL(val(connect(odev.token).peer->count("auth_ok")), 1u);
  CAF_CHECK_EQUAL(val(connect(other.desk).peer->count("auth_ok")), 1u);
}

CAF_TEST(restore rebuilds the token index) {
  // SCENARIOS 45: current + unexpired grace token indexed; no sockets or pending join.
  persistence::session_record rec;
  session_ids ids;
  rec.session_id = ids.sid;
  rec.join_token = ids.join;
  rec.join_token_expires_at_ms = now() + 600000;
  rec.desktop_session_token = ids.desk;
  rec.relay_web_socket_url = "wss://relay.example/ws";
  rec.idle_timeout_seconds = 1800;
  rec.created_at_ms = rec.last_activity_at_ms = now() - 1000;
  persistence::device_record dev;
  dev.current_session_token = proto::random_token(proto::token_bytes);
  std::string grace = proto::random_token(proto::token_bytes);
  std::string expired = proto::random_token(proto::token_bytes);
  dev.retired_session_tokens = {{expired, now() - 1}, {grace, now() + 20000}};
  dev.name = "Restored";
  rec.devices["DEVICE-restored-1"] = dev;
  persistence::device_record dev2;
  dev2.current_session_token = proto::random_token(proto::token_bytes);
  rec.devices["DEVICE-restored-2"] = dev2;
  persistence::device_record dev3;
  dev3.current_session_token = proto::random_token(proto::token_bytes);
  rec.devices["DEVICE-restored-3"] = dev3;
  self->send(broker, restore_atom::value, rec, uint64_t{7});
  drain();
  auto d = describe();
  CAF_CHECK_EQUAL(d.at("sessions").get<int>(), 1);
  CAF_CHECK_EQUAL(d.at("desktopTokens").get<int>(), 1);
  CAF_REQUIRE_EQUAL(d.at("children").size(), 2u);  // ip limiter + session
  json session_view;
  for (auto& c : d["children"])
    if (str_of(c, "kind") == "session") session_view = c;
  CAF_CHECK_EQUAL(str_of(session_view, "desktopConnected"), "false");
  CAF_CHECK_EQUAL(str_of(session_view, "mobileSockets"), "0");
  CAF_CHECK_EQUAL(str_of(session_view, "pendingJoin"), "false");
  CAF_CHECK_EQUAL(str_of(session_view, "trustedDevices"), "3");
  CAF_CHECK_EQUAL(ctx->metrics.device_actors.load(), 3);
  // Desktop token maps to the session.
  auto desk = connect(ids.desk);
  CAF_CHECK_EQUAL(str_of(desk.peer->of_type("auth_ok").at(0), "connectedDeviceCount"), "0");
  // Grace token maps to the device and rotates again.
  auto m = connect(grace);
  auto ok = m.peer->of_type("auth_ok");
  CAF_REQUIRE_EQUAL(ok.size(), 1u);
  CAF_CHECK_EQUAL(str_of(ok[0], "deviceID"), "DEVICE-restored-1");
  // The expired grace token is not accepted.
  CAF_CHECK_EQUAL(val(connect(expired).peer->policy_rejects), 1);
  // Device cap at auth counts live sockets (cap 2, three trusted devices).
  CAF_CHECK_EQUAL(val(connect(dev2.current_session_token).peer->count("auth_ok")), 1u);
  auto third = connect(dev3.current_session_token);
  CAF_CHECK_EQUAL(third.peer->count("auth_ok"), 0u);
  CAF_CHECK_EQUAL(third.peer->drops, 1);
  CAF_CHECK_EQUAL(failures(auth_failure::device_cap_reached), 1u);
  // Versions continue from the restored one.
  CAF_CHECK(mem->load(ids.sid).version > 7u);
}

CAF_TEST_FIXTURE_SCOPE_END()

CAF_TEST_FIXTURE_SCOPE(broker_sweep, broker_fixture)

CAF_TEST(sweep closes an idle session without devices) {
  // SCENARIOS 48.
  session_ids ids;
  auto body = start_body(ids);
  body["idleTimeoutSeconds"] = 60;
  CAF_REQUIRE_EQUAL(val(api(route::pair_start, body)->status), 200);
  advance(59999);
  sweep();
  CAF_CHECK_EQUAL(describe().at("sessions").get<int>(), 1);
  advance(1);
  sweep();
  CAF_CHECK_EQUAL(describe().at("sessions").get<int>(), 0);
  CAF_CHECK_EQUAL(ctx->metrics.sessions_closed.load(), 1u);
  CAF_CHECK(stored_absent(ids.sid));
  CAF_CHECK_EQUAL(val(connect(ids.desk).peer->policy_rejects), 1);
}

CAF_TEST(sweep closes a session past retention) {
  session_ids ids;
  api(route::pair_start, start_body(ids));  // idle 1800 s > retention 600 s
  advance(599999);
  sweep();
  CAF_CHECK_EQUAL(describe().at("sessions").get<int>(), 1);
  advance(1);
  sweep();
  CAF_CHECK_EQUAL(describe().at("sessions").get<int>(), 0);
}

CAF_TEST(sweep keeps an idle session with a trusted device) {
  // SCENARIOS 47: idle and retention both exceeded, no sockets, one trusted device.
  session_ids ids;
  auto body = start_body(ids);
  body["idleTimeoutSeconds"] = 60;
  api(route::pair_start, body);
  auto d = connect(ids.desk);
  pair_device(ids, d);
  close_socket(d);
  advance(3600000);
  sweep();
  CAF_CHECK_EQUAL(describe().at("sessions").get<int>(), 1);
  CAF_CHECK_EQUAL(val(connect(ids.desk).peer->count("auth_ok")), 1u);
}

CAF_TEST(sweep deletes a trusted session abandoned for TRUSTED_SESSION_IDLE_MS) {
  // Issue 10 item 8: trusted devices kept a session forever, so one IP within the pairing
  // budget could fill MAX_SESSIONS for good. Default bound: 30 days without activity.
  const int64_t day = 86400000;
  CAF_REQUIRE_EQUAL(ctx->cfg.trusted_session_idle_ms, static_cast<uint64_t>(30 * day));
  session_ids ids;
  auto d = start_with_desktop(ids);
  auto dev = pair_device(ids, d);
  close_socket(d);
  advance(29 * day);
  sweep();
  CAF_CHECK_EQUAL(describe().at("sessions").get<int>(), 1);
  // The phone comes back on day 29: the 30 days count from its last activity.
  auto m = connect(dev.token);
  CAF_REQUIRE_EQUAL(m.peer->count("auth_ok"), 1u);
  auto rotated = str_of(m.peer->of_type("auth_ok").at(0), "nextDeviceSessionToken");
  CAF_REQUIRE_EQUAL(rotated.size(), 43u);
  close_socket(m);
  advance(29 * day);
  sweep();
  CAF_CHECK_EQUAL(describe().at("sessions").get<int>(), 1);
  advance(day + 1000);
  sweep();
  CAF_CHECK_EQUAL(describe().at("sessions").get<int>(), 0);
  CAF_CHECK(stored_absent(ids.sid));
  CAF_CHECK_EQUAL(
      val(ctx->metrics.session_closes[static_cast<std::size_t>(proto::close_reason::idle_timeout)]
              .load()),
      1u);
  CAF_CHECK_EQUAL(val(connect(ids.desk).peer->policy_rejects), 1);
  CAF_CHECK_EQUAL(val(connect(rotated).peer->policy_rejects), 1);
}

CAF_TEST(sweep keeps a session with a connected desktop) {
  session_ids ids;
  auto body = start_body(ids);
  body["idleTimeoutSeconds"] = 60;
  api(route::pair_start, body);
  auto d = connect(ids.desk);
  advance(3600000);
  sweep();
  CAF_CHECK_EQUAL(describe().at("sessions").get<int>(), 1);
  CAF_CHECK(d.peer->disconnects.empty());
}

CAF_TEST(sweep prunes expired grace tokens) {
  // SCENARIOS 55.
  session_ids ids;
  auto d = start_with_desktop(ids);
  auto dev = pair_device(ids, d);
  auto m = connect(dev.token);
  CAF_CHECK_EQUAL(describe().at("deviceTokens").get<int>(), 2);
  advance(29999);
  sweep();
  CAF_CHECK_EQUAL(describe().at("deviceTokens").get<int>(), 2);
  {
    auto rec_ = stored(ids.sid);
    CAF_CHECK_EQUAL(rec_.devices.at(dev.device_id).retired_session_tokens.size(), 1u);
  }
  advance(1);
  sweep();
  CAF_CHECK_EQUAL(describe().at("deviceTokens").get<int>(), 1);
  CAF_CHECK_EQUAL(ctx->metrics.device_tokens.load(), 1);
  {
    auto rec_ = stored(ids.sid);
    CAF_CHECK(rec_.devices.at(dev.device_id).retired_session_tokens.empty());
  }
  CAF_CHECK_EQUAL(val(connect(dev.token).peer->policy_rejects), 1);
  CAF_CHECK(m.peer->disconnects.empty());
}

CAF_TEST_FIXTURE_SCOPE_END()

CAF_TEST_FIXTURE_SCOPE(broker_kill_switch, broker_fixture)

CAF_TEST(kill one session) {
  session_ids a, b;
  auto da = start_with_desktop(a);
  auto dev = pair_device(a, da);
  auto ma = connect(dev.token);
  auto db = start_with_desktop(b);
  CAF_CHECK(ask<bool>(kill_atom::value, a.sid, proto::close_reason::session_expired));
  CAF_CHECK_EQUAL(da.peer->last_disconnect(), "session_expired");
  CAF_CHECK_EQUAL(ma.peer->last_disconnect(), "session_expired");
  CAF_CHECK(db.peer->disconnects.empty());
  CAF_CHECK_EQUAL(describe().at("sessions").get<int>(), 1);
  CAF_CHECK(stored_absent(a.sid));
  CAF_CHECK(mem->load(b.sid).record.has_value());
  CAF_CHECK_EQUAL(val(connect(a.desk).peer->policy_rejects), 1);
  CAF_CHECK_EQUAL(ctx->metrics.active_websockets.load(), 1);
  CAF_CHECK(!ask<bool>(kill_atom::value, a.sid, proto::close_reason::session_expired));
  CAF_CHECK(!ask<bool>(kill_atom::value, std::string("SESSION-never-existed"),
                       proto::close_reason::session_expired));
}

CAF_TEST(kill one session fails its pending join) {
  session_ids a;
  auto da = start_with_desktop(a);
  auto join = api(route::pair_join, join_body(a));
  CAF_CHECK(ask<bool>(kill_atom::value, a.sid, proto::close_reason::session_expired));
  CAF_CHECK_EQUAL(join->status, 409);
  CAF_CHECK_EQUAL(join->error(), "desktop_not_connected");
  CAF_CHECK_EQUAL(ctx->metrics.pending_join_waiters.load(), 0);
}

CAF_TEST(killall) {
  session_ids a, b;
  auto da = start_with_desktop(a);
  auto db = start_with_desktop(b);
  auto dev = pair_device(b, db);
  auto mb = connect(dev.token);
  CAF_CHECK_EQUAL(mem->size(), 2u);
  CAF_CHECK_EQUAL(ask<uint64_t>(killall_atom::value, proto::close_reason::session_expired, true),
                  2u);
  CAF_CHECK_EQUAL(da.peer->last_disconnect(), "session_expired");
  CAF_CHECK_EQUAL(db.peer->last_disconnect(), "session_expired");
  CAF_CHECK_EQUAL(mb.peer->last_disconnect(), "session_expired");
  auto d = describe();
  CAF_CHECK_EQUAL(d.at("sessions").get<int>(), 0);
  CAF_CHECK_EQUAL(d.at("desktopTokens").get<int>(), 0);
  CAF_CHECK_EQUAL(d.at("deviceTokens").get<int>(), 0);
  CAF_CHECK_EQUAL(mem->size(), 0u);  // records deleted
  CAF_CHECK_EQUAL(ctx->metrics.sessions.load(), 0);
  CAF_CHECK_EQUAL(ctx->metrics.active_websockets.load(), 0);
  // The relay keeps serving.
  session_ids c;
  CAF_CHECK_EQUAL(val(api(route::pair_start, start_body(c))->status), 200);
}

CAF_TEST(shutdown uses server_shutdown and keeps records) {
  session_ids a, b;
  auto da = start_with_desktop(a);
  auto dev = pair_device(a, da);
  auto ma = connect(dev.token);
  api(route::pair_start, start_body(b));
  auto rec_before = mem->load(a.sid).record;
  CAF_REQUIRE(rec_before.has_value());
  CAF_CHECK_EQUAL(ask<uint64_t>(shutdown_atom::value), 2u);
  CAF_CHECK_EQUAL(da.peer->last_disconnect(), "server_shutdown");
  CAF_CHECK_EQUAL(ma.peer->last_disconnect(), "server_shutdown");
  // SCENARIOS 56: sessions and both token indexes drained.
  auto d = describe();
  CAF_CHECK_EQUAL(str_of(d, "state"), "shutting_down");
  CAF_CHECK_EQUAL(d.at("sessions").get<int>(), 0);
  CAF_CHECK_EQUAL(d.at("desktopTokens").get<int>(), 0);
  CAF_CHECK_EQUAL(d.at("deviceTokens").get<int>(), 0);
  // Persisted records survive for the next start.
  CAF_CHECK_EQUAL(mem->size(), 2u);
  auto rec_after = mem->load(a.sid).record;
  CAF_REQUIRE(rec_after.has_value());
  CAF_CHECK_EQUAL(rec_after->devices.size(), 1u);
  CAF_CHECK_EQUAL(rec_after->desktop_session_token, a.desk);
  // New work is refused.
  auto r = api(route::pair_start, start_body(a));
  CAF_CHECK_EQUAL(r->status, 503);
  CAF_CHECK_EQUAL(r->error(), "server_shutdown");
  auto late = connect(a.desk);
  CAF_CHECK_EQUAL(late.peer->last_disconnect(), "relay_over_capacity");
  CAF_CHECK_EQUAL(failures(auth_failure::relay_over_capacity), 1u);
}

CAF_TEST_FIXTURE_SCOPE_END()

struct one_session {
  static void apply(settings::relay_config& c) { c.max_sessions = 1; }
};
using one_session_fixture = with_config<broker_fixture, one_session>;

CAF_TEST_FIXTURE_SCOPE(broker_capacity, one_session_fixture)

CAF_TEST(session capacity) {
  session_ids a, b;
  CAF_CHECK_EQUAL(val(api(route::pair_start, start_body(a))->status), 200);
  auto r = api(route::pair_start, start_body(b));
  CAF_CHECK_EQUAL(r->status, 503);
  CAF_CHECK_EQUAL(r->error(), "relay_at_capacity");
  CAF_CHECK_EQUAL(val(api(route::pair_start, start_body(a))->status), 200);  // replacement is fine
}

CAF_TEST_FIXTURE_SCOPE_END()

struct sweep_30s {
  static void apply(settings::relay_config& c) { c.sweep_interval_ms = 30000; }
};
using sweep_30s_fixture = with_config<broker_fixture, sweep_30s>;

CAF_TEST_FIXTURE_SCOPE(broker_periodic_sweep, sweep_30s_fixture)

CAF_TEST(periodic sweep is scheduled by the broker) {
  // The first sweep was scheduled with the 30 s interval when the broker was spawned.
  session_ids ids;
  auto body = start_body(ids);
  body["idleTimeoutSeconds"] = 60;
  api(route::pair_start, body);
  advance(30000);  // sweep at 30 s: idle for 30 s only
  CAF_CHECK_EQUAL(describe().at("sessions").get<int>(), 1);
  advance(30000);  // sweep at 60 s: idle 60 s → closed
  CAF_CHECK_EQUAL(describe().at("sessions").get<int>(), 0);
}

CAF_TEST_FIXTURE_SCOPE_END()

struct trusted_forever {
  static void apply(settings::relay_config& c) { c.trusted_session_idle_ms = 0; }
};

using trusted_forever_fixture = with_config<broker_fixture, trusted_forever>;

CAF_TEST_FIXTURE_SCOPE(broker_sweep_trusted_forever, trusted_forever_fixture)

CAF_TEST(TRUSTED_SESSION_IDLE_MS 0 keeps trusted sessions forever) {
  session_ids ids;
  auto d = start_with_desktop(ids);
  pair_device(ids, d);
  close_socket(d);
  advance(400ll * 86400000);
  sweep();
  CAF_CHECK_EQUAL(describe().at("sessions").get<int>(), 1);
  CAF_CHECK_EQUAL(val(connect(ids.desk).peer->count("auth_ok")), 1u);
}

CAF_TEST_FIXTURE_SCOPE_END()
