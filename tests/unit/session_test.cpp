// Session actor through the broker, driven like the gateway drives it: api_call via the per-IP
// limiter, websockets through real conn_handlers on fake peers (auth_request, desktop_msg,
// decide, mobile_msg, detach). Virtual time plus the context's replaceable wall clock.
#define CAF_SUITE relay_session
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

CAF_TEST_FIXTURE_SCOPE(session_lifecycle, relay_fixture)

CAF_TEST(pair start returns the documented json shape) {
  session_ids ids;
  auto r = api(route::pair_start, start_body(ids));
  CAF_CHECK_EQUAL(r->calls, 1);
  CAF_CHECK_EQUAL(r->status, 200);
  CAF_CHECK_EQUAL(r->content_type, "application/json");
  auto j = r->j();
  CAF_CHECK_EQUAL(j.size(), 3u);
  CAF_CHECK(j.value("accepted", false));
  CAF_CHECK_EQUAL(str_of(j, "sessionID"), ids.sid);
  CAF_CHECK_EQUAL(str_of(j, "wsURL"), "wss://relay.example/ws");  // from PUBLIC_BASE_URL
  CAF_CHECK_EQUAL(ctx->metrics.pair_start_successes.load(), 1u);
  CAF_CHECK_EQUAL(ctx->metrics.sessions.load(), 1);
  // Persisted.
  auto rec = mem->load(ids.sid);
  CAF_REQUIRE(rec.record.has_value());
  CAF_CHECK_EQUAL(rec.record->desktop_session_token, ids.desk);
  CAF_CHECK_EQUAL(rec.record->join_token, ids.join);
  CAF_CHECK_EQUAL(rec.record->idle_timeout_seconds, 1800u);
  CAF_CHECK_EQUAL(rec.record->created_at_ms, t0_ms);
  CAF_CHECK(rec.record->devices.empty());
  // relayWebSocketURL normalised; idle timeout clamped.
  session_ids b;
  auto body = start_body(b);
  body["relayWebSocketURL"] = "WS://LocalHost:9000/?q=1#x";
  body["idleTimeoutSeconds"] = 5;
  auto r2 = api(route::pair_start, body);
  CAF_CHECK_EQUAL(str_of(r2->j(), "wsURL"), "ws://localhost:9000/ws");
  {
    auto rec_ = stored(b.sid);
    CAF_CHECK_EQUAL(rec_.idle_timeout_seconds, 60u);
  }
  session_ids c;
  body = start_body(c);
  body["relayWebSocketURL"] = "https://not-a-ws-url/";
  body["idleTimeoutSeconds"] = 10000000;
  auto r3 = api(route::pair_start, body);
  CAF_CHECK_EQUAL(str_of(r3->j(), "wsURL"), "wss://relay.example/ws");
  {
    auto rec_ = stored(c.sid);
    CAF_CHECK_EQUAL(rec_.idle_timeout_seconds, 86400u);
  }
}

CAF_TEST(pair start prechecks) {
  session_ids ids;
  auto bad = start_body(ids);
  bad["joinToken"] = "short";
  auto r = api(route::pair_start, bad);
  CAF_CHECK_EQUAL(r->status, 400);
  CAF_CHECK_EQUAL(r->error(), "invalid_pair_start");
  auto past = start_body(ids, -1);
  r = api(route::pair_start, past);
  CAF_CHECK_EQUAL(r->status, 400);
  CAF_CHECK_EQUAL(r->error(), "expired_join_token");
  auto now_exp = start_body(ids, 0);  // expiry == now is not in the future
  CAF_CHECK_EQUAL(val(api(route::pair_start, now_exp)->error()), "expired_join_token");
  auto garbage = start_body(ids);
  garbage["joinTokenExpiresAt"] = "tomorrow";
  r = api(route::pair_start, garbage);
  CAF_CHECK_EQUAL(r->status, 400);
  CAF_CHECK_EQUAL(str_of(r->j(), "message"),
                  "joinTokenExpiresAt must be a valid RFC3339 timestamp.");
  CAF_CHECK_EQUAL(ctx->metrics.sessions.load(), 0);
  // Unknown session: join/refresh/list → 404, stop → 200.
  CAF_CHECK_EQUAL(val(api(route::pair_join, join_body(ids))->status), 404);
  CAF_CHECK_EQUAL(val(api(route::devices_list, desk_body(ids))->error()), "session_not_found");
  auto stop = api(route::pair_stop, desk_body(ids));
  CAF_CHECK_EQUAL(stop->status, 200);
  CAF_CHECK_EQUAL(str_of(stop->j(), "sessionID"), ids.sid);
}

