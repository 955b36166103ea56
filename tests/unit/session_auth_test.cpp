// Session actor, websocket side (session_auth.cpp): token rotation, origin and device caps,
// revoke and stop, slow consumers. Driven like session_test.cpp (real conn_handlers on fake
// peers, virtual time).
#define CAF_SUITE relay_session_auth
#define FAIL(msg) CAF_FAIL(msg)  // CAF 0.17.6 DSL bug workaround (before dsl.hpp)
#include "caf/test/dsl.hpp"

#include "relay_fixture.hpp"

using namespace rc_test;
using rc::proto::route;

namespace {
std::size_t failures(const context_ptr& ctx, auth_failure f) {
  return ctx->metrics.auth_failures[static_cast<std::size_t>(f)].load();
}
}  // namespace

CAF_TEST_FIXTURE_SCOPE(session_tokens, relay_fixture)

CAF_TEST(token rotation with grace) {
  session_ids ids;
  auto d = start_with_desktop(ids);
  auto dev = pair_device(ids, d);
  auto m1 = connect(dev.token);
  auto ok = m1.peer->of_type("auth_ok");
  CAF_REQUIRE_EQUAL(ok.size(), 1u);
  CAF_CHECK_EQUAL(str_of(ok[0], "role"), "mobile");
  CAF_CHECK_EQUAL(str_of(ok[0], "deviceID"), dev.device_id);
  CAF_CHECK_EQUAL(str_of(ok[0], "desktopConnected"), "true");
  CAF_CHECK_EQUAL(str_of(ok[0], "connectedDeviceCount"), "1");
  auto t1 = str_of(ok[0], "nextDeviceSessionToken");
  CAF_CHECK_EQUAL(t1.size(), 43u);
  CAF_CHECK_NOT_EQUAL(t1, dev.token);
  // No desktop_status right after auth_ok; desktop gets device_count.
  CAF_CHECK_EQUAL(m1.peer->frames.size(), 1u);
  CAF_CHECK_EQUAL(str_of(d.peer->of_type("relay.device_count").back(), "connectedDeviceCount"),
                  "1");
  // Persisted before auth_ok: current = t1, old token is a grace token.
  auto rec = mem->load(ids.sid).record;
  auto& dr = rec->devices.at(dev.device_id);
  CAF_CHECK_EQUAL(dr.current_session_token, t1);
  CAF_REQUIRE_EQUAL(dr.retired_session_tokens.size(), 1u);
  CAF_CHECK_EQUAL(dr.retired_session_tokens[0].token, dev.token);
  CAF_CHECK_EQUAL(dr.retired_session_tokens[0].expires_at_ms, t0_ms + 30000);
  // Within the grace window the old token still works (same device: old socket replaced).
  advance(29999);
  auto m2 = connect(dev.token);
  CAF_REQUIRE_EQUAL(m2.peer->count("auth_ok"), 1u);
  CAF_CHECK_EQUAL(m1.peer->last_disconnect(), "device_reconnected");
  auto t2 = str_of(m2.peer->of_type("auth_ok")[0], "nextDeviceSessionToken");
  CAF_CHECK_NOT_EQUAL(t2, t1);
  // After the grace window the original token is dead (policy close), t1 is still in grace.
  advance(2);
  auto dead = connect(dev.token);
  CAF_CHECK_EQUAL(dead.peer->policy_rejects, 1);
  CAF_CHECK_EQUAL(dead.peer->count("auth_ok"), 0u);
  CAF_CHECK_EQUAL(failures(ctx, auth_failure::token_not_found), 1u);
  // The stale token counts against the phone's address (WS_AUTH_FAILURES_PER_IP).
  CAF_CHECK(ctx->io->auth_failures.blocked(dead.peer->ip, 1, ctx->cfg.ws_auth_failure_window()));
  CAF_CHECK_EQUAL(ctx->io->auth_failures.addresses(), 1u);
  auto m3 = connect(t1);
  CAF_CHECK_EQUAL(m3.peer->count("auth_ok"), 1u);
  CAF_CHECK_EQUAL(m2.peer->last_disconnect(), "device_reconnected");
  CAF_CHECK_EQUAL(ctx->metrics.active_websockets.load(), 2);  // desktop + one mobile
}

