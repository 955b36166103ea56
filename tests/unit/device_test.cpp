// The device actor's mobile pipeline (RELAY_PROTOCOL §9.3, SCENARIOS 58-66 and E 29-37),
// driven with mobile_msg built by proto::classify_mobile exactly as conn_handler builds them.
// The session is replaced by a sink that records what would go to the desktop.
#define CAF_SUITE relay_device
#define FAIL(msg) CAF_FAIL(msg)  // CAF 0.17.6 DSL bug workaround (before dsl.hpp)
#include "caf/test/dsl.hpp"

#include "relay_fixture.hpp"

using namespace rc_test;

namespace {

const std::string sid = "SESSION-device-test-0001";
const std::string dev_id = "DEVICE-abcdef01";

struct device_fixture : base_fixture {
  std::shared_ptr<std::vector<std::string>> to_desktop =
      std::make_shared<std::vector<std::string>>();
  caf::actor sink, device, limiter;
  std::shared_ptr<fake_peer> peer = std::make_shared<fake_peer>();
  std::shared_ptr<int> gate_probes = std::make_shared<int>(0);  ///< (probe_atom) to the session
  std::string conn = "CONN-0001";

  explicit device_fixture(settings::relay_config cfg = test_config())
      : base_fixture(std::move(cfg)) {
    auto out = to_desktop;
    auto probes = gate_probes;
    sink = sys.spawn([out, probes](caf::event_based_actor*) -> caf::behavior {
      return {
          [out](todesk_atom, std::shared_ptr<const std::string>& text, const std::string& from) {
            CAF_CHECK_EQUAL(from, dev_id);  // the session answers a refused command to this device
            out->push_back(*text);
          },
          [probes](probe_atom) { ++*probes; }};
    });
    extra.push_back(sink);
    auto c = ctx;
    auto s = sink;
    auto handles = std::make_shared<std::pair<device_actor, session_limiter_actor>>();
    spawn_parent([c, s, handles](caf::event_based_actor* p) {
      handles->second = spawn_session_limiter(p, c, sid);
      handles->first = spawn_device(p, c, caf::actor_cast<session_actor>(s), handles->second, sid,
                                    dev_id, false);
    });
    device = caf::actor_cast<caf::actor>(handles->first);
    limiter = caf::actor_cast<caf::actor>(handles->second);
    CAF_REQUIRE(device);
    self->send(device, attach_atom::value, conn, std::shared_ptr<gw::ws_peer>(peer));
    run();
  }

  void presence(bool on) {
    self->send(device, presence_atom::value, on, std::shared_ptr<rc::gw::ws_peer>{}, std::string{});
    run();
  }

  void mobile(const std::string& text, std::shared_ptr<fake_peer> from = nullptr,
              const std::string& from_conn = "") {
    mobile_msg m{from_conn.empty() ? conn : from_conn, from ? from : peer,
                 proto::classify_mobile(text, sid)};
    self->send(device, mframe_atom::value, std::move(m));
    run();
  }
  void mobile(const json& j) { mobile(j.dump()); }

  /// The relay.error frames the phone got.
  std::vector<json> errors() const { return peer->of_type("relay.error"); }
  std::string last_error() const {
    auto e = errors();
    return e.empty() ? "<none>" : e.back().value("error", "");
  }
  json describe() { return json::parse(request<std::string>(device, describe_atom::value)); }
};

}  // namespace

CAF_TEST_FIXTURE_SCOPE(device_tests, device_fixture)

CAF_TEST(desktop offline is checked before any validation and consumes nothing) {
  // Unknown command name, wrong schema: still desktop_offline first.
  auto bad = relay_fixture::command(sid, 1, "terminal.exec");
  bad["schemaVersion"] = 9;
  mobile(bad);
  CAF_CHECK_EQUAL(last_error(), "desktop_offline");
  CAF_CHECK_EQUAL(str_of(errors().back(), "message"),
                  "Mac is offline. Reconnect desktop and try again.");
  mobile(json{{"type", "relay.snapshot_request"}, {"sessionID", sid}, {"lastSeq", -1}});
  CAF_CHECK_EQUAL(last_error(), "desktop_offline");
  CAF_CHECK_EQUAL(errors().size(), 2u);
  CAF_CHECK(to_desktop->empty());
  CAF_CHECK_EQUAL(ctx->metrics.command_buckets.load(), 0);  // no budget consumed
  // Non-gated garbage is validated normally even while offline.
  mobile(std::string("not json"));
  CAF_CHECK_EQUAL(last_error(), "invalid_payload");
  presence(true);
  mobile(relay_fixture::command(sid, 1));  // seq 1 was never consumed
  CAF_CHECK_EQUAL(to_desktop->size(), 1u);
  CAF_CHECK_EQUAL(errors().size(), 3u);
}