CAF_TEST(desktop auth and forwarding) {
  session_ids ids;
  auto d = start_with_desktop(ids);
  CAF_CHECK(d.peer->authenticated);
  auto ok = d.peer->of_type("auth_ok").at(0);
  CAF_CHECK_EQUAL(str_of(ok, "role"), "desktop");
  CAF_CHECK_EQUAL(str_of(ok, "sessionID"), ids.sid);
  CAF_CHECK_EQUAL(str_of(ok, "connectedDeviceCount"), "0");
  CAF_CHECK_EQUAL(str_of(ok, "desktopConnected"), "true");
  CAF_CHECK_EQUAL(str_of(ok, "deviceID"), "<absent>");
  CAF_CHECK_EQUAL(ctx->metrics.ws_auth_successes.load(), 1u);
  CAF_CHECK_EQUAL(ctx->metrics.active_websockets.load(), 1);
  CAF_CHECK_EQUAL(ctx->metrics.sessions_with_desktop.load(), 1);
  auto dev = pair_device(ids, d);
  auto m = connect(dev.token);
  CAF_REQUIRE_EQUAL(m.peer->count("auth_ok"), 1u);
  // Desktop → mobile: byte-for-byte, any text.
  const std::string raw = "{ \"type\" : \"event\",  \"x\":[1, 2] }";
  send_text(d, raw);
  send_text(d, "plain text, not json");
  CAF_REQUIRE_EQUAL(m.peer->frames.size(), 3u);
  CAF_CHECK_EQUAL(m.peer->frames[1], raw);
  CAF_CHECK_EQUAL(m.peer->frames[2], "plain text, not json");
  // A desktop frame naming another session is dropped silently.
  send_text(d, json{{"type", "event"}, {"sessionID", "SESSION-other-000000"}}.dump());
  CAF_CHECK_EQUAL(m.peer->frames.size(), 3u);
  // Mobile → desktop with injected metadata.
  send_text(m, relay_fixture::command(ids.sid, 1).dump());
  auto fwd = d.peer->last();
  CAF_CHECK_EQUAL(str_of(fwd, "relayConnectionID"), m.conn_id());
  CAF_CHECK_EQUAL(str_of(fwd, "relayDeviceID"), dev.device_id);
  CAF_CHECK_EQUAL(ctx->metrics.sessions_with_mobile.load(), 1);
  CAF_CHECK_EQUAL(ctx->metrics.active_websockets.load(), 2);
}

CAF_TEST(desktop reconnect replaces the old socket) {
  session_ids ids;
  auto d1 = start_with_desktop(ids);
  auto dev = pair_device(ids, d1);
  auto m = connect(dev.token);
  auto d2 = connect(ids.desk);
  CAF_CHECK_EQUAL(d1.peer->last_disconnect(), "desktop_reconnected");
  CAF_CHECK_EQUAL(str_of(d2.peer->of_type("auth_ok").at(0), "connectedDeviceCount"), "1");
  auto st = m.peer->of_type("relay.desktop_status");
  CAF_REQUIRE_EQUAL(st.size(), 1u);
  CAF_CHECK_EQUAL(str_of(st[0], "desktopConnected"), "true");
  CAF_CHECK_EQUAL(ctx->metrics.active_websockets.load(), 2);
  // The old socket's close must not clear the new slot (§16.3 fix).
  close_socket(d1);
  CAF_CHECK_EQUAL(m.peer->count("relay.desktop_status"), 1u);
  send_text(m, relay_fixture::command(ids.sid, 1).dump());
  CAF_CHECK_EQUAL(str_of(d2.peer->last(), "relayDeviceID"), dev.device_id);
  // Now the real desktop goes away: mobiles told, later commands → desktop_offline.
  close_socket(d2);
  auto st2 = m.peer->of_type("relay.desktop_status");
  CAF_REQUIRE_EQUAL(st2.size(), 2u);
  CAF_CHECK_EQUAL(str_of(st2[1], "desktopConnected"), "false");
  send_text(m, relay_fixture::command(ids.sid, 2).dump());
  CAF_CHECK_EQUAL(str_of(m.peer->last(), "error"), "desktop_offline");
  CAF_CHECK_EQUAL(ctx->metrics.sessions_with_desktop.load(), 0);
}