CAF_TEST(mobile origin is checked) {
  session_ids ids;
  auto d = start_with_desktop(ids);
  auto dev = pair_device(ids, d);
  auto p = std::make_shared<fake_peer>();
  p->has_origin_ = false;
  auto m = connect(dev.token, p);
  CAF_CHECK_EQUAL(p->drops, 1);
  CAF_CHECK_EQUAL(p->count("auth_ok"), 0u);
  CAF_CHECK_EQUAL(failures(ctx, auth_failure::mobile_origin_not_allowed), 1u);
  auto evil = std::make_shared<fake_peer>();
  evil->origin_ = "https://evil.example";
  connect(dev.token, evil);
  CAF_CHECK_EQUAL(evil->drops, 1);
  // A valid token from a disallowed origin is not a guess: not counted against the address.
  CAF_CHECK_EQUAL(ctx->io->auth_failures.addresses(), 0u);
  // The token was not rotated by the refused attempts.
  {
    auto rec_ = stored(ids.sid);
    CAF_CHECK_EQUAL(rec_.devices.at(dev.device_id).current_session_token, dev.token);
  }
}

CAF_TEST(device cap at auth counts live sockets) {
  session_ids ids;
  auto d = start_with_desktop(ids);
  auto a = pair_device(ids, d);
  api(route::pair_refresh, json{{"sessionID", ids.sid},
                                {"joinToken", ids.join},
                                {"desktopSessionToken", ids.desk},
                                {"joinTokenExpiresAt", proto::format_rfc3339_ms(now() + 600000)}});
  auto b = pair_device(ids, d);
  // The node restarts with a smaller cap: both devices stay trusted, one may be connected.
  restart_relay([](settings::relay_config& c) { c.max_devices_per_session = 1; });
  auto ma = connect(a.token);
  CAF_CHECK_EQUAL(ma.peer->count("auth_ok"), 1u);
  auto mb = connect(b.token);
  CAF_CHECK_EQUAL(mb.peer->count("auth_ok"), 0u);
  CAF_CHECK_EQUAL(mb.peer->drops, 1);
  CAF_CHECK(mb.peer->disconnects.empty());
  CAF_CHECK_EQUAL(failures(ctx, auth_failure::device_cap_reached), 1u);
  // Rejected before rotation: b's token is unchanged and works once a slot frees up.
  {
    auto rec_ = stored(ids.sid);
    CAF_CHECK_EQUAL(rec_.devices.at(b.device_id).current_session_token, b.token);
  }
  close_socket(ma);
  CAF_CHECK_EQUAL(val(connect(b.token).peer->count("auth_ok")), 1u);
}

CAF_TEST(revoke disconnects the device socket and stops its device actor) {
  // The real path of the former device `kick` handler (dead code, only a test sent it).
  session_ids ids;
  auto d = start_with_desktop(ids);
  auto dev = pair_device(ids, d);
  auto m = connect(dev.token);
  CAF_CHECK_EQUAL(ctx->metrics.device_actors.load(), 1);
  auto rv = desk_body(ids);
  rv["deviceID"] = dev.device_id;
  CAF_CHECK_EQUAL(val(api(route::devices_revoke, rv)->status), 200);
  CAF_CHECK_EQUAL(m.peer->last_disconnect(), "device_revoked");
  CAF_CHECK_EQUAL(ctx->metrics.device_actors.load(), 0);
  // A frame still arriving on the revoked socket reaches nobody.
  auto frames = d.peer->frames.size();
  m.peer->stopped = false;
  send_text(m, command(ids.sid, 1).dump());
  CAF_CHECK_EQUAL(d.peer->frames.size(), frames);
}