CAF_TEST(the offline gate asks the session to probe the cluster at most twice a second) {
  // Issue 12: a node that missed desktop_status true would refuse every command of an idle
  // desktop forever; each refusal (rate-limited) makes the session probe the cluster.
  mobile(relay_fixture::command(sid, 1));
  CAF_CHECK_EQUAL(last_error(), "desktop_offline");
  CAF_CHECK_EQUAL(*gate_probes, 1);
  mobile(relay_fixture::command(sid, 1));
  mobile(json{{"type", "relay.snapshot_request"}, {"sessionID", sid}, {"lastSeq", -1}});
  CAF_CHECK_EQUAL(*gate_probes, 1);  // within 500 ms: refused, no second probe
  CAF_CHECK_EQUAL(errors().size(), 3u);
  advance(499);
  mobile(relay_fixture::command(sid, 1));
  CAF_CHECK_EQUAL(*gate_probes, 1);
  advance(1);
  mobile(relay_fixture::command(sid, 1));
  CAF_CHECK_EQUAL(*gate_probes, 2);
  mobile(std::string("not json"));  // not gated: no probe
  advance(1000);
  mobile(std::string("not json"));
  CAF_CHECK_EQUAL(*gate_probes, 2);
  presence(true);
  mobile(relay_fixture::command(sid, 1));
  CAF_CHECK_EQUAL(to_desktop->size(), 1u);
  CAF_CHECK_EQUAL(*gate_probes, 2);  // online: no probe
}

CAF_TEST(invalid payloads) {
  presence(true);
  mobile(std::string("{not json"));
  CAF_CHECK_EQUAL(last_error(), "invalid_payload");
  CAF_CHECK_EQUAL(str_of(errors().back(), "message"), "Payload must be valid JSON.");
  mobile(std::string("[1,2,3]"));
  CAF_CHECK_EQUAL(last_error(), "invalid_payload");
  CAF_CHECK_EQUAL(str_of(errors().back(), "message"), "Payload must be a JSON object.");
  mobile(std::string("\"just a string\""));
  CAF_CHECK_EQUAL(str_of(errors().back(), "message"), "Payload must be a JSON object.");
  // relay.error frames carry no sessionID (§7.2).
  CAF_CHECK_EQUAL(str_of(errors().back(), "sessionID"), "<absent>");
  CAF_CHECK(to_desktop->empty());
  CAF_CHECK_EQUAL(describe().at("rejected").get<uint64_t>(), 3u);
}

CAF_TEST(mismatched session id is dropped silently) {
  presence(true);
  mobile(relay_fixture::command("SESSION-someone-else-01", 1));
  CAF_CHECK(peer->frames.empty());
  CAF_CHECK(to_desktop->empty());
  // Even while the desktop is offline (dropped before the offline gate).
  presence(false);
  mobile(relay_fixture::command("SESSION-someone-else-01", 2));
  CAF_CHECK(peer->frames.empty());
}

CAF_TEST(replayed and out of order commands) {
  // SCENARIOS 58 / 37.
  presence(true);
  mobile(relay_fixture::command(sid, 1));
  mobile(relay_fixture::command(sid, 1));
  CAF_CHECK_EQUAL(to_desktop->size(), 1u);
  CAF_CHECK_EQUAL(last_error(), "replayed_command");
  CAF_CHECK_EQUAL(str_of(errors().back(), "message"),
                  "Command sequence was replayed or out of order.");
  mobile(relay_fixture::command(sid, 5));
  mobile(relay_fixture::command(sid, 4));
  CAF_CHECK_EQUAL(to_desktop->size(), 2u);
  CAF_CHECK_EQUAL(errors().size(), 2u);
  mobile(relay_fixture::command(sid, 0));  // seq 0 is always rejected
  CAF_CHECK_EQUAL(last_error(), "replayed_command");
  // A reconnect (new attach) starts a fresh counter.
  self->send(device, attach_atom::value, std::string("CONN-0002"),
             std::shared_ptr<gw::ws_peer>(peer));
  run();
  conn = "CONN-0002";
  mobile(relay_fixture::command(sid, 1));
  CAF_CHECK_EQUAL(to_desktop->size(), 3u);
}

