#include "persistence/sqlite_store.hpp"

#include "persistence/load_body.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

namespace rc::persistence {

namespace {

constexpr int application_id = 0x52435354;  // "RCST": a Remote Control relay state file
constexpr int schema_version = 1;
constexpr auto max_version = static_cast<record_version>(std::numeric_limits<std::int64_t>::max());

constexpr const char* schema_sql = R"sql(
CREATE TABLE sessions(
  session_id TEXT PRIMARY KEY NOT NULL,
  version INTEGER NOT NULL CHECK (version > 0),
  record TEXT,          -- CONFIG_REFERENCE 4.2 JSON; NULL: tombstone (deleted, version kept)
  seq INTEGER NOT NULL  -- write order: the oldest tombstone is forgotten first
) WITHOUT ROWID;
CREATE INDEX sessions_tombstones ON sessions(seq) WHERE record IS NULL;
PRAGMA application_id = 1380143956;
PRAGMA user_version = 1;
)sql";

static_assert(application_id == 1380143956, "schema_sql spells the application id");

struct stmt_finalizer {
  void operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }
};
using stmt_ptr = std::unique_ptr<sqlite3_stmt, stmt_finalizer>;

/// Resets a cached statement when the scope ends (also on early returns).
struct stmt_use {
  sqlite3_stmt* s;
  explicit stmt_use(const stmt_ptr& p) : s(p.get()) {}
  ~stmt_use() {
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
  }
  stmt_use(const stmt_use&) = delete;
  stmt_use& operator=(const stmt_use&) = delete;
};

bool is_corrupt(int rc) {
  rc &= 0xff;
  return rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB;
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void bind_text(sqlite3_stmt* s, int i, std::string_view v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}

std::string column_text(sqlite3_stmt* s, int i) {
  auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, i));
  return p == nullptr ? std::string{}
                      : std::string{p, static_cast<std::size_t>(sqlite3_column_bytes(s, i))};
}

/// Outcome of one open attempt.
struct attempt {
  sqlite3* db = nullptr;
  std::string error;
  bool corrupt = false;
};

}  // namespace

struct sqlite_store::impl {
  sqlite3* db = nullptr;
  std::string path;
  std::size_t max_sessions = 1;
  std::size_t records = 0;
  std::size_t tombs = 0;
  std::int64_t seq = 0;
  stmt_ptr select_one, upsert, select_all, trim_tombstones;

  ~impl() {
    select_one.reset();
    upsert.reset();
    select_all.reset();
    trim_tombstones.reset();
    if (db != nullptr) sqlite3_close_v2(db);
  }

  std::string sql_error(const char* what) const {
    return std::string{what} + " (" + path + "): " + sqlite3_errmsg(db);
  }

  bool prepare(stmt_ptr& out, const char* sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK)
      return false;
    out.reset(s);
    return true;
  }

  bool exec(const char* sql) {
    return sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK;
  }

  /// Stored version and whether a live record exists. false on a database error.
  bool stored(std::string_view id, record_version& version, bool& live) {
    stmt_use u{select_one};
    bind_text(u.s, 1, id);
    int rc = sqlite3_step(u.s);
    version = 0;
    live = false;
    if (rc == SQLITE_DONE) return true;
    if (rc != SQLITE_ROW) return false;
    version = static_cast<record_version>(sqlite3_column_int64(u.s, 0));
    live = sqlite3_column_type(u.s, 1) != SQLITE_NULL;
    return true;
  }

  bool write_row(std::string_view id, record_version version, const std::string* json) {
    stmt_use u{upsert};
    bind_text(u.s, 1, id);
    sqlite3_bind_int64(u.s, 2, static_cast<std::int64_t>(version));
    if (json != nullptr)
      bind_text(u.s, 3, *json);
    else
      sqlite3_bind_null(u.s, 3);
    sqlite3_bind_int64(u.s, 4, ++seq);
    return sqlite3_step(u.s) == SQLITE_DONE;
  }
};

