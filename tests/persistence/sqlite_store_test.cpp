#define CAF_SUITE persistence_sqlite_store
#include "caf/test/unit_test.hpp"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include "persistence/sqlite_store.hpp"
#include "store_contract.hpp"

using namespace rc::persistence;
using rc::test::fresh_session;
using rc::test::full_session;
using rc::test::str;

namespace {

/// A fresh temporary directory with `path` = <dir>/state.db; removed at the end.
struct fixture {
  std::string dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    std::string t =
        std::string{tmp != nullptr && *tmp != '\0' ? tmp : "/tmp"} + "/rc-sqlite-XXXXXX";
    return std::string{mkdtemp(t.data()) != nullptr ? t.c_str() : ""};
  }();
  std::string path = dir + "/state.db";

  ~fixture() {
    if (!dir.empty()) std::system(("rm -rf '" + dir + "'").c_str());
  }

  sqlite_store_options opts(std::size_t max = 100) const {
    sqlite_store_options o;
    o.path = path;
    o.max_sessions = max;
    return o;
  }

  std::unique_ptr<sqlite_store> open(std::size_t max = 100) {
    auto r = sqlite_store::open(opts(max));
    if (!r.store) CAF_FAIL("open failed: " << r.error);
    return std::move(r.store);
  }

  void write_file(const std::string& p, const std::string& bytes) const {
    std::ofstream f{p, std::ios::binary | std::ios::trunc};
    f << bytes;
  }

  std::string read_file(const std::string& p) const {
    std::ifstream f{p, std::ios::binary};
    return {std::istreambuf_iterator<char>{f}, std::istreambuf_iterator<char>{}};
  }

  /// Runs SQL on the file with a plain SQLite connection (the store must be closed).
  bool raw_sql(const std::string& sql) const {
    sqlite3* db = nullptr;
    bool ok = sqlite3_open(path.c_str(), &db) == SQLITE_OK &&
              sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK;
    sqlite3_close(db);
    return ok;
  }
};

}  // namespace

CAF_TEST_FIXTURE_SCOPE(sqlite_store_tests, fixture)

CAF_TEST(contract round trip) {
  rc::test::contract_round_trip(*open());
}

CAF_TEST(contract stale version) {
  rc::test::contract_stale_version(*open());
}

CAF_TEST(contract tombstone) {
  rc::test::contract_tombstone(*open());
}

CAF_TEST(contract bounded) {
  rc::test::contract_bounded(*open(2));
}

CAF_TEST(contract invalid) {
  rc::test::contract_invalid(*open());
}

CAF_TEST(state survives closing and reopening) {
  {
    auto s = open();
    CAF_CHECK_EQUAL(str(s->save(full_session("a"), 3).status), "ok");
    CAF_CHECK_EQUAL(str(s->save(fresh_session("b"), 4).status), "ok");
    CAF_CHECK_EQUAL(str(s->save(fresh_session("gone"), 5).status), "ok");
    CAF_CHECK_EQUAL(str(s->remove("gone", 9).status), "ok");
  }
  struct stat st {};
  CAF_REQUIRE(::stat(path.c_str(), &st) == 0);
  CAF_CHECK_EQUAL(st.st_mode & 0777, 0600u);  // holds tokens: owner only
  auto s = open();
  CAF_CHECK_EQUAL(s->size(), 2u);
  CAF_CHECK_EQUAL(s->tombstones(), 1u);
  auto all = s->load_all();
  CAF_CHECK_EQUAL(str(all.status), "ok");
  CAF_REQUIRE_EQUAL(all.records.size(), 2u);
  CAF_CHECK(all.records[0].record == full_session("a"));
  CAF_CHECK_EQUAL(all.records[0].version, 3u);
  CAF_CHECK(all.records[1].record == fresh_session("b"));
  CAF_CHECK_EQUAL(all.max_version, 9u);  // the tombstone's version counts
  CAF_CHECK_EQUAL(s->load("gone").version, 9u);
  CAF_CHECK_EQUAL(str(s->save(fresh_session("gone"), 8).status), "stale_version");
}

CAF_TEST(a second process on the same file is refused) {
  auto first = open();
  CAF_CHECK_EQUAL(str(first->save(fresh_session("a"), 1).status), "ok");
  auto second = sqlite_store::open(opts());
  CAF_CHECK(!second.store);
  CAF_CHECK(second.error.find("in use by another process") != std::string::npos);
  CAF_CHECK(second.error.find(path) != std::string::npos);
  CAF_MESSAGE(second.error);
  CAF_CHECK(first->healthy());
  CAF_CHECK_EQUAL(str(first->load("a").status), "ok");
}

