// Broker actor with the deterministic scheduler: start, auth, streaming, kill switch, restore,
// invalidation and reconnect (SCENARIOS 95, 96, 99, 109-113).
#define CAF_SUITE bridge_broker
#define FAIL(msg) CAF_FAIL(msg)  // CAF 0.17.6 DSL bug workaround (before dsl.hpp)
#include "caf/test/dsl.hpp"

#include <unistd.h>

#include "desktop-bridge/broker.hpp"
#include "desktop-bridge/model.hpp"
#include "desktop-bridge/state_file.hpp"
#include "protocol/time.hpp"

using namespace rc::bridge;
using nlohmann::json;

namespace {

struct fake_ws : net::ws_connection {
  std::vector<std::string> sent;
  bool closed = false;
  void send(std::string t) override { sent.push_back(std::move(t)); }
  void close() override { closed = true; }
  std::vector<json> envelopes(const std::string& type) const {
    std::vector<json> out;
    for (auto& s : sent) {
      auto j = json::parse(s);
      if (j.contains("payload") && j["payload"].value("type", "") == type) out.push_back(j);
    }
    return out;
  }
};

struct fake_transport : transport {
  struct call {
    std::string url;
    json body;
    std::function<void(net::http_response)> cb;
  };
  std::vector<call> posts;
  std::vector<std::pair<std::string, net::ws_handlers>> connects;
  std::vector<std::shared_ptr<fake_ws>> sockets;
  void post(const std::string& url, std::string body, int, std::function<void(net::http_response)> cb) override {
    posts.push_back({url, json::parse(body), std::move(cb)});
  }
  std::shared_ptr<net::ws_connection> connect(const std::string& url, net::ws_handlers h) override {
    connects.emplace_back(url, std::move(h));
    auto s = std::make_shared<fake_ws>();
    sockets.push_back(s);
    return s;
  }
  int count(const std::string& path) const {
    int n = 0;
    for (auto& p : posts)
      if (p.url.size() >= path.size() && p.url.compare(p.url.size() - path.size(), path.size(), path) == 0) ++n;
    return n;
  }
};

struct fake_ui : ui_sink {
  std::vector<json> events;
  void emit(const json& ev) override { events.push_back(ev); }
  int count(const std::string& name) const {
    int n = 0;
    for (auto& e : events) n += e.value("event", "") == name;
    return n;
  }
};

struct fake_rt : runtime {
  event_sink sink;
  std::string name() const override { return "fake"; }
  void start(event_sink s) override {
    sink = std::move(s);
    sink(ev_status{true, ""});
    sink(ev_project{{"P1", "General"}});
    sink(ev_thread{{"T1", "P1", "One", false, false}});
  }
  void stop() override {}
  op_result start_turn(const turn_request&) override { return op_result::success(); }
  void interrupt(const std::string&) override {}
  op_result respond(uint64_t, const runtime_response&) override { return op_result::success(); }
};

net::http_response ok_body(json j) { return {200, j.dump(), ""}; }

struct fixture : test_coordinator_fixture<> {
  std::shared_ptr<fake_transport> net = std::make_shared<fake_transport>();
  std::shared_ptr<fake_ui> ui = std::make_shared<fake_ui>();
  std::shared_ptr<fake_rt> rt = std::make_shared<fake_rt>();
  std::string state_path;
  caf::actor broker;

  fixture() {
    char tmpl[] = "/tmp/rc-broker-test-XXXXXX";
    state_path = std::string(::mkdtemp(tmpl)) + "/state.json";
  }
  ~fixture() {
    if (broker) caf::anon_send_exit(broker, caf::exit_reason::kill);
    run();
    rt->sink = nullptr;
    clear_state(state_path);
    ::rmdir(state_path.substr(0, state_path.rfind('/')).c_str());
  }

  void spawn_it() {
    broker_config cfg;
    cfg.e2ee = e2ee_policy::off;  // these cases test the plaintext (reference) protocol
    cfg.relay_url = "ws://relay.test:8787/ws";
    cfg.state_file = state_path;
    cfg.jitter = false;
    broker = spawn_broker(sys, cfg, net, rt, ui);
    self->send(broker, start_atom::value);
    consume_messages();
  }