CAF_TEST(revoke and stop) {
  session_ids ids;
  auto d = start_with_desktop(ids);
  auto dev = pair_device(ids, d);
  auto m = connect(dev.token);
  auto rotated = str_of(m.peer->of_type("auth_ok").at(0), "nextDeviceSessionToken");
  auto bad = desk_body(ids);
  bad["deviceID"] = "UNKNOWN-device-id";
  CAF_CHECK_EQUAL(val(api(route::devices_revoke, bad)->error()), "device_not_found");
  auto rv = desk_body(ids);
  rv["deviceID"] = dev.device_id;
  auto wrong = rv;
  wrong["desktopSessionToken"] = proto::random_token(proto::token_bytes);
  CAF_CHECK_EQUAL(val(api(route::devices_revoke, wrong)->error()), "invalid_desktop_session_token");
  auto r = api(route::devices_revoke, rv);
  CAF_CHECK_EQUAL(r->status, 200);
  CAF_CHECK_EQUAL(str_of(r->j(), "deviceID"), dev.device_id);
  CAF_CHECK_EQUAL(m.peer->last_disconnect(), "device_revoked");
  CAF_CHECK_EQUAL(str_of(d.peer->of_type("relay.device_count").back(), "connectedDeviceCount"),
                  "0");
  CAF_CHECK_EQUAL(val(connect(rotated).peer->policy_rejects), 1);
  CAF_CHECK_EQUAL(val(connect(dev.token).peer->policy_rejects), 1);  // grace token removed too
  {
    auto rec_ = stored(ids.sid);
    CAF_CHECK(rec_.devices.empty());
  }
  // Stop: every socket told stopped_by_desktop; record deleted; tokens dead.
  auto s = api(route::pair_stop, desk_body(ids));
  CAF_CHECK_EQUAL(s->status, 200);
  CAF_CHECK_EQUAL(d.peer->last_disconnect(), "stopped_by_desktop");
  CAF_CHECK(stored_absent(ids.sid));
  CAF_CHECK_EQUAL(val(connect(ids.desk).peer->policy_rejects), 1);
  CAF_CHECK_EQUAL(val(api(route::pair_join, join_body(ids))->status), 404);
  CAF_CHECK_EQUAL(ctx->metrics.sessions.load(), 0);
  CAF_CHECK_EQUAL(ctx->metrics.active_websockets.load(), 0);
  CAF_CHECK_EQUAL(ctx->metrics.device_tokens.load(), 0);
}

CAF_TEST_FIXTURE_SCOPE_END()

CAF_TEST_FIXTURE_SCOPE(session_backpressure, relay_fixture)

CAF_TEST(slow mobile consumer is disconnected) {
  // SCENARIOS 52/53: full queue → send fails, earlier frames kept, disconnect slow_consumer.
  session_ids ids;
  auto d = start_with_desktop(ids);
  auto dev = pair_device(ids, d);
  auto mp = std::make_shared<fake_peer>();
  mp->capacity = 3;
  auto m = connect(dev.token, mp);
  CAF_REQUIRE_EQUAL(mp->frames.size(), 1u);  // auth_ok
  send_text(d, "frame-1");
  send_text(d, "frame-2");
  CAF_CHECK_EQUAL(mp->frames.size(), 3u);
  CAF_CHECK(mp->disconnects.empty());
  send_text(d, "frame-3");  // queue full
  CAF_CHECK_EQUAL(mp->failed_sends, 1);
  CAF_CHECK_EQUAL(mp->frames.size(), 3u);
  CAF_CHECK_EQUAL(mp->frames[1], "frame-1");
  CAF_CHECK_EQUAL(mp->frames[2], "frame-2");
  CAF_CHECK_EQUAL(mp->last_disconnect(), "slow_consumer");
  CAF_CHECK_EQUAL(ctx->io->slow_consumer_disconnects.load(), 1u);
  CAF_CHECK_EQUAL(str_of(d.peer->of_type("relay.device_count").back(), "connectedDeviceCount"),
                  "0");
  CAF_CHECK_EQUAL(ctx->metrics.active_websockets.load(), 1);
  CAF_CHECK_EQUAL(ctx->metrics.sessions_with_mobile.load(), 0);
  // Later desktop frames are not sent to the removed socket.
  send_text(d, "frame-4");
  CAF_CHECK_EQUAL(mp->failed_sends, 1);
  // The device stays trusted and can reconnect.
  auto t1 = str_of(mp->of_type("auth_ok").at(0), "nextDeviceSessionToken");
  CAF_CHECK_EQUAL(val(connect(t1).peer->count("auth_ok")), 1u);
}

