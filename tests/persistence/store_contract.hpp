#pragma once

// The state_store contract (CONFIG_REFERENCE §4.3) shared by the memory and SQLite suites:
// each check takes a fresh store. Include after caf/test/unit_test.hpp.

#include <string>

#include "persistence/state_store.hpp"
#include "test_records.hpp"

namespace rc::test {

inline void contract_round_trip(persistence::state_store& store) {
  using rc::persistence::session_record;
  CAF_CHECK(store.healthy());
  CAF_CHECK_EQUAL(str(store.save(full_session("a"), 1).status), "ok");
  CAF_CHECK_EQUAL(str(store.save(fresh_session("b"), 1).status), "ok");
  auto a = store.load("a");
  CAF_CHECK_EQUAL(str(a.status), "ok");
  CAF_REQUIRE(a.record.has_value());
  CAF_CHECK(*a.record == full_session("a"));
  CAF_CHECK_EQUAL(a.version, 1u);
  auto all = store.load_all();
  CAF_CHECK_EQUAL(str(all.status), "ok");
  CAF_CHECK_EQUAL(all.records.size(), 2u);
  CAF_CHECK_EQUAL(all.max_version, 1u);
  CAF_CHECK_EQUAL(str(store.load("missing").status), "not_found");
  CAF_CHECK_EQUAL(store.load("missing").version, 0u);
}

inline void contract_stale_version(persistence::state_store& store) {
  using rc::persistence::session_record;
  auto v5 = fresh_session("s");
  v5.join_token = "v5";
  CAF_CHECK_EQUAL(str(store.save(v5, 5).status), "ok");
  auto v4 = fresh_session("s");
  v4.join_token = "v4";
  CAF_CHECK_EQUAL(str(store.save(v4, 4).status), "stale_version");
  CAF_CHECK_EQUAL(store.load("s").record.value_or(session_record{}).join_token, "v5");
  CAF_CHECK_EQUAL(store.load("s").version, 5u);
  // An equal version is refused (compare-and-set: guard is stored < new).
  auto v5b = fresh_session("s");
  v5b.join_token = "v5b";
  CAF_CHECK_EQUAL(str(store.save(v5b, 5).status), "stale_version");
  CAF_CHECK_EQUAL(store.load("s").record.value_or(session_record{}).join_token, "v5");
  CAF_CHECK_EQUAL(str(store.save(v5b, 6).status), "ok");
  CAF_CHECK_EQUAL(store.load("s").record.value_or(session_record{}).join_token, "v5b");
}

template <class Store>
void contract_tombstone(Store& store) {
  CAF_CHECK_EQUAL(str(store.save(fresh_session("s"), 3).status), "ok");
  CAF_CHECK_EQUAL(str(store.remove("s", 2).status), "stale_version");
  CAF_CHECK_EQUAL(str(store.remove("s", 3).status), "stale_version");
  CAF_CHECK(store.load("s").record.has_value());
  CAF_CHECK_EQUAL(str(store.remove("s", 4).status), "ok");
  auto gone = store.load("s");
  CAF_CHECK_EQUAL(str(gone.status), "not_found");
  CAF_CHECK_EQUAL(gone.version, 4u);
  CAF_CHECK_EQUAL(store.tombstones(), 1u);
  CAF_CHECK(store.load_all().records.empty());
  // A writer whose counter is behind loses; a newer one resurrects.
  CAF_CHECK_EQUAL(str(store.save(fresh_session("s"), 3).status), "stale_version");
  CAF_CHECK_EQUAL(str(store.load("s").status), "not_found");
  CAF_CHECK_EQUAL(str(store.save(fresh_session("s"), 5).status), "ok");
  CAF_CHECK_EQUAL(store.tombstones(), 0u);
  CAF_CHECK_EQUAL(store.load("s").version, 5u);
}

/// `store` was built with max_sessions = 2.
template <class Store>
void contract_bounded(Store& store) {
  CAF_CHECK_EQUAL(str(store.save(fresh_session("a"), 1).status), "ok");
  CAF_CHECK_EQUAL(str(store.save(fresh_session("b"), 1).status), "ok");
  CAF_CHECK_EQUAL(str(store.save(fresh_session("c"), 1).status), "full");
  CAF_CHECK_EQUAL(str(store.save(fresh_session("a"), 2).status), "ok");  // update still fine
  CAF_CHECK_EQUAL(store.size(), 2u);
  // Tombstones are bounded too (oldest forgotten).
  for (int i = 0; i < 10; ++i) store.remove("t" + std::to_string(i), 1);
  CAF_CHECK_EQUAL(store.tombstones(), 2u);
  CAF_CHECK_EQUAL(store.load("t9").version, 1u);
  CAF_CHECK_EQUAL(store.load("t0").version, 0u);
}

inline void contract_invalid(persistence::state_store& store) {
  CAF_CHECK_EQUAL(str(store.save(fresh_session(""), 1).status), "invalid");
  CAF_CHECK_EQUAL(str(store.save(fresh_session("x"), 0).status), "invalid");
  CAF_CHECK_EQUAL(str(store.remove("", 1).status), "invalid");
  CAF_CHECK_EQUAL(str(store.remove("x", 0).status), "invalid");
}

}  // namespace rc::test
