// Web push hub (docs/PUSH.md): subscriptions, visibility, burst collapsing, what 201 / 404 /
// 410 / 429 / 5xx mean, Retry-After, bounded attempts and queue, state file round trip.
#define CAF_SUITE bridge_push_hub
#include "caf/test/unit_test.hpp"

#include "desktop-bridge/push_hub.hpp"

using namespace rc::bridge;
using nlohmann::json;

namespace {
struct ua {
  e2ee::ecdh_key key;
  e2ee::bytes auth = e2ee::random_bytes(16);
  json sub(const std::string& path = "/p/1") const {
    return {{"endpoint", "https://push.example" + path},
            {"p256dh", e2ee::b64u(key.public_point())},
            {"auth", e2ee::b64u(auth)}};
  }
};
const json all = {{"approval", true}, {"turn", true}, {"pairing", true}};
std::string header(const net::http_request& r, const std::string& k) {
  for (auto& [n, v] : r.headers)
    if (n == k) return v;
  return {};
}
}  // namespace

CAF_TEST(subscribe_notify_deliver) {
  push::hub h;
  ua phone;
  CAF_CHECK_EQUAL(h.state("D1").at("subscribed").get<bool>(), false);
  CAF_CHECK_EQUAL(h.subscribe("D1", phone.sub(), all), "");
  CAF_CHECK(h.take_changed());
  auto st = h.state("D1");
  CAF_CHECK_EQUAL(st["subscribed"], true);
  CAF_CHECK_EQUAL(st["vapidPublicKey"], e2ee::b64u(h.vapid_public()));
  CAF_CHECK(h.notify(push::kind::turn, "T1", "Turn finished", "Thread", 1000).empty());
  auto a = h.next(1000);
  CAF_REQUIRE(a.has_value());
  CAF_CHECK_EQUAL(a->req.url, "https://push.example/p/1");
  CAF_CHECK_EQUAL(header(a->req, "Content-Encoding"), "aes128gcm");
  CAF_CHECK_EQUAL(header(a->req, "Topic").size(), 32u);
  CAF_CHECK_EQUAL(header(a->req, "Urgency"), "normal");
  auto pt =
      push::decrypt(e2ee::bytes(a->req.body.begin(), a->req.body.end()), phone.key, phone.auth);
  CAF_REQUIRE(pt.has_value());
  auto j = json::parse(*pt);
  CAF_CHECK_EQUAL(j["kind"], "turn");
  CAF_CHECK_EQUAL(j["threadID"], "T1");
  CAF_CHECK_EQUAL(j["v"], 1);
  // The JWT in Authorization verifies with the announced key.
  auto authz = header(a->req, "Authorization");
  auto jwt = authz.substr(8, authz.find(", k=") - 8);
  auto c = push::verify_vapid_jwt(jwt, h.vapid_public());
  CAF_REQUIRE(c.has_value());
  CAF_CHECK_EQUAL(c->aud, "https://push.example");
  CAF_CHECK(!h.next(1000).has_value());  // one in flight per device
  CAF_CHECK(h.on_response(a->id, 201, "", 1100).w == push::hub::answer::what::delivered);
  CAF_CHECK_EQUAL(h.pending(), 0u);
  // Invalid subscriptions and local endpoints are refused.
  auto bad = phone.sub();
  bad["endpoint"] = "https://127.0.0.1/x";
  CAF_CHECK_EQUAL(h.subscribe("D2", bad, all), "invalid_subscription");
  CAF_CHECK_EQUAL(h.subscribe("D2", phone.sub(), json{{"turn", true}}), "invalid_subscription");
}

CAF_TEST(visible_skips_collapse_and_kinds) {
  push::hub h;
  ua phone;
  json kinds = {{"approval", true}, {"turn", false}, {"pairing", true}};
  CAF_REQUIRE_EQUAL(h.subscribe("D1", phone.sub(), kinds), "");
  h.notify(push::kind::turn, "T1", "t", "b", 1);  // kind switched off
  CAF_CHECK_EQUAL(h.pending(), 0u);
  h.notify(push::kind::pairing, "", "p", "b", 1);  // pairing pushes off by default (config)
  CAF_CHECK_EQUAL(h.pending(), 0u);
  h.set_visible("D1", true);
  auto skipped = h.notify(push::kind::approval, "T1", "a", "b", 1);
  CAF_CHECK_EQUAL(skipped.size(), 1u);
  CAF_CHECK_EQUAL(h.pending(), 0u);
  h.set_visible("D1", false);
  for (int i = 0; i < 5; ++i) h.notify(push::kind::approval, "T1", "a", std::to_string(i), i);
  CAF_CHECK_EQUAL(h.pending(), 1u);  // collapsed: one per thread and kind
  h.notify(push::kind::approval, "T2", "a", "x", 9);
  CAF_CHECK_EQUAL(h.pending(), 2u);
  auto a = h.next(10);
  CAF_REQUIRE(a.has_value());
  auto j = json::parse(
      *push::decrypt(e2ee::bytes(a->req.body.begin(), a->req.body.end()), phone.key, phone.auth));
  CAF_CHECK_EQUAL(j["body"], "4");  // the newest one
  // The phone becomes visible: what waits is dropped.
  h.set_visible("D1", true);
  CAF_CHECK_EQUAL(h.pending(), 1u);  // only the one in flight
  // Bounded queue.
  push::hub g;
  CAF_REQUIRE_EQUAL(g.subscribe("D1", phone.sub(), kinds), "");
  for (int i = 0; i < 1000; ++i)
    g.notify(push::kind::approval, "T" + std::to_string(i), "a", "b", i);
  CAF_CHECK_EQUAL(g.pending(), push::hub::max_pending);
}

