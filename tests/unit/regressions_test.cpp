// Regression tests for relay bugs these unit tests found (all fixed): each states the expected
// behaviour.
#define CAF_SUITE relay_regressions
#define FAIL(msg) CAF_FAIL(msg)  // CAF 0.17.6 DSL bug workaround (before dsl.hpp)
#include "caf/test/dsl.hpp"

#include "relay_fixture.hpp"

using namespace rc_test;
using rc::proto::route;

// BUG 3 (fixed; caught by the ASan build of relay_unit): remove_mobile received a reference into
// device_conn and erased that entry before using it (heap-use-after-free).

CAF_TEST_FIXTURE_SCOPE(regressions, relay_fixture)

// BUG 1 (fixed): a session actor that ended abnormally leaves its sockets open and its gauges
// counted. The broker's down handler cleans the token index, but nobody tells the desktop/mobile
// peers, fails the pending join, or releases active_websockets / sessions_with_* / pending waiters.
// active_websockets then counts against MAX_ACTIVE_WEBSOCKET_CONNECTIONS forever and the
// pending waiter against MAX_PENDING_JOIN_WAITERS (→ 503 pairing_backpressure).
CAF_TEST(abnormal session end releases sockets and gauges) {
  session_ids ids;
  auto s = start_session(ids);
  auto d = connect(ids.desk);
  auto dev = pair_device(ids, d);
  auto m = connect(dev.token);
  CAF_CHECK_EQUAL(val(api(route::pair_join, join_body(ids))->error()), "join_token_already_used");
  api(route::pair_refresh, json{{"sessionID", ids.sid},
                                {"joinToken", ids.join},
                                {"desktopSessionToken", ids.desk},
                                {"joinTokenExpiresAt", proto::format_rfc3339_ms(now() + 600000)}});
  auto pending = api(route::pair_join, join_body(ids));
  CAF_REQUIRE_EQUAL(pending->calls, 0);
  CAF_REQUIRE_EQUAL(ctx->metrics.active_websockets.load(), 2);
  self->send_exit(s, caf::exit_reason::kill);
  drain();
  CAF_CHECK_EQUAL(ctx->metrics.active_websockets.load(), 0);
  CAF_CHECK_EQUAL(ctx->metrics.sessions_with_desktop.load(), 0);
  CAF_CHECK_EQUAL(ctx->metrics.sessions_with_mobile.load(), 0);
  CAF_CHECK_EQUAL(ctx->metrics.pending_join_waiters.load(), 0);
  CAF_CHECK_EQUAL(pending->calls, 1);  // expected: 409 desktop_not_connected
  CAF_CHECK(!d.peer->disconnects.empty() || d.peer->drops > 0);  // socket ended somehow
  CAF_CHECK(!m.peer->disconnects.empty() || m.peer->drops > 0);
}

// BUG 2: requests forwarded by the broker to a session that has already closed itself (sweep,
// stop, kill) but whose `closed` message the broker has not processed yet are silently lost:
// the HTTP responder is never answered (and an auth_request is never answered either).
CAF_TEST(api call racing a session close is answered) {
  session_ids ids;
  proto::framework_error fe{0, ""};
  auto s = start_session(ids);
  // No participants: past SESSION_RETENTION_MS (600 s) the next sweep closes it.
  advance(600000);
  self->send(broker, sweep_atom::value);
  CAF_REQUIRE(sched.prioritize(broker));
  sched.run_once();  // broker: sends sweep to the session
  // A pair/join for the session arrives at the broker before the session's `closed`.
  auto req = proto::parse_api_request(route::pair_join, join_body(ids).dump(), fe);
  CAF_REQUIRE(req.has_value());
  auto resp = std::make_shared<fake_responder>();
  self->send(broker, api_atom::value, api_call{std::move(*req), "198.51.100.1", resp});
  CAF_REQUIRE(sched.prioritize(s));
  sched.run_once();  // session: sweep → close → `closed` queued behind the join at the broker
  drain();
  CAF_CHECK_EQUAL(ctx->metrics.sessions.load(), 0);
  CAF_CHECK_EQUAL(resp->calls, 1);  // expected: 404 session_not_found (or 409)
}

CAF_TEST(auth racing a session close is answered) {
  session_ids ids;
  auto s = start_session(ids);
  advance(600000);
  self->send(broker, sweep_atom::value);
  CAF_REQUIRE(sched.prioritize(broker));
  sched.run_once();
  auto peer = std::make_shared<fake_peer>();
  self->send(broker, auth_atom::value, auth_request{ids.desk, "CONN-race-0001", peer, {}});
  CAF_REQUIRE(sched.prioritize(s));
  sched.run_once();
  drain();
  // Expected: session_expired policy close; actual: nothing until the gateway's auth timer.
  CAF_CHECK_EQUAL(peer->policy_rejects, 1);
}

// Issue 10 item 2 (fixed): a bus envelope whose payload holds a member of an unexpected type
// (a desktop frame like {"type":1}) made nlohmann's value() throw inside the session actor on
// every other node, ending the session there. Every member is now read without throwing.
CAF_TEST(bus payload members of any type never end the session) {
  session_ids ids;
  auto d = start_with_desktop(ids);
  auto dev = pair_device(ids, d);
  auto m = connect(dev.token);
  auto frames_before = m.peer->frames.size();
  auto send_bus = [&](const char* tgt, std::string payload) {
    bus_envelope e;
    e.session_id = ids.sid;
    e.source_instance_id = "other-node";
    e.target = tgt;
    e.payload = std::move(payload);
    self->send(broker, bus_atom::value, std::move(e));
    drain();
  };
  send_bus(target::mobile, R"({"type":1})");
  send_bus(target::desktop, R"({"type":["x"],"sessionID":7})");
  send_bus(target::mobile, R"({"type":"relay.desktop_status","desktopConnected":"yes"})");
  send_bus(target::pair_decision, R"({"requestID":5,"approved":"yes"})");
  send_bus(target::probe, R"({"requestingInstanceID":{"a":1}})");
  send_bus(target::probe_response, R"({"requestingInstanceID":1,"desktopConnected":1})");
  std::string deep(100, '[');
  send_bus(target::mobile, deep + std::string(100, ']'));
  // The session is the same actor: nothing was restarted, no socket was closed.
  CAF_CHECK(d.peer->disconnects.empty());
  CAF_CHECK(m.peer->disconnects.empty());
  CAF_CHECK_EQUAL(d.peer->drops, 0);
  CAF_CHECK_EQUAL(m.peer->drops, 0);
  CAF_CHECK_EQUAL(ctx->metrics.active_websockets.load(), 2);
  // Frames for the phone are still forwarded byte for byte (the relay does not judge them).
  CAF_CHECK_GREATER(m.peer->frames.size(), frames_before);
  CAF_CHECK_EQUAL(m.peer->frames.at(frames_before), R"({"type":1})");
  // A peer's disconnect with a reason that is not a string ends the session as expired (the
  // documented rule), not by an exception.
  send_bus(target::mobile, R"({"type":"disconnect","reason":5})");
  CAF_CHECK_EQUAL(m.peer->last_disconnect(), "session_expired");
  CAF_CHECK_EQUAL(d.peer->last_disconnect(), "session_expired");
}

CAF_TEST_FIXTURE_SCOPE_END()