namespace {

/// Creates the schema in an empty file, or checks that the file is ours and current.
/// Runs inside BEGIN EXCLUSIVE.
std::string check_schema(sqlite3* db, const std::string& path, bool& corrupt) {
  auto int_query = [&](const char* sql, std::int64_t& out) {
    sqlite3_stmt* s = nullptr;
    int rc = sqlite3_prepare_v2(db, sql, -1, &s, nullptr);
    if (rc == SQLITE_OK) rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) out = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW) corrupt = corrupt || is_corrupt(rc);
    return rc == SQLITE_ROW;
  };
  std::int64_t app = 0, user = 0, objects = 0;
  if (!int_query("PRAGMA application_id", app) || !int_query("PRAGMA user_version", user) ||
      !int_query("SELECT count(*) FROM sqlite_master", objects))
    return "state file " + path + " is unreadable: " + sqlite3_errmsg(db);
  if (app == 0 && user == 0 && objects == 0) {
    if (sqlite3_exec(db, schema_sql, nullptr, nullptr, nullptr) != SQLITE_OK)
      return "state file " + path + ": creating the schema failed: " + sqlite3_errmsg(db);
    return {};
  }
  if (app != application_id)
    return "state file " + path +
           " is another program's SQLite database, not a relay state file (choose another "
           "STATE_PATH)";
  if (user != schema_version)
    return "state file " + path + " has schema version " + std::to_string(user) +
           "; this relay reads version " + std::to_string(schema_version);
  return {};
}

attempt open_once(const std::string& path) {
  attempt a;
  // Create a missing file ourselves with mode 0600: it holds tokens in clear text.
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    a.error =
        "state file " + path + " cannot be opened for reading and writing: " + std::strerror(errno);
    return a;
  }
  struct stat st {};
  bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  ::close(fd);
  if (!regular) {
    a.error = "state file " + path + " is not a regular file";
    return a;
  }
  int rc =
      sqlite3_open_v2(path.c_str(), &a.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, nullptr);
  auto fail = [&](const std::string& what) {
    int code = a.db != nullptr ? sqlite3_extended_errcode(a.db) : rc;
    a.corrupt = a.corrupt || is_corrupt(code);
    a.error = "state file " + path + " " + what + ": " +
              (a.db != nullptr ? sqlite3_errmsg(a.db) : sqlite3_errstr(rc));
    if (a.corrupt) a.error += " (the file is corrupt; STATE_QUARANTINE=1 moves it aside)";
    if (a.db != nullptr) sqlite3_close_v2(a.db);
    a.db = nullptr;
    return a;
  };
  if (rc != SQLITE_OK) return fail("cannot be opened");
  sqlite3_extended_result_codes(a.db, 1);
  sqlite3_busy_timeout(a.db, 500);
  // One process per file: the exclusive lock is taken by BEGIN EXCLUSIVE below and kept.
  if (sqlite3_exec(a.db, "PRAGMA locking_mode=EXCLUSIVE", nullptr, nullptr, nullptr) != SQLITE_OK)
    return fail("cannot be locked");
  sqlite3_stmt* s = nullptr;
  rc = sqlite3_prepare_v2(a.db, "PRAGMA journal_mode=WAL", -1, &s, nullptr);
  if (rc == SQLITE_OK) rc = sqlite3_step(s);
  std::string mode = rc == SQLITE_ROW ? column_text(s, 0) : std::string{};
  sqlite3_finalize(s);
  if (rc != SQLITE_ROW) {
    if ((rc & 0xff) == SQLITE_BUSY) return fail("is in use by another process");
    return fail("is unreadable");
  }
  if (mode != "wal") return fail("cannot be switched to WAL mode (got '" + mode + "')");
  if (sqlite3_exec(a.db, "PRAGMA synchronous=FULL", nullptr, nullptr, nullptr) != SQLITE_OK)
    return fail("rejected synchronous=FULL");
  rc = sqlite3_exec(a.db, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    if ((rc & 0xff) == SQLITE_BUSY) return fail("is in use by another process");
    return fail("cannot be locked");
  }
  auto schema_error = check_schema(a.db, path, a.corrupt);
  if (!schema_error.empty()) {
    sqlite3_exec(a.db, "ROLLBACK", nullptr, nullptr, nullptr);
    sqlite3_close_v2(a.db);
    a.db = nullptr;
    a.error = schema_error;
    if (a.corrupt) a.error += " (the file is corrupt; STATE_QUARANTINE=1 moves it aside)";
    return a;
  }
  if (sqlite3_exec(a.db, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK)
    return fail("cannot be written");
  // Whole-file structural check (pages, b-trees, index vs table): fast for our sizes.
  rc = sqlite3_prepare_v2(a.db, "PRAGMA quick_check(1)", -1, &s, nullptr);
  if (rc == SQLITE_OK) rc = sqlite3_step(s);
  std::string verdict = rc == SQLITE_ROW ? column_text(s, 0) : std::string{};
  sqlite3_finalize(s);
  if (rc != SQLITE_ROW) return fail("failed its integrity check");
  if (verdict != "ok") {
    a.corrupt = true;
    sqlite3_close_v2(a.db);
    a.db = nullptr;
    a.error = "state file " + path + " failed its integrity check: " + verdict.substr(0, 200) +
              " (the file is corrupt; STATE_QUARANTINE=1 moves it aside)";
  }
  return a;
}