  void reply(std::size_t i, net::http_response r) {
    net->posts.at(i).cb(std::move(r));
    consume_messages();
  }

  void open_and_auth(std::size_t conn = 0, std::size_t devices = 0) {
    net->connects.at(conn).second.on_open();
    consume_messages();
    net->connects.at(conn).second.on_text(
        json{{"type", "auth_ok"}, {"role", "desktop"}, {"sessionID", session_id()}, {"connectedDeviceCount", devices}}.dump());
    consume_messages();
  }

  std::string session_id() const { return net->posts.at(0).body.value("sessionID", ""); }
};

}  // namespace

CAF_TEST_FIXTURE_SCOPE(broker_tests, fixture)

CAF_TEST(start registers pair start then connects and authenticates) {  // SCENARIOS 95
  spawn_it();
  CAF_REQUIRE_EQUAL(net->posts.size(), 1u);
  auto& p = net->posts[0];
  CAF_CHECK_EQUAL(p.url, "http://relay.test:8787/pair/start");
  CAF_CHECK_EQUAL(p.body["schemaVersion"], 2);
  CAF_CHECK_EQUAL(p.body["relayWebSocketURL"], "ws://relay.test:8787/ws");
  CAF_CHECK_EQUAL(p.body["sessionID"].get<std::string>().size(), 22u);
  CAF_CHECK(net->connects.empty());
  reply(0, ok_body({{"accepted", true}, {"sessionID", session_id()}, {"wsURL", "ws://relay.test:8787/ws"}}));
  CAF_CHECK_EQUAL(ui->count("session_started"), 1);
  CAF_REQUIRE_EQUAL(net->connects.size(), 1u);
  open_and_auth();
  auto& ws = *net->sockets[0];
  auto auth = json::parse(ws.sent.at(0));
  CAF_CHECK_EQUAL(auth["type"], "relay.auth");
  CAF_CHECK_EQUAL(auth["token"], p.body["desktopSessionToken"]);
  auto hello = ws.envelopes("hello");
  CAF_REQUIRE_EQUAL(hello.size(), 1u);
  CAF_CHECK_EQUAL(hello[0]["seq"], 1u);
  CAF_CHECK_EQUAL(hello[0]["payload"]["payload"]["supportsRuntimeRequests"], false);
  auto snaps = ws.envelopes("snapshot");
  CAF_REQUIRE_EQUAL(snaps.size(), 1u);
  CAF_CHECK_EQUAL(snaps[0]["seq"], 2u);
  CAF_CHECK_EQUAL(ui->count("relay_connected"), 1);
  // the session file exists and never appears in UI events
  CAF_CHECK(load_state(state_path).has_value());
  for (auto& e : ui->events) CAF_CHECK(e.dump().find(p.body["desktopSessionToken"].get<std::string>()) == std::string::npos);
}