CAF_TEST(slow desktop consumer is disconnected) {
  session_ids ids;
  auto dp = std::make_shared<fake_peer>();
  api(route::pair_start, start_body(ids));
  auto d = connect(ids.desk, dp);
  auto dev = pair_device(ids, d);
  auto m = connect(dev.token);
  dp->capacity = dp->frames.size();  // desktop queue now full
  send_text(m, relay_fixture::command(ids.sid, 1).dump());
  CAF_CHECK_EQUAL(dp->last_disconnect(), "slow_consumer");
  CAF_CHECK_EQUAL(ctx->io->slow_consumer_disconnects.load(), 1u);
  auto st = m.peer->of_type("relay.desktop_status");
  CAF_REQUIRE_EQUAL(st.size(), 1u);
  CAF_CHECK_EQUAL(str_of(st[0], "desktopConnected"), "false");
  CAF_CHECK_EQUAL(ctx->metrics.sessions_with_desktop.load(), 0);
  send_text(m, relay_fixture::command(ids.sid, 2).dump());
  CAF_CHECK_EQUAL(str_of(m.peer->last(), "error"), "desktop_offline");
}

CAF_TEST(pair request to a full desktop queue) {
  session_ids ids;
  auto dp = std::make_shared<fake_peer>();
  dp->capacity = 1;  // room for auth_ok only
  api(route::pair_start, start_body(ids));
  auto d = connect(ids.desk, dp);
  CAF_REQUIRE_EQUAL(dp->count("auth_ok"), 1u);
  auto join = api(route::pair_join, join_body(ids));
  CAF_CHECK_EQUAL(join->status, 409);
  CAF_CHECK_EQUAL(join->error(), "desktop_not_connected");
  CAF_CHECK_EQUAL(dp->last_disconnect(), "slow_consumer");
  CAF_CHECK_EQUAL(ctx->io->slow_consumer_disconnects.load(), 1u);
  CAF_CHECK_EQUAL(ctx->metrics.pending_join_waiters.load(), 0);
  CAF_CHECK_EQUAL(ctx->metrics.sessions_with_desktop.load(), 0);
}

CAF_TEST_FIXTURE_SCOPE_END()

struct zero_grace {
  static void apply(settings::relay_config& c) { c.token_rotation_grace_ms = 0; }
};
using zero_grace_fixture = with_config<relay_fixture, zero_grace>;

CAF_TEST_FIXTURE_SCOPE(session_tokens_zero_grace, zero_grace_fixture)

CAF_TEST(token rotation with zero grace invalidates immediately) {
  session_ids ids;
  auto d = start_with_desktop(ids);
  auto dev = pair_device(ids, d);
  auto m1 = connect(dev.token);
  auto t1 = str_of(m1.peer->of_type("auth_ok").at(0), "nextDeviceSessionToken");
  {
    auto rec_ = stored(ids.sid);
    CAF_CHECK(rec_.devices.at(dev.device_id).retired_session_tokens.empty());
  }
  auto again = connect(dev.token);
  CAF_CHECK_EQUAL(again.peer->policy_rejects, 1);
  CAF_CHECK_EQUAL(failures(ctx, auth_failure::token_not_found), 1u);
  CAF_CHECK(m1.peer->disconnects.empty());  // the live socket is unaffected
  CAF_CHECK_EQUAL(val(connect(t1).peer->count("auth_ok")), 1u);
}

CAF_TEST_FIXTURE_SCOPE_END()