CAF_TEST(a garbage file refuses to open and is left untouched) {
  std::string junk(8192, 'x');
  write_file(path, junk);
  auto r = sqlite_store::open(opts());
  CAF_CHECK(!r.store);
  CAF_CHECK(r.error.find(path) != std::string::npos);
  CAF_CHECK(r.error.find("corrupt") != std::string::npos);
  CAF_CHECK(r.error.find("STATE_QUARANTINE") != std::string::npos);
  CAF_CHECK(r.quarantined_to.empty());
  CAF_MESSAGE(r.error);
  CAF_CHECK(read_file(path) == junk);
}

CAF_TEST(damaged pages refuse to open) {
  {
    auto s = open();
    for (int i = 0; i < 50; ++i)
      CAF_CHECK_EQUAL(str(s->save(full_session("s" + std::to_string(i)), 1).status), "ok");
  }
  auto bytes = read_file(path);
  CAF_REQUIRE(bytes.size() >= 3 * 4096);
  for (std::size_t i = 4096; i < 2 * 4096; ++i) bytes[i] = '\xff';  // page 2: the table root
  write_file(path, bytes);
  auto r = sqlite_store::open(opts());
  CAF_CHECK(!r.store);
  CAF_CHECK(r.error.find(path) != std::string::npos);
  CAF_CHECK(r.error.find("corrupt") != std::string::npos);
  CAF_MESSAGE(r.error);
}

CAF_TEST(quarantine moves a corrupt file aside and starts empty) {
  std::string junk(4096, 'q');
  write_file(path, junk);
  auto o = opts();
  o.quarantine_corrupt = true;
  auto r = sqlite_store::open(o);
  CAF_REQUIRE(r.store != nullptr);
  CAF_CHECK(r.quarantined_to.rfind(path + ".corrupt-", 0) == 0);
  CAF_CHECK(read_file(r.quarantined_to) == junk);
  CAF_CHECK(r.store->load_all().records.empty());
  CAF_CHECK_EQUAL(str(r.store->save(fresh_session("new"), 1).status), "ok");
  r.store.reset();
  auto again = sqlite_store::open(o);  // the new file is healthy: nothing quarantined
  CAF_REQUIRE(again.store != nullptr);
  CAF_CHECK(again.quarantined_to.empty());
  CAF_CHECK_EQUAL(again.store->size(), 1u);
}

CAF_TEST(another programs database is refused even with quarantine) {
  CAF_REQUIRE(raw_sql("CREATE TABLE notes(x TEXT); INSERT INTO notes VALUES('mine');"));
  auto o = opts();
  o.quarantine_corrupt = true;
  auto r = sqlite_store::open(o);
  CAF_CHECK(!r.store);
  CAF_CHECK(r.error.find("not a relay state file") != std::string::npos);
  CAF_CHECK(r.quarantined_to.empty());
  CAF_CHECK(raw_sql("SELECT * FROM notes"));
}

CAF_TEST(unreadable records are skipped and reported) {
  { open()->save(fresh_session("good"), 2); }
  CAF_REQUIRE(
      raw_sql("INSERT INTO sessions VALUES('bad', 7, '{not json', 100);"
              "INSERT INTO sessions VALUES('other', 3, '" +
              to_json(fresh_session("mismatch")) + "', 101);"));
  auto s = open();
  auto all = s->load_all();
  CAF_CHECK_EQUAL(str(all.status), "ok");
  CAF_REQUIRE_EQUAL(all.records.size(), 1u);
  CAF_CHECK_EQUAL(all.skipped.size(), 2u);
  CAF_CHECK_EQUAL(all.max_version, 7u);
  CAF_CHECK_EQUAL(str(s->load("bad").status), "invalid");
  CAF_CHECK_EQUAL(str(s->load("other").status), "invalid");
  CAF_CHECK_EQUAL(str(s->save(fresh_session("bad"), 8).status), "ok");  // overwritable
}

CAF_TEST(a missing directory is named in the error) {
  auto o = opts();
  o.path = dir + "/no/such/dir/state.db";
  auto r = sqlite_store::open(o);
  CAF_CHECK(!r.store);
  CAF_CHECK(r.error.find(o.path) != std::string::npos);
  CAF_MESSAGE(r.error);
}

CAF_TEST_FIXTURE_SCOPE_END()