/// Moves `path` and its side files to `<path>.corrupt-<ms>[-wal|-journal|-shm]`.
std::string quarantine(const std::string& path, std::string& error) {
  std::string target = path + ".corrupt-" + std::to_string(now_ms());
  if (std::rename(path.c_str(), target.c_str()) != 0) {
    error =
        "state file " + path + " is corrupt and could not be moved aside: " + std::strerror(errno);
    return {};
  }
  for (const char* side : {"-wal", "-journal", "-shm"}) {
    auto from = path + side;
    if (::access(from.c_str(), F_OK) == 0) std::rename(from.c_str(), (target + side).c_str());
  }
  return target;
}

}  // namespace

sqlite_open_result sqlite_store::open(const sqlite_store_options& opts) {
  sqlite_open_result res;
  if (opts.path.empty()) {
    res.error = "STATE_PATH is empty";
    return res;
  }
  auto a = open_once(opts.path);
  if (a.db == nullptr && a.corrupt && opts.quarantine_corrupt) {
    std::string moved = quarantine(opts.path, res.error);
    if (moved.empty()) return res;
    res.quarantined_to = moved;
    a = open_once(opts.path);
  }
  if (a.db == nullptr) {
    res.error = a.error;
    return res;
  }
  auto p = std::make_unique<impl>();
  p->db = a.db;
  p->path = opts.path;
  p->max_sessions = std::max<std::size_t>(1, opts.max_sessions);
  bool ok =
      p->prepare(p->select_one, "SELECT version, record FROM sessions WHERE session_id = ?1") &&
      p->prepare(p->upsert,
                 "INSERT INTO sessions(session_id, version, record, seq) VALUES(?1, ?2, ?3, ?4) "
                 "ON CONFLICT(session_id) DO UPDATE SET version = excluded.version, "
                 "record = excluded.record, seq = excluded.seq") &&
      p->prepare(p->select_all,
                 "SELECT session_id, version, record FROM sessions ORDER BY session_id") &&
      p->prepare(p->trim_tombstones,
                 "DELETE FROM sessions WHERE session_id IN (SELECT session_id FROM sessions "
                 "WHERE record IS NULL ORDER BY seq LIMIT ?1)");
  sqlite3_stmt* s = nullptr;
  ok = ok &&
       sqlite3_prepare_v2(p->db,
                          "SELECT count(record), count(*) - count(record), "
                          "coalesce(max(seq), 0) FROM sessions",
                          -1, &s, nullptr) == SQLITE_OK &&
       sqlite3_step(s) == SQLITE_ROW;
  if (ok) {
    p->records = static_cast<std::size_t>(sqlite3_column_int64(s, 0));
    p->tombs = static_cast<std::size_t>(sqlite3_column_int64(s, 1));
    p->seq = sqlite3_column_int64(s, 2);
  }
  sqlite3_finalize(s);
  if (!ok) {
    res.error = p->sql_error("state file is unreadable");
    return res;
  }
  res.store.reset(new sqlite_store(std::move(p)));
  return res;
}