CAF_TEST(replace with the same token disconnects old sockets) {
  session_ids ids;
  auto d = start_with_desktop(ids);
  auto dev = pair_device(ids, d);
  auto m = connect(dev.token);
  auto rotated = str_of(m.peer->of_type("auth_ok").at(0), "nextDeviceSessionToken");
  session_ids again = ids;
  again.join = proto::random_token(proto::token_bytes);
  auto r = api(route::pair_start, start_body(again));
  CAF_CHECK_EQUAL(r->status, 200);
  CAF_CHECK_EQUAL(d.peer->last_disconnect(), "replaced_by_new_pair_start");
  CAF_CHECK_EQUAL(m.peer->last_disconnect(), "replaced_by_new_pair_start");
  CAF_CHECK_EQUAL(ctx->metrics.active_websockets.load(), 0);
  // Trusted devices and their tokens are gone.
  auto list = api(route::devices_list, desk_body(ids));
  CAF_CHECK_EQUAL(list->status, 200);
  CAF_CHECK_EQUAL(list->j().at("devices").size(), 0u);
  auto p1 = auth_direct(dev.token);
  auto p2 = auth_direct(rotated);
  CAF_CHECK_EQUAL(p1->policy_rejects, 1);
  CAF_CHECK_EQUAL(p2->policy_rejects, 1);
  CAF_CHECK_EQUAL(failures(ctx, auth_failure::token_not_found), 2u);
  // The desktop token is still valid for the replacement session.
  auto d2 = connect(ids.desk);
  CAF_CHECK_EQUAL(d2.peer->count("auth_ok"), 1u);
  {
    auto rec_ = stored(ids.sid);
    CAF_CHECK(rec_.devices.empty());
  }
  CAF_CHECK_EQUAL(ctx->metrics.sessions.load(), 1);
}

CAF_TEST(different token while active is refused) {
  session_ids ids;
  auto d = start_with_desktop(ids);
  session_ids other = ids;
  other.desk = proto::random_token(proto::token_bytes);
  auto r = api(route::pair_start, start_body(other));
  CAF_CHECK_EQUAL(r->status, 409);
  CAF_CHECK_EQUAL(r->error(), "session_already_active");
  CAF_CHECK_EQUAL(str_of(r->j(), "message"),
                  "sessionID is already active for another desktopSessionToken. Stop the active "
                  "session or use a new sessionID.");
  CAF_CHECK(d.peer->disconnects.empty());
  {
    auto rec_ = stored(ids.sid);
    CAF_CHECK_EQUAL(rec_.desktop_session_token, ids.desk);
  }
  // Without participants, a different token replaces the session.
  close_socket(d);
  auto r2 = api(route::pair_start, start_body(other));
  CAF_CHECK_EQUAL(r2->status, 200);
  auto old = auth_direct(ids.desk);
  CAF_CHECK_EQUAL(old->policy_rejects, 1);
  CAF_CHECK_EQUAL(val(connect(other.desk).peer->count("auth_ok")), 1u);
}

CAF_TEST_FIXTURE_SCOPE_END()

CAF_TEST_FIXTURE_SCOPE(session_pairing, relay_fixture)

CAF_TEST(join without desktop is refused) {
  session_ids ids;
  api(route::pair_start, start_body(ids));
  auto r = api(route::pair_join, join_body(ids));
  CAF_CHECK_EQUAL(r->status, 409);
  CAF_CHECK_EQUAL(r->error(), "desktop_not_connected");
  CAF_CHECK_EQUAL(
      str_of(r->j(), "message"),
      "Desktop is not connected to relay. Re-open Remote Control on desktop and retry.");
  auto wrong = join_body(ids);
  wrong["joinToken"] = proto::random_token(proto::token_bytes);
  CAF_CHECK_EQUAL(val(api(route::pair_join, wrong)->error()), "invalid_join_token");
}

