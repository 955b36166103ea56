#define CAF_SUITE persistence_memory_store
#include "caf/test/unit_test.hpp"

#include "persistence/memory_store.hpp"
#include "store_contract.hpp"

using namespace rc::persistence;

CAF_TEST(save and load round trip) {
  memory_store store;
  rc::test::contract_round_trip(store);
}

CAF_TEST(stale version is a no - op) {
  memory_store store;
  rc::test::contract_stale_version(store);
}

CAF_TEST(delete leaves a tombstone) {
  memory_store store;
  rc::test::contract_tombstone(store);
}

CAF_TEST(bounded by max sessions) {
  memory_store store{2};
  rc::test::contract_bounded(store);
}

CAF_TEST(invalid arguments) {
  memory_store store;
  rc::test::contract_invalid(store);
}
