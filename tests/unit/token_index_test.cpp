// token_index (the broker's token → session map) and session_tokens (index operations,
// pruning and rotation of one session's tokens): plain classes, no actors.
#define CAF_SUITE relay_token_index
#include "caf/test/unit_test.hpp"

#include "actors/token_index.hpp"

using rc::actors::index_op;
using rc::actors::session_tokens;
using rc::actors::token_index;
using rc::persistence::device_record;
using rc::persistence::session_record;

namespace {

constexpr int64_t now = 1767225600000;

session_record record() {
  session_record r;
  r.session_id = "SESSION-1";
  r.desktop_session_token = "DESK";
  device_record a;
  a.current_session_token = "A-CUR";
  a.retired_session_tokens = {{"A-OLD", now + 1000}, {"A-DEAD", now - 1}};
  device_record b;
  b.current_session_token = "B-CUR";
  r.devices = {{"DEV-A", a}, {"DEV-B", b}};
  return r;
}

}  // namespace

CAF_TEST(index adopt resolves current and unexpired retired tokens) {
  token_index idx;
  idx.adopt(record(), now);
  CAF_REQUIRE(idx.desktop("DESK") != nullptr);
  CAF_CHECK_EQUAL(*idx.desktop("DESK"), "SESSION-1");
  CAF_CHECK(idx.desktop("A-CUR") == nullptr);
  auto* a = idx.device("A-CUR", now);
  CAF_REQUIRE(a != nullptr);
  CAF_CHECK_EQUAL(a->device_id, "DEV-A");
  CAF_CHECK_EQUAL(a->expires_at_ms, 0);
  CAF_CHECK(idx.device("A-OLD", now) != nullptr);
  CAF_CHECK(idx.device("A-OLD", now + 1000) == nullptr);  // expiry is exclusive
  CAF_CHECK(idx.device("A-DEAD", now) == nullptr);        // never indexed
  CAF_CHECK_EQUAL(idx.desktop_tokens(), 1u);
  CAF_CHECK_EQUAL(idx.device_tokens(), 3u);
}

CAF_TEST(index expire and drop session) {
  token_index idx;
  idx.adopt(record(), now);
  idx.expire(now + 1000);
  CAF_CHECK_EQUAL(idx.device_tokens(), 2u);  // A-OLD gone; current tokens never expire
  auto other = record();
  other.session_id = "SESSION-2";
  other.desktop_session_token = "DESK-2";
  other.devices.clear();
  idx.adopt(other, now);
  idx.drop_session("SESSION-1");
  CAF_CHECK(idx.desktop("DESK") == nullptr);
  CAF_CHECK(idx.device("A-CUR", now) == nullptr);
  CAF_CHECK(idx.desktop("DESK-2") != nullptr);
  CAF_CHECK_EQUAL(idx.device_tokens(), 0u);
}

CAF_TEST(session token ops add and remove everything) {
  auto rec = record();
  session_tokens t(rec);
  token_index idx;
  idx.apply(t.all(true));
  CAF_CHECK(idx.desktop("DESK") != nullptr);
  CAF_CHECK_EQUAL(idx.device_tokens(), 4u);  // ops include the expired retired token
  idx.apply(t.all(false));
  CAF_CHECK_EQUAL(idx.desktop_tokens(), 0u);
  CAF_CHECK_EQUAL(idx.device_tokens(), 0u);
  CAF_CHECK(t.desktop_ok("DESK"));
  CAF_CHECK(!t.desktop_ok("DESKX"));
  CAF_CHECK(!t.desktop_ok(""));
}

CAF_TEST(device accepts current and unexpired retired tokens only) {
  auto rec = record();
  auto& a = rec.devices["DEV-A"];
  CAF_CHECK(session_tokens::device_accepts(a, "A-CUR", now));
  CAF_CHECK(session_tokens::device_accepts(a, "A-OLD", now));
  CAF_CHECK(!session_tokens::device_accepts(a, "A-OLD", now + 1000));
  CAF_CHECK(!session_tokens::device_accepts(a, "A-DEAD", now));
  CAF_CHECK(!session_tokens::device_accepts(a, "B-CUR", now));
  CAF_CHECK(!session_tokens::device_accepts(a, "", now));
}

CAF_TEST(prune drops expired and the oldest beyond the bound) {
  auto rec = record();
  session_tokens t(rec);
  auto& a = rec.devices["DEV-A"];
  for (int i = 0; i < 10; ++i)
    a.retired_session_tokens.push_back({"R" + std::to_string(i), now + 5000});
  std::vector<index_op> ops;
  t.prune(a, "DEV-A", now, ops);
  CAF_CHECK_EQUAL(a.retired_session_tokens.size(), session_tokens::max_retired);
  // A-DEAD (expired) and the three oldest unexpired (A-OLD, R0, R1) are removed.
  CAF_REQUIRE_EQUAL(ops.size(), 4u);
  for (auto& o : ops) CAF_CHECK_EQUAL(o.kind, index_op::remove);
  CAF_CHECK_EQUAL(ops[0].token, "A-DEAD");
  CAF_CHECK_EQUAL(ops[1].token, "A-OLD");
  CAF_CHECK_EQUAL(ops[3].token, "R1");
  CAF_CHECK_EQUAL(a.retired_session_tokens.front().token, "R2");
}

CAF_TEST(rotation with grace keeps the old token for the grace period) {
  auto rec = record();
  session_tokens t(rec);
  auto& b = rec.devices["DEV-B"];
  auto r = t.rotate(b, "DEV-B", "B-NEXT", now, 30000);
  CAF_CHECK_EQUAL(r.before.current_session_token, "B-CUR");
  CAF_CHECK_EQUAL(b.current_session_token, "B-NEXT");
  CAF_CHECK_EQUAL(b.last_seen_at_ms, now);
  CAF_REQUIRE_EQUAL(b.retired_session_tokens.size(), 1u);
  CAF_CHECK_EQUAL(b.retired_session_tokens[0].token, "B-CUR");
  CAF_CHECK_EQUAL(b.retired_session_tokens[0].expires_at_ms, now + 30000);
  token_index idx;
  idx.adopt(rec, now);
  idx.apply(r.ops);
  CAF_CHECK(idx.device("B-NEXT", now) != nullptr);
  CAF_CHECK(idx.device("B-CUR", now + 29999) != nullptr);
  CAF_CHECK(idx.device("B-CUR", now + 30000) == nullptr);
  CAF_CHECK(session_tokens::device_accepts(b, "B-CUR", now + 29999));
  CAF_CHECK(!session_tokens::device_accepts(b, "B-CUR", now + 30000));
}

CAF_TEST(rotation without grace invalidates the old token at once) {
  auto rec = record();
  session_tokens t(rec);
  auto& b = rec.devices["DEV-B"];
  token_index idx;
  idx.adopt(rec, now);
  auto r = t.rotate(b, "DEV-B", "B-NEXT", now, 0);
  CAF_CHECK(b.retired_session_tokens.empty());
  idx.apply(r.ops);
  CAF_CHECK(idx.device("B-CUR", now) == nullptr);
  CAF_CHECK(idx.device("B-NEXT", now) != nullptr);
  CAF_CHECK(!session_tokens::device_accepts(b, "B-CUR", now));
  // The rollback copy restores the device exactly.
  b = r.before;
  CAF_CHECK_EQUAL(b.current_session_token, "B-CUR");
}