CAF_TEST(pairing approval) {
  session_ids ids;
  auto d = start_with_desktop(ids);
  auto join = api(route::pair_join, join_body(ids, "  Bikram iPhone  "), "203.0.113.9");
  CAF_CHECK_EQUAL(join->calls, 0);  // pending until the desktop decides
  CAF_CHECK_EQUAL(ctx->metrics.pending_join_waiters.load(), 1);
  auto reqs = d.peer->of_type("relay.pair_request");
  CAF_REQUIRE_EQUAL(reqs.size(), 1u);
  auto& pr = reqs[0];
  auto rid = str_of(pr, "requestID");
  CAF_CHECK_EQUAL(rid.size(), 14u);
  CAF_CHECK_EQUAL(str_of(pr, "sessionID"), ids.sid);
  CAF_CHECK_EQUAL(str_of(pr, "deviceName"), "Bikram iPhone");
  CAF_CHECK_EQUAL(str_of(pr, "requesterIP"), "203.0.113.9");
  CAF_CHECK_EQUAL(str_of(pr, "requestedAt"), "2026-01-01T00:00:00+00:00");
  CAF_CHECK_EQUAL(str_of(pr, "expiresAt"), "2026-01-01T00:00:45+00:00");
  send_text(d,
            json{{"type", "relay.pair_decision"}, {"requestID", rid}, {"approved", true}}.dump());
  CAF_REQUIRE_EQUAL(join->calls, 1);
  CAF_CHECK_EQUAL(join->status, 200);
  auto j = join->j();
  CAF_CHECK(j.value("accepted", false));
  CAF_CHECK_EQUAL(str_of(j, "sessionID"), ids.sid);
  CAF_CHECK_EQUAL(str_of(j, "deviceID").size(), 16u);
  CAF_CHECK_EQUAL(str_of(j, "deviceSessionToken").size(), 43u);
  CAF_CHECK_EQUAL(str_of(j, "wsURL"), "wss://relay.example/ws");
  auto res = d.peer->of_type("relay.pair_result");
  CAF_REQUIRE_EQUAL(res.size(), 1u);
  CAF_CHECK_EQUAL(str_of(res[0], "requestID"), rid);
  CAF_CHECK_EQUAL(str_of(res[0], "approved"), "true");
  CAF_CHECK_EQUAL(ctx->metrics.pending_join_waiters.load(), 0);
  CAF_CHECK_EQUAL(ctx->metrics.pair_join_successes.load(), 1u);
  auto rec = mem->load(ids.sid).record;
  CAF_REQUIRE(rec.has_value());
  CAF_CHECK(rec->join_token_used_at_ms.has_value());
  CAF_REQUIRE_EQUAL(rec->devices.size(), 1u);
  CAF_CHECK_EQUAL(rec->devices.begin()->second.name, "Bikram iPhone");
  CAF_CHECK_EQUAL(rec->devices.begin()->second.current_session_token,
                  str_of(j, "deviceSessionToken"));
  // The join token is now used.
  auto again = api(route::pair_join, join_body(ids));
  CAF_CHECK_EQUAL(again->status, 409);
  CAF_CHECK_EQUAL(again->error(), "join_token_already_used");
  // devices/list shows the device.
  auto list = api(route::devices_list, desk_body(ids));
  CAF_REQUIRE_EQUAL(list->j().at("devices").size(), 1u);
  CAF_CHECK_EQUAL(str_of(list->j()["devices"][0], "deviceID"), str_of(j, "deviceID"));
  CAF_CHECK_EQUAL(str_of(list->j()["devices"][0], "connected"), "false");
}

CAF_TEST(pairing denial) {
  session_ids ids;
  auto d = start_with_desktop(ids);
  auto join = api(route::pair_join, join_body(ids));
  auto rid = str_of(d.peer->of_type("relay.pair_request").at(0), "requestID");
  // approved omitted = denied.
  send_text(
      d, json{{"type", "relay.pair_decision"}, {"sessionID", ids.sid}, {"requestID", rid}}.dump());
  CAF_CHECK_EQUAL(join->status, 403);
  CAF_CHECK_EQUAL(join->error(), "pair_request_denied");
  CAF_CHECK_EQUAL(str_of(join->j(), "message"), "Desktop denied this pairing request.");
  CAF_CHECK_EQUAL(str_of(d.peer->of_type("relay.pair_result").at(0), "approved"), "false");
  CAF_CHECK_EQUAL(ctx->metrics.pending_join_waiters.load(), 0);
  {
    auto rec_ = stored(ids.sid);
    CAF_CHECK(rec_.devices.empty());
  }
  // The join token is not consumed by a denial: a new join creates a new request.
  auto join2 = api(route::pair_join, join_body(ids));
  CAF_CHECK_EQUAL(join2->calls, 0);
  CAF_CHECK_EQUAL(d.peer->count("relay.pair_request"), 2u);
}