CAF_TEST(invalid commands are rejected after consuming the sequence) {
  presence(true);
  // SCENARIOS 29: unknown command name.
  mobile(relay_fixture::command(sid, 1, "terminal.exec"));
  CAF_CHECK_EQUAL(last_error(), "invalid_command");
  CAF_CHECK_EQUAL(str_of(errors().back(), "message"), "Command name is not allowed.");
  // seq 1 was consumed by the rejected command (§9.3 note).
  mobile(relay_fixture::command(sid, 1));
  CAF_CHECK_EQUAL(last_error(), "replayed_command");
  // SCENARIOS 30: extra key inside the command payload.
  auto extra = relay_fixture::command(sid, 2);
  extra["payload"]["payload"]["unexpectedField"] = "x";
  mobile(extra);
  CAF_CHECK_EQUAL(last_error(), "invalid_command");
  CAF_CHECK_EQUAL(str_of(errors().back(), "message"),
                  "Unexpected field 'unexpectedField' in command payload.");
  // An envelope error happens before the sequence: seq 2 is still free.
  mobile(relay_fixture::command(sid, 2));
  CAF_CHECK_EQUAL(to_desktop->size(), 1u);
  // Missing commandID (SCENARIOS 61), unsupported schema.
  auto no_id = relay_fixture::command(sid, 3);
  no_id["payload"]["payload"].erase("commandID");
  mobile(no_id);
  CAF_CHECK_EQUAL(last_error(), "invalid_command");
  auto v1 = relay_fixture::command(sid, 3);
  v1["schemaVersion"] = 1;
  mobile(v1);
  CAF_CHECK_EQUAL(last_error(), "unsupported_schema");
  // A mobile relay.auth after auth is an invalid command (§7.1).
  mobile(json{{"type", "relay.auth"}, {"token", std::string(43, 'a')}});
  CAF_CHECK_EQUAL(last_error(), "invalid_command");
  CAF_CHECK_EQUAL(to_desktop->size(), 1u);
}

CAF_TEST(metadata injection overwrites spoofed ids) {
  // SCENARIOS 31 / 60.
  presence(true);
  auto c = relay_fixture::command(sid, 1);
  c["relayConnectionID"] = "spoofed-connection";
  c["relayDeviceID"] = "spoofed-device";
  mobile(c);
  CAF_REQUIRE_EQUAL(to_desktop->size(), 1u);
  auto fwd = json::parse(to_desktop->back());
  CAF_CHECK_EQUAL(str_of(fwd, "relayConnectionID"), conn);
  CAF_CHECK_EQUAL(str_of(fwd, "relayDeviceID"), dev_id);
  CAF_CHECK_EQUAL(str_of(fwd, "timestamp"), "2026-01-01T00:00:00Z");
  CAF_CHECK_EQUAL(fwd["payload"]["payload"].value("name", ""), "thread.select");
  CAF_CHECK_EQUAL(fwd["payload"]["payload"].value("threadID", ""), "T1");
  CAF_CHECK(peer->frames.empty());
}

CAF_TEST(frames from a socket that is no longer registered are dropped) {
  presence(true);
  auto stale = std::make_shared<fake_peer>();
  mobile(relay_fixture::command(sid, 1).dump(), stale, "CONN-stale");
  CAF_CHECK_EQUAL(stale->drops, 1);
  CAF_CHECK(to_desktop->empty());
  self->send(device, detach_atom::value, conn);
  run();
  mobile(relay_fixture::command(sid, 1).dump(), peer, conn);
  CAF_CHECK_EQUAL(peer->drops, 1);  // detached: the old socket is ended
  CAF_CHECK(to_desktop->empty());
  CAF_CHECK_EQUAL(describe().at("connected").get<bool>(), false);
}