CAF_TEST(snapshot request forces hello and snapshot and a command is acked before the snapshot) {
  spawn_it();
  reply(0, ok_body({{"accepted", true}}));
  open_and_auth();
  auto& ws = *net->sockets[0];
  auto& h = net->connects[0].second;
  ws.sent.clear();
  h.on_text(json{{"type", "relay.snapshot_request"}, {"sessionID", session_id()}, {"reason", "initial_sync"}}.dump());
  consume_messages();
  CAF_CHECK_EQUAL(ws.envelopes("hello").size(), 1u);
  CAF_CHECK_EQUAL(ws.envelopes("snapshot").size(), 1u);
  ws.sent.clear();
  json cmd = {{"schemaVersion", 2}, {"sessionID", session_id()}, {"seq", 5}, {"timestamp", "2026-03-12T06:25:01.442Z"},
              {"relayConnectionID", "conn-a"},
              {"payload", {{"type", "command"}, {"payload", {{"name", "thread.select"}, {"commandID", "cmd-1"}, {"threadID", "T1"}}}}}};
  h.on_text(cmd.dump());
  consume_messages();
  CAF_REQUIRE_EQUAL(ws.sent.size(), 2u);
  auto ack = json::parse(ws.sent[0]);
  CAF_CHECK_EQUAL(ack["payload"]["type"], "command_ack");
  CAF_CHECK_EQUAL(ack["payload"]["payload"]["status"], "accepted");
  auto second = json::parse(ws.sent[1]);
  CAF_CHECK_EQUAL(second["payload"]["type"], "snapshot");
  // forward jump on the same connection (relay consumed seqs) is accepted, not dropped
  cmd["seq"] = 9;
  cmd["payload"]["payload"]["commandID"] = "cmd-2";
  h.on_text(cmd.dump());
  consume_messages();
  CAF_CHECK_EQUAL(ws.envelopes("command_ack").size(), 2u);
  // stale duplicate → cached ack re-sent, no snapshot
  ws.sent.clear();
  cmd["seq"] = 9;
  h.on_text(cmd.dump());
  consume_messages();
  CAF_REQUIRE_EQUAL(ws.sent.size(), 1u);
  auto replayed = json::parse(ws.sent[0]);
  CAF_CHECK_EQUAL(replayed["payload"]["payload"]["commandSeq"], 9u);
}

CAF_TEST(kill switch posts pair stop closes the socket and clears the session) {  // SCENARIOS 96
  spawn_it();
  reply(0, ok_body({{"accepted", true}}));
  open_and_auth();
  self->send(broker, stop_atom::value);
  consume_messages();
  CAF_CHECK(net->sockets[0]->closed);  // at once, before the relay answers
  CAF_REQUIRE_EQUAL(net->count("/pair/stop"), 1);
  auto& stop = net->posts.back();
  CAF_CHECK_EQUAL(stop.body["sessionID"], session_id());
  CAF_CHECK_EQUAL(stop.body["desktopSessionToken"], net->posts[0].body["desktopSessionToken"]);
  CAF_CHECK(!load_state(state_path).has_value());
  reply(net->posts.size() - 1, ok_body({{"accepted", true}}));
  CAF_CHECK_EQUAL(ui->count("stopped"), 1);
  CAF_CHECK_EQUAL(ui->events.back()["reason"], "stopped_by_user");
}

CAF_TEST(teardown keeps the session and restore uses refresh then connects once) {  // SCENARIOS 99 109 113
  spawn_it();
  reply(0, ok_body({{"accepted", true}}));
  open_and_auth();
  auto sid = session_id();
  self->send(broker, quit_atom::value);
  consume_messages();
  CAF_CHECK_EQUAL(net->count("/pair/stop"), 0);
  CAF_REQUIRE(load_state(state_path).has_value());
  // second bridge run with the same state file
  net->posts.clear();
  net->connects.clear();
  net->sockets.clear();
  spawn_it();
  CAF_CHECK_EQUAL(net->count("/pair/start"), 0);
  CAF_REQUIRE_EQUAL(net->count("/pair/refresh"), 1);
  CAF_CHECK_EQUAL(net->posts[0].body["sessionID"], sid);
  CAF_CHECK(net->connects.empty());
  reply(0, ok_body({{"accepted", true}, {"sessionID", sid}}));
  CAF_CHECK_EQUAL(net->count("/devices/list"), 1);
  CAF_CHECK_EQUAL(net->connects.size(), 1u);
  self->send(broker, start_atom::value);  // invoked twice: no second restore
  consume_messages();
  CAF_CHECK_EQUAL(net->count("/pair/refresh"), 1);
  CAF_CHECK_EQUAL(net->connects.size(), 1u);
  bool restored = false;
  for (auto& e : ui->events) restored |= e.value("event", "") == "session_started" && e.value("restored", false);
  CAF_CHECK(restored);
}