CAF_TEST(pairing timeout) {
  session_ids ids;
  auto d = start_with_desktop(ids);
  auto join = api(route::pair_join, join_body(ids));
  advance(44999);
  CAF_CHECK_EQUAL(join->calls, 0);
  advance(1);
  CAF_CHECK_EQUAL(join->status, 408);
  CAF_CHECK_EQUAL(join->error(), "pair_request_timed_out");
  CAF_CHECK_EQUAL(str_of(join->j(), "message"), "Desktop pairing approval timed out.");
  CAF_CHECK_EQUAL(ctx->metrics.pending_join_waiters.load(), 0);
  // A late approval only gets the pair_result echo.
  auto rid = str_of(d.peer->of_type("relay.pair_request").at(0), "requestID");
  send_text(d,
            json{{"type", "relay.pair_decision"}, {"requestID", rid}, {"approved", true}}.dump());
  CAF_CHECK_EQUAL(join->calls, 1);
  CAF_CHECK_EQUAL(d.peer->count("relay.pair_result"), 1u);
  {
    auto rec_ = stored(ids.sid);
    CAF_CHECK(rec_.devices.empty());
  }
}

CAF_TEST(pairing timeout is at least five seconds and expiry wins at approval) {
  session_ids ids;
  auto start = api(route::pair_start, start_body(ids, 2000));  // join token expires in 2 s
  CAF_REQUIRE_EQUAL(start->status, 200);
  auto d = connect(ids.desk);
  auto join = api(route::pair_join, join_body(ids));
  auto pr = d.peer->of_type("relay.pair_request").at(0);
  CAF_CHECK_EQUAL(str_of(pr, "expiresAt"), "2026-01-01T00:00:05+00:00");
  advance(3000);  // token expired, request still pending
  CAF_CHECK_EQUAL(join->calls, 0);
  send_text(d, json{{"type", "relay.pair_decision"},
                    {"requestID", str_of(pr, "requestID")},
                    {"approved", true}}
                   .dump());
  CAF_CHECK_EQUAL(join->status, 410);
  CAF_CHECK_EQUAL(join->error(), "join_token_expired");
}

CAF_TEST(desktop loss while pending) {
  session_ids ids;
  auto d = start_with_desktop(ids);
  auto join = api(route::pair_join, join_body(ids));
  close_socket(d);
  CAF_CHECK_EQUAL(join->status, 409);
  CAF_CHECK_EQUAL(join->error(), "desktop_not_connected");
  CAF_CHECK_EQUAL(str_of(join->j(), "message"),
                  "Desktop disconnected before pairing could be approved.");
  CAF_CHECK_EQUAL(ctx->metrics.pending_join_waiters.load(), 0);
  CAF_CHECK_EQUAL(ctx->metrics.active_websockets.load(), 0);
  // The pending timeout firing later must not answer twice.
  advance(60000);
  CAF_CHECK_EQUAL(join->calls, 1);
}

CAF_TEST(pair request in progress) {
  session_ids ids;
  auto d = start_with_desktop(ids);
  auto first = api(route::pair_join, join_body(ids));
  auto rid = str_of(d.peer->of_type("relay.pair_request").at(0), "requestID");
  auto second = api(route::pair_join, join_body(ids));
  CAF_CHECK_EQUAL(second->status, 409);
  CAF_CHECK_EQUAL(second->error(), "pair_request_in_progress");
  CAF_CHECK_EQUAL(str_of(second->j(), "requestID"), rid);
  CAF_CHECK_EQUAL(str_of(second->j(), "expiresAt"), "2026-01-01T00:00:45+00:00");
  CAF_CHECK_EQUAL(d.peer->count("relay.pair_request"), 1u);
  CAF_CHECK_EQUAL(first->calls, 0);
  CAF_CHECK_EQUAL(ctx->metrics.pending_join_waiters.load(), 1);
}

