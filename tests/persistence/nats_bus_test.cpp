#define CAF_SUITE persistence_nats_bus
#include "caf/test/unit_test.hpp"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "persistence/bus_envelope.hpp"
#include "persistence/nats_bus.hpp"
#include "test_servers.hpp"

using namespace rc::persistence;

namespace {

/// Verdict names as std::string (comparing const char* would compare pointers).
std::string vname(envelope_verdict v) {
  return to_string(v);
}

}  // namespace
using namespace std::chrono_literals;

namespace {

/// Thread-safe collector for messages delivered on nats.c threads.
struct inbox {
  std::mutex mtx;
  std::condition_variable cv;
  std::vector<std::pair<std::string, std::string>> msgs;

  nats_bus::message_handler handler() {
    return [this](std::string subject, std::string data) {
      std::lock_guard<std::mutex> lock{mtx};
      msgs.emplace_back(std::move(subject), std::move(data));
      cv.notify_all();
    };
  }
  bool wait_for(std::size_t n, std::chrono::milliseconds timeout = 5s) {
    std::unique_lock<std::mutex> lock{mtx};
    return cv.wait_for(lock, timeout, [&] { return msgs.size() >= n; });
  }
  std::size_t size() {
    std::lock_guard<std::mutex> lock{mtx};
    return msgs.size();
  }
  std::pair<std::string, std::string> at(std::size_t i) {
    std::lock_guard<std::mutex> lock{mtx};
    return msgs.at(i);
  }
};

struct fixture {
  rc::test::nats_server server;
  bool started = server.start();
  std::atomic<int> disconnects{0};
  std::atomic<int> reconnects{0};
  std::atomic<int> closes{0};

  nats_bus_options options() {
    nats_bus_options opts;
    opts.url = server.url();
    opts.name = "rc_persistence_test";
    opts.connect_timeout = 1s;
    opts.reconnect_wait = 100ms;
    opts.on_disconnected = [this] { ++disconnects; };
    opts.on_reconnected = [this] { ++reconnects; };
    opts.on_closed = [this] { ++closes; };
    return opts;
  }

  std::unique_ptr<nats_bus> connect() {
    auto bus = nats_bus::connect(options());
    return bus.ok() ? std::move(*bus.value) : nullptr;
  }
};

}  // namespace

CAF_TEST_FIXTURE_SCOPE(nats_bus_tests, fixture)

CAF_TEST(publish subscribe round trip) {
  CAF_REQUIRE(started);
  auto sub = connect();
  auto pub = connect();
  CAF_REQUIRE(sub && pub);
  CAF_CHECK(sub->connected());
  inbox exact;
  inbox wildcard;
  auto id = sub->subscribe("codexchat.remote.relay.session.S1", exact.handler());
  CAF_REQUIRE(id.ok());
  CAF_REQUIRE(sub->subscribe("codexchat.remote.relay.session.*", wildcard.handler()).ok());
  CAF_CHECK_EQUAL(sub->subscription_count(), 2u);
  CAF_REQUIRE(sub->flush(2s).ok());
  std::string binary{"a\0b\xff", 4};
  CAF_CHECK(pub->publish("codexchat.remote.relay.session.S1", binary).ok());
  CAF_CHECK(pub->publish("codexchat.remote.relay.session.S2", "second").ok());
  CAF_REQUIRE(exact.wait_for(1));
  CAF_REQUIRE(wildcard.wait_for(2));
  CAF_CHECK_EQUAL(exact.at(0).first, "codexchat.remote.relay.session.S1");
  CAF_CHECK_EQUAL(exact.at(0).second, binary);
  CAF_CHECK_EQUAL(wildcard.at(1).second, "second");
  // After unsubscribe nothing more arrives on that handler.
  CAF_CHECK(sub->unsubscribe(*id.value).ok());
  CAF_CHECK(!sub->unsubscribe(*id.value).ok());
  CAF_REQUIRE(sub->flush(2s).ok());
  CAF_CHECK(pub->publish("codexchat.remote.relay.session.S1", "late").ok());
  CAF_REQUIRE(wildcard.wait_for(3));  // the wildcard still sees it, so delivery happened
  CAF_CHECK_EQUAL(exact.size(), 1u);
  CAF_CHECK(!pub->publish("", "x").ok());
}

