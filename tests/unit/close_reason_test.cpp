// close_reason / relay_error enums (protocol/close_reason.hpp) and their per-reason counters as
// /metricsz and /metrics render them.
#define CAF_SUITE relay_close_reason
#define FAIL(msg) CAF_FAIL(msg)  // CAF 0.17.6 DSL bug workaround (before dsl.hpp)
#include "caf/test/dsl.hpp"

#include <set>

#include "gateway/metrics.hpp"
#include "protocol/close_reason.hpp"
#include "relay_fixture.hpp"

using namespace rc_test;
using rc::gw::health_json;
using rc::gw::health_status;
using rc::gw::metricsz_json;
using rc::gw::prometheus_text;
using rc::proto::close_reason;
using rc::proto::relay_error;

namespace {

/// RELAY_PROTOCOL §7.4, in table order, plus the local-only `unloaded`.
const std::vector<std::string> wire_reasons = {"session_expired",
                                               "stopped_by_desktop",
                                               "replaced_by_new_pair_start",
                                               "device_revoked",
                                               "idle_timeout",
                                               "retention_expired",
                                               "desktop_reconnected",
                                               "device_reconnected",
                                               "slow_consumer",
                                               "socket_rate_limited",
                                               "heartbeat_timeout",
                                               "message_too_large",
                                               "relay_over_capacity",
                                               "server_shutdown",
                                               "removed_from_persistence",
                                               "unloaded"};

/// RELAY_PROTOCOL §7.3, in table order.
const std::vector<std::string> error_codes = {
    "desktop_offline",    "invalid_payload",       "invalid_snapshot_request",
    "invalid_session",    "snapshot_rate_limited", "invalid_command",
    "unsupported_schema", "replayed_command",      "command_rate_limited"};

}  // namespace

CAF_TEST(every close reason has its wire string once and parses back) {
  CAF_REQUIRE_EQUAL(rc::proto::close_reason_count, wire_reasons.size());
  std::set<std::string> seen;
  for (auto r : rc::proto::all_close_reasons()) {
    std::string s = rc::proto::to_string(r);
    CAF_CHECK_EQUAL(s, wire_reasons[static_cast<std::size_t>(r)]);
    CAF_CHECK(seen.insert(s).second);
    auto back = rc::proto::parse_close_reason(s);
    CAF_REQUIRE(back.has_value());
    CAF_CHECK(*back == r);
  }
  CAF_CHECK(!rc::proto::parse_close_reason("").has_value());
  CAF_CHECK(!rc::proto::parse_close_reason("Session_expired").has_value());
  CAF_CHECK(!rc::proto::parse_close_reason("session_expired ").has_value());
}

CAF_TEST(disconnect frames are byte exact) {
  CAF_CHECK_EQUAL(rc::proto::disconnect_frame(close_reason::slow_consumer),
                  R"({"type":"disconnect","reason":"slow_consumer"})");
  for (auto r : rc::proto::all_close_reasons()) {
    auto j = json::parse(rc::proto::disconnect_frame(r));
    CAF_CHECK_EQUAL(str_of(j, "type"), "disconnect");
    CAF_CHECK_EQUAL(str_of(j, "reason"), rc::proto::to_string(r));
  }
}

CAF_TEST(every relay error code has its wire string once and parses back) {
  CAF_REQUIRE_EQUAL(rc::proto::relay_error_count, error_codes.size());
  for (std::size_t i = 0; i < error_codes.size(); ++i) {
    auto e = static_cast<relay_error>(i);
    CAF_CHECK_EQUAL(std::string(rc::proto::to_string(e)), error_codes[i]);
    auto back = rc::proto::parse_relay_error(error_codes[i]);
    CAF_REQUIRE(back.has_value());
    CAF_CHECK(*back == e);
  }
  CAF_CHECK(!rc::proto::parse_relay_error("rate_limited").has_value());
  auto j = json::parse(rc::proto::msg_relay_error(relay_error::replayed_command, "m"));
  CAF_CHECK_EQUAL(str_of(j, "error"), "replayed_command");
}

CAF_TEST_FIXTURE_SCOPE(close_counters, relay_fixture)

CAF_TEST(per reason close counters appear in metricsz and metrics) {
  ctx->io->count_close(close_reason::slow_consumer);
  ctx->io->count_close(close_reason::slow_consumer);
  ctx->io->count_close(close_reason::heartbeat_timeout);
  session_ids ids;
  auto d = start_with_desktop(ids);
  CAF_CHECK_EQUAL(api(rc::proto::route::pair_stop, desk_body(ids))->status, 200);
  CAF_CHECK_EQUAL(d.peer->last_disconnect(), "stopped_by_desktop");
  auto j = json::parse(metricsz_json(*ctx));
  auto& closes = j.at("disconnectReasons");
  CAF_CHECK_EQUAL(closes.size(), rc::proto::close_reason_count);
  CAF_CHECK_EQUAL(closes.at("slow_consumer").get<uint64_t>(), 2u);
  CAF_CHECK_EQUAL(closes.at("heartbeat_timeout").get<uint64_t>(), 1u);
  CAF_CHECK_EQUAL(closes.at("session_expired").get<uint64_t>(), 0u);
  CAF_CHECK_EQUAL(j.at("sessionCloseReasons").at("stopped_by_desktop").get<uint64_t>(), 1u);
  CAF_CHECK_EQUAL(j.at("sessionsClosed").get<uint64_t>(), 1u);
  auto text = prometheus_text(*ctx);
  auto has = [&](const std::string& line) { return text.find(line + "\n") != std::string::npos; };
  CAF_CHECK(has("# TYPE relay_disconnects_total counter"));
  CAF_CHECK(has(R"(relay_disconnects_total{reason="slow_consumer"} 2)"));
  CAF_CHECK(has(R"(relay_disconnects_total{reason="heartbeat_timeout"} 1)"));
  CAF_CHECK(has(R"(relay_disconnects_total{reason="message_too_large"} 0)"));
  CAF_CHECK(has(R"(relay_sessions_closed_total{reason="stopped_by_desktop"} 1)"));
  CAF_CHECK(has(R"(relay_sessions_closed_total{reason="idle_timeout"} 0)"));
}

CAF_TEST(healthz says not ok while draining or while an enabled dependency is down) {
  // Issue 10 item 9: /healthz always answered "ok": true.
  auto h = [&] { return json::parse(health_json(*ctx)); };
  CAF_CHECK_EQUAL(h().at("ok").get<bool>(), true);
  CAF_CHECK_EQUAL(health_status(*ctx), 200);
  ctx->metrics.redis_enabled.store(true);
  ctx->metrics.redis_healthy.store(false);
  CAF_CHECK_EQUAL(h().at("ok").get<bool>(), false);
  CAF_CHECK_EQUAL(health_status(*ctx), 200);  // liveness must not restart every node
  ctx->metrics.redis_healthy.store(true);
  ctx->metrics.bus_enabled.store(true);
  ctx->metrics.bus_connected.store(false);
  CAF_CHECK_EQUAL(h().at("ok").get<bool>(), false);
  ctx->metrics.bus_connected.store(true);
  CAF_CHECK_EQUAL(h().at("ok").get<bool>(), true);
  ctx->metrics.shutting_down.store(true);
  CAF_CHECK_EQUAL(h().at("ok").get<bool>(), false);
  CAF_CHECK_EQUAL(h().at("draining").get<bool>(), true);
  CAF_CHECK_EQUAL(health_status(*ctx), 503);
}

CAF_TEST_FIXTURE_SCOPE_END()