CAF_TEST(pair result echo for unknown request ids) {
  session_ids ids;
  auto d = start_with_desktop(ids);
  auto dev = pair_device(ids, d);
  auto m = connect(dev.token);
  // Second pairing waiting.
  api(route::pair_refresh, json{{"sessionID", ids.sid},
                                {"joinToken", ids.join},
                                {"desktopSessionToken", ids.desk},
                                {"joinTokenExpiresAt", proto::format_rfc3339_ms(now() + 600000)}});
  auto join = api(route::pair_join, join_body(ids));
  CAF_REQUIRE_EQUAL(d.peer->count("relay.pair_request"), 2u);
  auto mobile_frames = m.peer->frames.size();
  send_text(
      d, json{{"type", "relay.pair_decision"}, {"requestID", "no-such-request"}, {"approved", true}}
             .dump());
  auto res = d.peer->of_type("relay.pair_result");
  CAF_REQUIRE_EQUAL(res.size(), 2u);  // first from pair_device
  CAF_CHECK_EQUAL(str_of(res[1], "requestID"), "no-such-request");
  CAF_CHECK_EQUAL(str_of(res[1], "approved"), "true");
  CAF_CHECK_EQUAL(str_of(res[1], "sessionID"), ids.sid);
  CAF_CHECK_EQUAL(join->calls, 0);  // the real request is untouched
  // Without requestID: ignored, no reply, not forwarded.
  send_text(d, json{{"type", "relay.pair_decision"}, {"approved", true}}.dump());
  CAF_CHECK_EQUAL(d.peer->count("relay.pair_result"), 2u);
  CAF_CHECK_EQUAL(m.peer->frames.size(), mobile_frames);
  // Decision naming another session: silently ignored.
  send_text(d, json{{"type", "relay.pair_decision"},
                    {"sessionID", "SESSION-other-000000"},
                    {"requestID", "x"},
                    {"approved", true}}
                   .dump());
  CAF_CHECK_EQUAL(d.peer->count("relay.pair_result"), 2u);
  // [ref-quirk] approved of the wrong type: not a decision, forwarded to mobiles.
  const std::string quirk = R"({"type":"relay.pair_decision","requestID":"r","approved":"yes"})";
  send_text(d, quirk);
  CAF_CHECK_EQUAL(d.peer->count("relay.pair_result"), 2u);
  CAF_CHECK_EQUAL(m.peer->frames.back(), quirk);
  CAF_CHECK_EQUAL(join->calls, 0);
}

CAF_TEST_FIXTURE_SCOPE_END()

struct one_waiter {
  static void apply(settings::relay_config& c) { c.max_pending_join_waiters = 1; }
};
using one_waiter_fixture = with_config<relay_fixture, one_waiter>;

CAF_TEST_FIXTURE_SCOPE(session_pairing_one_waiter, one_waiter_fixture)

CAF_TEST(pairing backpressure) {
  session_ids a, b;
  auto da = start_with_desktop(a);
  auto db = start_with_desktop(b);
  auto ja = api(route::pair_join, join_body(a));
  auto jb = api(route::pair_join, join_body(b));
  CAF_CHECK_EQUAL(ja->calls, 0);
  CAF_CHECK_EQUAL(jb->status, 503);
  CAF_CHECK_EQUAL(jb->error(), "pairing_backpressure");
  CAF_CHECK_EQUAL(db.peer->count("relay.pair_request"), 0u);
}

CAF_TEST_FIXTURE_SCOPE_END()

struct one_device {
  static void apply(settings::relay_config& c) { c.max_devices_per_session = 1; }
};
using one_device_fixture = with_config<relay_fixture, one_device>;

CAF_TEST_FIXTURE_SCOPE(session_pairing_one_device, one_device_fixture)

CAF_TEST(device cap at join) {
  session_ids ids;
  auto d = start_with_desktop(ids);
  pair_device(ids, d);
  api(route::pair_refresh, json{{"sessionID", ids.sid},
                                {"joinToken", ids.join},
                                {"desktopSessionToken", ids.desk},
                                {"joinTokenExpiresAt", proto::format_rfc3339_ms(now() + 600000)}});
  auto r = api(route::pair_join, join_body(ids));
  CAF_CHECK_EQUAL(r->status, 409);
  CAF_CHECK_EQUAL(r->error(), "device_cap_reached");
  CAF_CHECK_EQUAL(str_of(r->j(), "message"), "This session allows at most 1 connected devices.");
}

CAF_TEST_FIXTURE_SCOPE_END()