CAF_TEST(restore whose refresh fails with 404 clears the session without connecting) {  // SCENARIOS 110
  saved_state s;
  s.descriptor = session_descriptor::make("http://localhost:4173/", "ws://relay.test:8787/ws", rc::proto::now_ms());
  CAF_REQUIRE(save_state(state_path, s));
  spawn_it();
  CAF_REQUIRE_EQUAL(net->count("/pair/refresh"), 1);
  reply(0, {404, R"({"error":"session_not_found","message":"Remote session not found."})", ""});
  CAF_CHECK(net->connects.empty());
  CAF_CHECK_EQUAL(net->count("/devices/list"), 0);
  CAF_CHECK_EQUAL(ui->count("session_ended"), 1);
  CAF_CHECK(!load_state(state_path).has_value());
}

CAF_TEST(disconnect session expired clears the session with no reconnect) {  // SCENARIOS 111
  spawn_it();
  reply(0, ok_body({{"accepted", true}}));
  open_and_auth();
  net->connects[0].second.on_text(R"({"type":"disconnect","reason":"session_expired"})");
  consume_messages();
  CAF_CHECK_EQUAL(ui->count("session_ended"), 1);
  CAF_CHECK(net->sockets[0]->closed);
  CAF_CHECK(!load_state(state_path).has_value());
  CAF_CHECK_EQUAL(net->count("/pair/refresh"), 0);
}

CAF_TEST(transient close reconnects once after a refresh probe) {  // SCENARIOS 112
  spawn_it();
  reply(0, ok_body({{"accepted", true}}));
  open_and_auth();
  net->connects[0].second.on_close(1006, "going away");
  consume_messages();
  CAF_CHECK_EQUAL(ui->count("relay_disconnected"), 1);
  CAF_CHECK_EQUAL(net->count("/pair/refresh"), 0);
  advance_time(std::chrono::milliseconds(reconnect_delay_ms(1)));
  consume_messages();
  CAF_REQUIRE_EQUAL(net->count("/pair/refresh"), 1);
  CAF_CHECK_EQUAL(net->posts.back().body["sessionID"], session_id());
  reply(net->posts.size() - 1, ok_body({{"accepted", true}}));
  CAF_CHECK_EQUAL(net->connects.size(), 2u);
  CAF_CHECK_EQUAL(net->count("/devices/list"), 0);
  CAF_CHECK(load_state(state_path).has_value());
}

CAF_TEST(backoff doubles and caps at 15 seconds) {
  CAF_CHECK_EQUAL(reconnect_delay_ms(1), 2000);
  CAF_CHECK_EQUAL(reconnect_delay_ms(2), 4000);
  CAF_CHECK_EQUAL(reconnect_delay_ms(3), 8000);
  CAF_CHECK_EQUAL(reconnect_delay_ms(4), 15000);
  CAF_CHECK_EQUAL(reconnect_delay_ms(9), 15000);
}

CAF_TEST(pair request is shown and answered with a decision) {
  spawn_it();
  reply(0, ok_body({{"accepted", true}}));
  open_and_auth();
  auto& ws = *net->sockets[0];
  net->connects[0].second.on_text(json{{"type", "relay.pair_request"}, {"sessionID", session_id()}, {"requestID", "REQ1234567890A"},
                                       {"deviceName", "Phone"}, {"requesterIP", "203.0.113.7"},
                                       {"requestedAt", "2026-03-12T06:22:49.123+00:00"},
                                       {"expiresAt", "2099-03-12T06:23:34.123+00:00"}}.dump());
  consume_messages();
  CAF_REQUIRE_EQUAL(ui->count("pair_request"), 1);
  ws.sent.clear();
  self->send(broker, decide_atom::value, std::string{"REQ1234567890A"}, true);
  consume_messages();
  CAF_REQUIRE_EQUAL(ws.sent.size(), 1u);
  auto d = json::parse(ws.sent[0]);
  CAF_CHECK_EQUAL(d["type"], "relay.pair_decision");
  CAF_CHECK_EQUAL(d["approved"], true);
  CAF_CHECK_EQUAL(d["requestID"], "REQ1234567890A");
}

CAF_TEST_FIXTURE_SCOPE_END()