CAF_TEST(gone_backoff_and_attempts) {
  push::hub h;
  ua phone;
  CAF_REQUIRE_EQUAL(h.subscribe("D1", phone.sub(), all), "");
  h.notify(push::kind::turn, "T1", "t", "b", 0);
  // 429 with Retry-After: nothing is sent before it ends.
  auto a = h.next(0);
  CAF_REQUIRE(a.has_value());
  auto r = h.on_response(a->id, 429, "7", 1000);
  CAF_CHECK(r.w == push::hub::answer::what::retry);
  CAF_CHECK_EQUAL(r.retry_at_ms, 8000);
  int64_t wake = 0;
  CAF_CHECK(!h.next(7999, &wake).has_value());
  CAF_CHECK_EQUAL(wake, 8000);
  a = h.next(8000);
  CAF_REQUIRE(a.has_value());
  // 5xx without Retry-After: exponential back-off; after max_attempts the notification is dropped.
  r = h.on_response(a->id, 503, "", 8000);
  CAF_CHECK(r.w == push::hub::answer::what::retry);
  CAF_CHECK_EQUAL(r.retry_at_ms, 8000 + 2000);
  a = h.next(10000);
  CAF_REQUIRE(a.has_value());
  r = h.on_response(a->id, 0, "", 10000);  // timeout / transport error
  CAF_CHECK(r.w == push::hub::answer::what::retry);
  a = h.next(r.retry_at_ms);
  CAF_REQUIRE(a.has_value());
  r = h.on_response(a->id, 500, "", r.retry_at_ms);
  CAF_CHECK(r.w == push::hub::answer::what::dropped);  // 4 attempts
  CAF_CHECK_EQUAL(h.pending(), 0u);
  CAF_CHECK(h.subscribed("D1"));
  // 410: the subscription is removed.
  h.notify(push::kind::turn, "T1", "t", "b", 0);
  a = h.next(1'000'000);
  CAF_REQUIRE(a.has_value());
  CAF_CHECK(h.on_response(a->id, 410, "", 1'000'000).w == push::hub::answer::what::gone);
  CAF_CHECK(!h.subscribed("D1"));
  CAF_CHECK_EQUAL(h.state("D1").at("subscribed").get<bool>(), false);
  // 400-like answers drop the notification without retry, the subscription stays.
  CAF_REQUIRE_EQUAL(h.subscribe("D1", phone.sub(), all), "");
  h.notify(push::kind::turn, "T1", "t", "b", 0);
  a = h.next(2'000'000);
  CAF_REQUIRE(a.has_value());
  CAF_CHECK(h.on_response(a->id, 413, "", 2'000'000).w == push::hub::answer::what::dropped);
  CAF_CHECK(h.subscribed("D1"));
}

CAF_TEST(retry_after_and_state_round_trip) {
  CAF_CHECK_EQUAL(push::hub::parse_retry_after("120", 0).value_or(-1), 120000);
  CAF_CHECK_EQUAL(push::hub::parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111777000 - 5000)
                      .value_or(-1),
                  5000);
  CAF_CHECK(!push::hub::parse_retry_after("soon", 0).has_value());
  CAF_CHECK(!push::hub::parse_retry_after("", 0).has_value());
  push::hub h;
  ua phone;
  CAF_REQUIRE_EQUAL(h.subscribe("D1", phone.sub(), all), "");
  auto key = h.vapid_public();
  auto saved = h.store();
  push::hub g;
  g.load(saved);
  CAF_CHECK(g.subscribed("D1"));
  CAF_CHECK(g.vapid_public() == key);
  CAF_CHECK(!g.take_changed());
  CAF_CHECK(g.unsubscribe("D1"));
  CAF_CHECK(g.take_changed());
  CAF_CHECK(!g.subscribed("D1"));
  // A corrupted key voids the subscriptions (they were made for the old key).
  saved["vapid"] = "AAAA";
  push::hub k;
  k.load(saved);
  CAF_CHECK(!k.subscribed("D1"));
}