CAF_TEST(signed envelope crosses the bus) {
  CAF_REQUIRE(started);
  const std::string secret = "0123456789abcdef0123456789abcdef";
  auto a = connect();
  auto b = connect();
  CAF_REQUIRE(a && b);
  inbox in;
  CAF_REQUIRE(b->subscribe("codexchat.remote.relay.control", in.handler()).ok());
  CAF_REQUIRE(b->flush(2s).ok());
  bus_envelope env;
  env.session_id = "S1";
  env.source_instance_id = *random_id().value;
  env.target = "session_refresh";
  env.payload = R"({"type":"relay.session_refresh","sessionID":"S1"})";
  env.issued_at_ms = 1'000'000;
  env.nonce = *random_id().value;
  auto wire = encode_signed(env, secret);
  CAF_REQUIRE(wire.ok());
  CAF_CHECK(a->publish("codexchat.remote.relay.control", *wire.value).ok());
  CAF_REQUIRE(in.wait_for(1));
  replay_guard guard;
  auto got = accept_inbound(in.at(0).second, secret, "receiver-id-01", guard, 1'000'050);
  CAF_CHECK_EQUAL(vname(got.verdict), "accepted");
  CAF_CHECK_EQUAL(got.envelope.payload, env.payload);
  CAF_CHECK_EQUAL(
      vname(accept_inbound(in.at(0).second, secret, "receiver-id-01", guard, 1'000'060).verdict),
      "replayed");
}

CAF_TEST(reconnect after the server restarts on the same port) {
  CAF_REQUIRE(started);
  auto sub = connect();
  auto pub = connect();
  CAF_REQUIRE(sub && pub);
  inbox in;
  CAF_REQUIRE(sub->subscribe("rc.test.reconnect", in.handler()).ok());
  CAF_REQUIRE(sub->flush(2s).ok());
  CAF_CHECK(pub->publish("rc.test.reconnect", "before").ok());
  CAF_REQUIRE(in.wait_for(1));
  server.kill();
  CAF_CHECK(rc::test::wait_until([&] { return !sub->connected() && !pub->connected(); }));
  CAF_CHECK(rc::test::wait_until([&] { return disconnects.load() >= 2; }));
  CAF_REQUIRE(server.start());
  CAF_CHECK(rc::test::wait_until([&] { return sub->connected() && pub->connected(); }, 10s));
  CAF_CHECK(rc::test::wait_until([&] { return reconnects.load() >= 2; }));
  // Subscriptions are restored by the client: a fresh publish arrives.
  CAF_REQUIRE(sub->flush(2s).ok());
  CAF_CHECK(pub->publish("rc.test.reconnect", "after").ok());
  CAF_REQUIRE(pub->flush(2s).ok());
  CAF_REQUIRE(in.wait_for(2));
  CAF_CHECK_EQUAL(in.at(in.size() - 1).second, "after");
  CAF_CHECK_EQUAL(closes.load(), 0);
}

CAF_TEST(close is idempotent and fires on_closed once) {
  CAF_REQUIRE(started);
  auto bus = connect();
  CAF_REQUIRE(bus);
  inbox in;
  CAF_REQUIRE(bus->subscribe("rc.test.close", in.handler()).ok());
  bus->close();
  bus->close();
  CAF_CHECK(!bus->connected());
  CAF_CHECK_EQUAL(closes.load(), 1);
  CAF_CHECK(!bus->publish("rc.test.close", "x").ok());
  CAF_CHECK(!bus->subscribe("rc.test.close", in.handler()).ok());
  CAF_CHECK_EQUAL(bus->subscription_count(), 0u);
  bus.reset();
  CAF_CHECK_EQUAL(closes.load(), 1);
}

CAF_TEST_FIXTURE_SCOPE_END()

CAF_TEST(connect failure is an error value with a redacted url) {
  auto port = rc::test::free_port();
  nats_bus_options opts;
  opts.url = "nats://relay:hunter2-secret@127.0.0.1:" + std::to_string(port);
  opts.connect_timeout = 500ms;
  auto bus = nats_bus::connect(opts);
  CAF_CHECK(!bus.ok());
  CAF_CHECK(bus.error.find("hunter2") == std::string::npos);
  CAF_CHECK(bus.error.find("***@127.0.0.1") != std::string::npos);
  CAF_MESSAGE("error: " << bus.error);
}
