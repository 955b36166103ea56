// Rate limiting: the fixed window (SCENARIOS 46), the per-session limiter actor (device and
// session command budgets, snapshot budget) and the per-IP limiter in front of the broker.
#define CAF_SUITE relay_limiter
#define FAIL(msg) CAF_FAIL(msg)  // CAF 0.17.6 DSL bug workaround (before dsl.hpp)
#include "caf/test/dsl.hpp"

#include "relay_fixture.hpp"

using namespace rc_test;

namespace {

struct limiter_fixture : base_fixture {
  caf::actor limiter;
  explicit limiter_fixture(settings::relay_config cfg = test_config())
      : base_fixture(std::move(cfg)) {
    auto c = ctx;
    auto out = std::make_shared<caf::actor>();
    spawn_parent([c, out](caf::event_based_actor* p) {
      *out = caf::actor_cast<caf::actor>(spawn_session_limiter(p, c, "SESSION-limiter-0001"));
    });
    limiter = *out;
    CAF_REQUIRE(limiter);
  }
  std::tuple<bool, bool> cmd(const std::string& device) {
    return request<bool, bool>(limiter, cmd_atom::value, device);
  }
  bool snap(const std::string& device) { return request<bool>(limiter, snap_atom::value, device); }
};

/// Device budget 2, session budget 100, snapshot budget 2.
struct small_budgets {
  static void apply(settings::relay_config& c) {
    c.max_remote_commands_per_minute = 2;
    c.max_remote_session_commands_per_minute = 100;
    c.max_snapshot_requests_per_minute = 2;
  }
};
using small_budgets_fixture = with_config<limiter_fixture, small_budgets>;

/// Device budget 2, session budget 2.
struct small_session_budget {
  static void apply(settings::relay_config& c) {
    c.max_remote_commands_per_minute = 2;
    c.max_remote_session_commands_per_minute = 2;
  }
};
using small_session_budget_fixture = with_config<limiter_fixture, small_session_budget>;

}  // namespace

CAF_TEST(fixed window allows limit then denies then resets) {
  // SCENARIOS 46 / RELAY_PROTOCOL §10.
  fixed_window w;
  const int64_t t = 1000;
  CAF_CHECK(w.consume(t, 2, 60000));
  CAF_CHECK_EQUAL(w.window_end, t + 60000);
  CAF_CHECK(w.consume(t + 10, 2, 60000));
  CAF_CHECK(!w.consume(t + 20, 2, 60000));
  CAF_CHECK(!w.consume(t + 59999, 2, 60000));
  CAF_CHECK(!w.expired(t + 59999));
  CAF_CHECK(w.expired(t + 60000));
  CAF_CHECK(w.consume(t + 60000, 2, 60000));  // window ended: count = 1, new window
  CAF_CHECK_EQUAL(w.count, 1u);
  CAF_CHECK_EQUAL(w.window_end, t + 120000);
  CAF_CHECK(w.consume(t + 60001, 2, 60000));
  CAF_CHECK(!w.consume(t + 60002, 2, 60000));
}

CAF_TEST(fixed window limit zero denies everything inside the window) {
  fixed_window w;
  CAF_CHECK(!w.consume(5, 0, 1000));
  CAF_CHECK(!w.consume(6, 0, 1000));
}

CAF_TEST_FIXTURE_SCOPE(limiter_tests, small_budgets_fixture)

CAF_TEST(device command budget is per device) {
  CAF_CHECK(cmd("devA") == std::make_tuple(true, true));
  CAF_CHECK(cmd("devA") == std::make_tuple(true, true));
  CAF_CHECK(cmd("devA") == std::make_tuple(false, false));  // device budget spent
  CAF_CHECK(cmd("devB") == std::make_tuple(true, true));    // other device unaffected
  CAF_CHECK_EQUAL(ctx->metrics.command_buckets.load(), 2);
  clock->fetch_add(60000);
  CAF_CHECK(cmd("devA") == std::make_tuple(true, true));  // new window
}

CAF_TEST(snapshot budget and drop) {
  CAF_CHECK(snap("devA"));
  CAF_CHECK(snap("devA"));
  CAF_CHECK(!snap("devA"));
  CAF_CHECK_EQUAL(ctx->metrics.snapshot_buckets.load(), 1);
  self->send(limiter, drop_atom::value, std::string("devA"));
  run();
  CAF_CHECK_EQUAL(ctx->metrics.snapshot_buckets.load(), 0);
  CAF_CHECK(snap("devA"));  // revoke clears the device's buckets
}

CAF_TEST_FIXTURE_SCOPE_END()

CAF_TEST_FIXTURE_SCOPE(limiter_session_budget, small_session_budget_fixture)

CAF_TEST(session command budget is shared and device budget is consumed first) {
  CAF_CHECK(cmd("devA") == std::make_tuple(true, true));
  CAF_CHECK(cmd("devB") == std::make_tuple(true, true));
  CAF_CHECK(cmd("devA") == std::make_tuple(true, false));  // session saturated
  auto d = json::parse(request<std::string>(limiter, describe_atom::value));
  CAF_CHECK_EQUAL(d.at("sessionCommandsInWindow").get<uint64_t>(), 3u);
  // devA spent both of its device units even though the session rejected the second one.
  CAF_CHECK(cmd("devA") == std::make_tuple(false, false));
}

CAF_TEST_FIXTURE_SCOPE_END()

struct ip_budget_2 {
  static void apply(settings::relay_config& c) { c.max_pair_requests_per_minute = 2; }
};
using ip_budget_fixture = with_config<relay_fixture, ip_budget_2>;

CAF_TEST_FIXTURE_SCOPE(ip_limiter_budget, ip_budget_fixture)

CAF_TEST(per ip limiter answers 429 after the budget) {
  session_ids ids;
  json stop = desk_body(ids);  // unknown session: pair/stop answers 200
  CAF_CHECK_EQUAL(val(api(proto::route::pair_stop, stop, "10.0.0.1")->status), 200);
  CAF_CHECK_EQUAL(val(api(proto::route::pair_stop, stop, "10.0.0.1")->status), 200);
  auto third = api(proto::route::pair_stop, stop, "10.0.0.1");
  CAF_CHECK_EQUAL(third->status, 429);
  CAF_CHECK_EQUAL(third->error(), "rate_limited");
  CAF_CHECK_EQUAL(str_of(third->j(), "message"),
                  "Too many relay management requests. Try again in a minute.");
  auto join = api(proto::route::pair_join, join_body(ids), "10.0.0.1");
  CAF_CHECK_EQUAL(join->status, 429);
  CAF_CHECK_EQUAL(str_of(join->j(), "message"),
                  "Too many pairing attempts. Try again in a minute.");
  CAF_CHECK_EQUAL(val(api(proto::route::pair_stop, stop, "10.0.0.2")->status), 200);  // other IP
  CAF_CHECK_EQUAL(ctx->metrics.ip_buckets.load(), 2);
  advance(60000);
  CAF_CHECK_EQUAL(val(api(proto::route::pair_stop, stop, "10.0.0.1")->status), 200);
  // Sweep prunes expired buckets.
  advance(60000);
  self->send(broker, sweep_atom::value);
  drain();
  CAF_CHECK_EQUAL(ctx->metrics.ip_buckets.load(), 0);
}

CAF_TEST_FIXTURE_SCOPE_END()