sqlite_store::sqlite_store(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
sqlite_store::~sqlite_store() = default;

std::size_t sqlite_store::size() const noexcept {
  return impl_->records;
}
std::size_t sqlite_store::tombstones() const noexcept {
  return impl_->tombs;
}

bool sqlite_store::healthy() {
  record_version v = 0;
  bool live = false;
  return impl_->stored("", v, live);
}

write_result sqlite_store::save(const session_record& rec, record_version version) {
  if (rec.session_id.empty() || version == 0 || version > max_version)
    return {store_status::invalid, "empty session id or version out of range"};
  record_version cur = 0;
  bool live = false;
  if (!impl_->stored(rec.session_id, cur, live))
    return {store_status::unavailable, impl_->sql_error("SQLite read failed")};
  if (cur >= version) return {store_status::stale_version, {}};
  if (!live && impl_->records >= impl_->max_sessions)
    return {store_status::full, "max_sessions reached"};
  auto json = to_json(rec);
  if (!impl_->write_row(rec.session_id, version, &json))
    return {store_status::unavailable, impl_->sql_error("SQLite write failed")};
  if (!live) {
    ++impl_->records;
    if (cur != 0) --impl_->tombs;  // a tombstone was resurrected
  }
  return {};
}

write_result sqlite_store::remove(std::string_view session_id, record_version version) {
  if (session_id.empty() || version == 0 || version > max_version)
    return {store_status::invalid, "empty session id or version out of range"};
  record_version cur = 0;
  bool live = false;
  if (!impl_->stored(session_id, cur, live))
    return {store_status::unavailable, impl_->sql_error("SQLite read failed")};
  if (cur >= version) return {store_status::stale_version, {}};
  bool new_tomb = live || cur == 0;
  std::size_t tombs_after = impl_->tombs + (new_tomb ? 1 : 0);
  std::size_t excess = tombs_after > impl_->max_sessions ? tombs_after - impl_->max_sessions : 0;
  if (!impl_->exec("BEGIN IMMEDIATE"))
    return {store_status::unavailable, impl_->sql_error("SQLite begin failed")};
  bool ok = impl_->write_row(session_id, version, nullptr);
  if (ok && excess > 0) {
    stmt_use u{impl_->trim_tombstones};
    sqlite3_bind_int64(u.s, 1, static_cast<std::int64_t>(excess));
    ok = sqlite3_step(u.s) == SQLITE_DONE;
  }
  if (!ok || !impl_->exec("COMMIT")) {
    auto err = impl_->sql_error("SQLite delete failed");
    impl_->exec("ROLLBACK");
    return {store_status::unavailable, err};
  }
  if (live) --impl_->records;
  impl_->tombs = tombs_after - excess;
  return {};
}

load_result sqlite_store::load(std::string_view session_id) {
  load_result res;
  if (session_id.empty()) {
    res.status = store_status::invalid;
    res.error = "empty session id";
    return res;
  }
  stmt_use u{impl_->select_one};
  bind_text(u.s, 1, session_id);
  int rc = sqlite3_step(u.s);
  if (rc == SQLITE_DONE) {
    res.status = store_status::not_found;
    return res;
  }
  if (rc != SQLITE_ROW) {
    res.status = store_status::unavailable;
    res.error = impl_->sql_error("SQLite read failed");
    return res;
  }
  res.version = static_cast<record_version>(sqlite3_column_int64(u.s, 0));
  if (sqlite3_column_type(u.s, 1) == SQLITE_NULL) {
    res.status = store_status::not_found;
    return res;
  }
  return std::move(fill_loaded(res, column_text(u.s, 1), session_id));
}

load_all_result sqlite_store::load_all() {
  load_all_result res;
  stmt_use u{impl_->select_all};
  int rc;
  while ((rc = sqlite3_step(u.s)) == SQLITE_ROW) {
    auto id = column_text(u.s, 0);
    auto version = static_cast<record_version>(sqlite3_column_int64(u.s, 1));
    res.max_version = std::max(res.max_version, version);  // tombstones count too
    if (sqlite3_column_type(u.s, 2) == SQLITE_NULL) continue;
    if (res.records.size() + res.skipped.size() >= impl_->max_sessions) {
      res.truncated = true;
      break;
    }
    auto parsed = parse_stored_record(column_text(u.s, 2), id);
    if (!parsed)
      res.skipped.push_back({id, version, parsed.error});
    else
      res.records.push_back({std::move(*parsed.value), version});
  }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    res = {};
    res.status = store_status::unavailable;
    res.error = impl_->sql_error("SQLite read failed");
  }
  return res;
}

}  // namespace rc::persistence