CAF_TEST_FIXTURE_SCOPE_END()

struct snapshot_budget_2 {
  static void apply(settings::relay_config& c) { c.max_snapshot_requests_per_minute = 2; }
};
using snapshot_budget_fixture = with_config<device_fixture, snapshot_budget_2>;

CAF_TEST_FIXTURE_SCOPE(device_snapshot_budget, snapshot_budget_fixture)

CAF_TEST(snapshot requests) {
  presence(true);
  // SCENARIOS 59 / 32.
  mobile(json{{"type", "relay.snapshot_request"}, {"sessionID", sid}, {"lastSeq", -1}});
  CAF_CHECK_EQUAL(last_error(), "invalid_snapshot_request");
  CAF_CHECK_EQUAL(str_of(errors().back(), "message"), "lastSeq must be numeric when provided.");
  CAF_CHECK(to_desktop->empty());
  // SCENARIOS 33: string lastSeq forwarded with type intact.
  mobile(json{{"type", "relay.snapshot_request"}, {"sessionID", sid}, {"lastSeq", "42"}});
  CAF_REQUIRE_EQUAL(to_desktop->size(), 1u);
  auto fwd = json::parse(to_desktop->back());
  CAF_CHECK_EQUAL(str_of(fwd, "type"), "relay.snapshot_request");
  CAF_CHECK_EQUAL(str_of(fwd, "lastSeq"), "42");
  CAF_CHECK_EQUAL(str_of(fwd, "relayConnectionID"), conn);
  CAF_CHECK_EQUAL(str_of(fwd, "relayDeviceID"), dev_id);
  CAF_CHECK_EQUAL(errors().size(), 1u);
  // SCENARIOS 36: snapshot budget.
  mobile(json{{"type", "relay.snapshot_request"}, {"sessionID", sid}});
  mobile(json{{"type", "relay.snapshot_request"}, {"sessionID", sid}});
  CAF_CHECK_EQUAL(to_desktop->size(), 2u);
  CAF_CHECK_EQUAL(last_error(), "snapshot_rate_limited");
  CAF_CHECK_EQUAL(str_of(errors().back(), "message"),
                  "Too many snapshot requests from this device. Retry shortly.");
}

CAF_TEST_FIXTURE_SCOPE_END()

struct device_budget_2 {
  static void apply(settings::relay_config& c) { c.max_remote_commands_per_minute = 2; }
};
using device_budget_fixture = with_config<device_fixture, device_budget_2>;

CAF_TEST_FIXTURE_SCOPE(device_command_budget, device_budget_fixture)

CAF_TEST(device command budget through the device) {
  // SCENARIOS 34: device budget 2.
  presence(true);
  for (uint64_t s = 1; s <= 3; ++s) mobile(relay_fixture::command(sid, s));
  CAF_CHECK_EQUAL(to_desktop->size(), 2u);
  CAF_CHECK_EQUAL(last_error(), "command_rate_limited");
  CAF_CHECK_EQUAL(str_of(errors().back(), "message"),
                  "Too many remote commands from this device. Retry shortly.");
}

CAF_TEST_FIXTURE_SCOPE_END()

struct session_budget_2 {
  static void apply(settings::relay_config& c) {
    c.max_remote_commands_per_minute = 10;
    c.max_remote_session_commands_per_minute = 2;
  }
};
using session_budget_fixture = with_config<device_fixture, session_budget_2>;

CAF_TEST_FIXTURE_SCOPE(device_session_budget, session_budget_fixture)

CAF_TEST(session command budget through the device) {
  // SCENARIOS 35: session budget 2 (device budget 10).
  presence(true);
  for (uint64_t s = 1; s <= 3; ++s) mobile(relay_fixture::command(sid, s));
  CAF_CHECK_EQUAL(to_desktop->size(), 2u);
  CAF_CHECK_EQUAL(last_error(), "command_rate_limited");
  CAF_CHECK_EQUAL(str_of(errors().back(), "message"),
                  "Remote command throughput for this session is temporarily saturated.");
}

CAF_TEST_FIXTURE_SCOPE_END()
