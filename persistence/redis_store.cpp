#include "persistence/redis_store.hpp"

#include "persistence/load_body.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <unordered_set>
#include <vector>

#include <hiredis/hiredis.h>
#include <openssl/evp.h>
#include <pthread.h>

namespace rc::persistence {

namespace {

// KEYS: record, version, index. ARGV: version, json, session id, max sessions, and optionally
// the version the writer read ('' = any; '0' = none stored): a different stored version → 0.
// Returns 1 (written), 0 (stale version), -1 (index full).
constexpr std::string_view save_script = R"lua(
local cur = redis.call('GET', KEYS[2])
if ARGV[5] and ARGV[5] ~= '' and (tonumber(cur) or 0) ~= tonumber(ARGV[5]) then return 0 end
if cur then
  local n = tonumber(cur)
  if n and n >= tonumber(ARGV[1]) then return 0 end
end
if redis.call('SISMEMBER', KEYS[3], ARGV[3]) == 0 and
   redis.call('SCARD', KEYS[3]) >= tonumber(ARGV[4]) then return -1 end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('SADD', KEYS[3], ARGV[3])
redis.call('SET', KEYS[2], ARGV[1])
return 1
)lua";

// KEYS: record, version, index. ARGV: version, session id, tombstone ttl ms (0 = none).
// Returns 1 (deleted, tombstone written) or 0 (stale version).
constexpr std::string_view delete_script = R"lua(
local cur = redis.call('GET', KEYS[2])
if cur then
  local n = tonumber(cur)
  if n and n >= tonumber(ARGV[1]) then return 0 end
end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[3], ARGV[2])
redis.call('SET', KEYS[2], ARGV[1])
if tonumber(ARGV[3]) > 0 then redis.call('PEXPIRE', KEYS[2], ARGV[3]) end
return 1
)lua";

std::string sha1_hex(std::string_view text) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(text.data(), text.size(), md, &len, EVP_sha1(), nullptr) != 1) return {};
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(digits[md[i] >> 4]);
    out.push_back(digits[md[i] & 0xf]);
  }
  return out;
}

timeval to_timeval(std::chrono::milliseconds ms) {
  auto count = std::max<std::int64_t>(ms.count(), 1);
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(count / 1000);
  tv.tv_usec = static_cast<suseconds_t>((count % 1000) * 1000);
  return tv;
}

struct reply_deleter {
  void operator()(redisReply* r) const noexcept {
    if (r != nullptr) freeReplyObject(r);
  }
};
using reply_ptr = std::unique_ptr<redisReply, reply_deleter>;

/// hiredis writes with write(2): a peer that closed the socket raises SIGPIPE, which would
/// kill the process. Block it in this thread for the scope and swallow a pending one.
class sigpipe_guard {
 public:
  sigpipe_guard() {
    sigemptyset(&pipe_set_);
    sigaddset(&pipe_set_, SIGPIPE);
    sigset_t pending;
    sigemptyset(&pending);
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    blocked_ = pthread_sigmask(SIG_BLOCK, &pipe_set_, &old_) == 0;
  }
  ~sigpipe_guard() {
    if (!blocked_) return;
    if (!was_pending_) {
      sigset_t pending;
      sigemptyset(&pending);
      sigpending(&pending);
      if (sigismember(&pending, SIGPIPE) == 1) {
        timespec zero{0, 0};
        while (sigtimedwait(&pipe_set_, nullptr, &zero) == -1 && errno == EINTR) {
        }
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  sigpipe_guard(const sigpipe_guard&) = delete;
  sigpipe_guard& operator=(const sigpipe_guard&) = delete;

 private:
  sigset_t pipe_set_;
  sigset_t old_;
  bool was_pending_ = false;
  bool blocked_ = false;
};

bool parse_version(const redisReply* r, record_version& out) {
  if (r == nullptr || r->type == REDIS_REPLY_NIL) {
    out = 0;
    return true;
  }
  if (r->type == REDIS_REPLY_INTEGER) {
    out = r->integer < 0 ? 0 : static_cast<record_version>(r->integer);
    return true;
  }
  if (r->type != REDIS_REPLY_STRING || r->len == 0 || r->len > 20) return false;
  record_version v = 0;
  for (std::size_t i = 0; i < static_cast<std::size_t>(r->len); ++i) {
    char c = r->str[i];
    if (c < '0' || c > '9') return false;
    auto digit = static_cast<record_version>(c - '0');
    if (v > (UINT64_MAX - digit) / 10) return false;
    v = v * 10 + digit;
  }
  out = v;
  return true;
}

}  // namespace

std::string redis_index_key(std::string_view prefix) {
  return std::string{prefix} + ":sessions:index:v1";
}

std::string redis_record_key(std::string_view prefix, std::string_view session_id) {
  return std::string{prefix} + ":session:v1:" + std::string{session_id};
}

std::string redis_version_key(std::string_view prefix, std::string_view session_id) {
  return std::string{prefix} + ":session:version:v1:" + std::string{session_id};
}

std::string redis_epoch_key(std::string_view prefix) {
  return std::string{prefix} + ":epoch:v1";
}

struct redis_store::impl {
  using clock = std::chrono::steady_clock;

  redis_store_options opts;
  redisContext* ctx = nullptr;
  std::string last_error;
  clock::time_point next_connect{};
  std::string save_sha = sha1_hex(save_script);
  std::string delete_sha = sha1_hex(delete_script);
  std::string index_key;
  std::uint64_t reconnects = 0;  ///< dead connections replaced by command()

  explicit impl(redis_store_options o) : opts(std::move(o)) {
    if (opts.key_prefix.empty()) opts.key_prefix = std::string{default_redis_key_prefix};
    opts.max_sessions = std::max<std::size_t>(1, opts.max_sessions);
    index_key = redis_index_key(opts.key_prefix);
  }

  ~impl() { disconnect(); }

  void disconnect() {
    if (ctx != nullptr) {
      redisFree(ctx);
      ctx = nullptr;
    }
  }

  void fail_connection(const char* what) {
    last_error = std::string{what} + " (" + opts.url.redacted() +
                 "): " + (ctx != nullptr && ctx->errstr[0] != '\0' ? ctx->errstr : "no reply");
    disconnect();
  }

  bool ensure_connected() {
    if (ctx != nullptr) return true;
    auto now = clock::now();
    if (now < next_connect) {
      last_error = "Redis unavailable (" + opts.url.redacted() + "): reconnect backoff";
      return false;
    }
    next_connect = now + opts.reconnect_backoff;
    ctx = redisConnectWithTimeout(opts.url.host.c_str(), opts.url.port,
                                  to_timeval(opts.connect_timeout));
    if (ctx == nullptr || ctx->err != 0) {
      fail_connection("Redis connect failed");
      return false;
    }
    if (redisSetTimeout(ctx, to_timeval(opts.command_timeout)) != REDIS_OK) {
      fail_connection("Redis set timeout failed");
      return false;
    }
    redisEnableKeepAlive(ctx);
    if (!opts.url.password.empty()) {
      std::vector<std::string> args{"AUTH"};
      if (!opts.url.username.empty()) args.push_back(opts.url.username);
      args.push_back(opts.url.password);
      auto r = raw_command(args);
      if (!r || r->type == REDIS_REPLY_ERROR) {
        if (r) last_error = "Redis AUTH rejected (" + opts.url.redacted() + ")";
        disconnect();
        return false;
      }
    }
    if (opts.url.db != 0) {
      auto r = raw_command({"SELECT", std::to_string(opts.url.db)});
      if (!r || r->type == REDIS_REPLY_ERROR) {
        if (r) last_error = "Redis SELECT failed (" + opts.url.redacted() + ")";
        disconnect();
        return false;
      }
    }
    next_connect = clock::time_point{};
    return true;
  }

  /// One command on the open connection; nullptr (and a dropped connection) on I/O errors.
  reply_ptr raw_command(const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    argv.reserve(args.size());
    lens.reserve(args.size());
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    sigpipe_guard guard;
    reply_ptr r{static_cast<redisReply*>(
        redisCommandArgv(ctx, static_cast<int>(argv.size()), argv.data(), lens.data()))};
    if (!r) fail_connection("Redis command failed");
    return r;
  }

  /// One command; a connection that was open but turns out dead (the server restarted, "Server
  /// closed the connection") is replaced at once and the command retried once on the fresh
  /// connection. Safe for the scripts: they are compare-and-set, so a write that did happen
  /// before the drop comes back stale_version and is merged, never applied twice blindly.
  reply_ptr command(const std::vector<std::string>& args) {
    bool reused = ctx != nullptr;
    if (!ensure_connected()) return nullptr;
    auto r = raw_command(args);
    if (r || !reused) return r;
    next_connect = clock::time_point{};  // the old connection died now: no backoff for this one
    if (!ensure_connected()) return nullptr;
    ++reconnects;
    return raw_command(args);
  }

  /// Runs a script by SHA, loading it with EVAL on NOSCRIPT.
  reply_ptr run_script(std::string_view script, const std::string& sha,
                       std::vector<std::string> keys_and_args) {
    std::vector<std::string> args{"EVALSHA", sha, "3"};
    args.insert(args.end(), keys_and_args.begin(), keys_and_args.end());
    auto r = command(args);
    if (r && r->type == REDIS_REPLY_ERROR &&
        std::string_view{r->str, r->len}.rfind("NOSCRIPT", 0) == 0) {
      args[0] = "EVAL";
      args[1] = std::string{script};
      r = command(args);
    }
    return r;
  }

  write_result script_result(reply_ptr r) {
    if (!r) return {store_status::unavailable, last_error};
    if (r->type == REDIS_REPLY_ERROR) {
      last_error = "Redis script error (" + opts.url.redacted() + ")";
      return {store_status::unavailable, last_error};
    }
    if (r->type != REDIS_REPLY_INTEGER) {
      last_error = "Redis script returned an unexpected reply";
      return {store_status::unavailable, last_error};
    }
    if (r->integer == 1) return {};
    if (r->integer == 0) return {store_status::stale_version, {}};
    return {store_status::full, "max_sessions reached"};
  }
};

redis_store::redis_store(redis_store_options opts)
    : impl_(std::make_unique<impl>(std::move(opts))) {}

redis_store::~redis_store() = default;

bool redis_store::connected() const noexcept {
  return impl_->ctx != nullptr;
}

const std::string& redis_store::last_error() const noexcept {
  return impl_->last_error;
}

bool redis_store::healthy() {
  auto r = impl_->command({"PING"});
  return r && r->type == REDIS_REPLY_STATUS && std::string_view{r->str, r->len} == "PONG";
}

write_result redis_store::save(const session_record& rec, record_version version) {
  return save_expecting(rec, version, std::nullopt);
}

write_result redis_store::save_expecting(const session_record& rec, record_version version,
                                         std::optional<record_version> expected) {
  if (rec.session_id.empty() || version == 0)
    return {store_status::invalid, "empty session id or version 0"};
  const auto& prefix = impl_->opts.key_prefix;
  return impl_->script_result(impl_->run_script(
      save_script, impl_->save_sha,
      {redis_record_key(prefix, rec.session_id), redis_version_key(prefix, rec.session_id),
       impl_->index_key, std::to_string(version), to_json(rec), rec.session_id,
       std::to_string(impl_->opts.max_sessions), expected ? std::to_string(*expected) : ""}));
}

write_result redis_store::remove(std::string_view session_id, record_version version) {
  if (session_id.empty() || version == 0)
    return {store_status::invalid, "empty session id or version 0"};
  const auto& prefix = impl_->opts.key_prefix;
  return impl_->script_result(impl_->run_script(
      delete_script, impl_->delete_sha,
      {redis_record_key(prefix, session_id), redis_version_key(prefix, session_id),
       impl_->index_key, std::to_string(version), std::string{session_id},
       std::to_string(impl_->opts.tombstone_ttl.count())}));
}

load_result redis_store::load(std::string_view session_id) {
  load_result res;
  if (session_id.empty()) {
    res.status = store_status::invalid;
    res.error = "empty session id";
    return res;
  }
  const auto& prefix = impl_->opts.key_prefix;
  auto r = impl_->command(
      {"MGET", redis_version_key(prefix, session_id), redis_record_key(prefix, session_id)});
  if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
    res.status = store_status::unavailable;
    res.error = r ? "unexpected Redis reply" : impl_->last_error;
    return res;
  }
  if (!parse_version(r->element[0], res.version)) {
    res.status = store_status::invalid;
    res.error = "invalid version value";
    return res;
  }
  const redisReply* body = r->element[1];
  if (body->type != REDIS_REPLY_STRING) {
    res.status = store_status::not_found;
    return res;
  }
  return std::move(fill_loaded(res, std::string_view{body->str, body->len}, session_id));
}

load_all_result redis_store::load_all() {
  load_all_result res;
  auto fail = [&](std::string err) {
    res.status = store_status::unavailable;
    res.error = std::move(err);
    res.records.clear();
    res.skipped.clear();
    res.max_version = 0;
    return std::move(res);
  };
  const auto max = impl_->opts.max_sessions;
  // 1. Collect ids with SSCAN (bounded, unlike SMEMBERS on a huge set).
  std::vector<std::string> ids;
  std::unordered_set<std::string> seen;
  std::string cursor = "0";
  do {
    auto r = impl_->command({"SSCAN", impl_->index_key, cursor, "COUNT", "512"});
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_ARRAY)
      return fail(r ? "unexpected Redis SSCAN reply" : impl_->last_error);
    cursor.assign(r->element[0]->str, r->element[0]->len);
    const redisReply* batch = r->element[1];
    for (std::size_t i = 0; i < batch->elements; ++i) {
      const redisReply* e = batch->element[i];
      if (e->type != REDIS_REPLY_STRING || e->len == 0) continue;
      std::string id{e->str, e->len};
      if (seen.count(id) != 0) continue;
      if (ids.size() >= max) {
        res.truncated = true;
        break;
      }
      seen.insert(id);
      ids.push_back(std::move(id));
    }
  } while (cursor != "0" && !res.truncated);
  // 2. MGET version + record per id, pipelined in chunks.
  const auto& prefix = impl_->opts.key_prefix;
  constexpr std::size_t chunk = 256;
  for (std::size_t off = 0; off < ids.size(); off += chunk) {
    if (!impl_->ensure_connected()) return fail(impl_->last_error);
    auto end = std::min(ids.size(), off + chunk);
    {
      sigpipe_guard guard;
      for (auto i = off; i < end; ++i) {
        auto vk = redis_version_key(prefix, ids[i]);
        auto rk = redis_record_key(prefix, ids[i]);
        const char* argv[] = {"MGET", vk.data(), rk.data()};
        std::size_t lens[] = {4, vk.size(), rk.size()};
        if (redisAppendCommandArgv(impl_->ctx, 3, argv, lens) != REDIS_OK) {
          impl_->fail_connection("Redis pipeline failed");
          return fail(impl_->last_error);
        }
      }
      for (auto i = off; i < end; ++i) {
        void* raw = nullptr;
        if (redisGetReply(impl_->ctx, &raw) != REDIS_OK || raw == nullptr) {
          impl_->fail_connection("Redis pipeline failed");
          return fail(impl_->last_error);
        }
        reply_ptr r{static_cast<redisReply*>(raw)};
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2)
          return fail("unexpected Redis MGET reply");
        record_version version = 0;
        if (!parse_version(r->element[0], version)) {
          res.skipped.push_back({ids[i], 0, "invalid version value"});
          continue;
        }
        res.max_version = std::max(res.max_version, version);
        const redisReply* body = r->element[1];
        if (body->type != REDIS_REPLY_STRING) {
          res.skipped.push_back({ids[i], version, "record missing"});
          continue;
        }
        auto parsed = parse_stored_record(std::string_view{body->str, body->len}, ids[i]);
        if (!parsed) {
          res.skipped.push_back({ids[i], version, parsed.error});
          continue;
        }
        res.records.push_back({std::move(*parsed.value), version});
      }
    }
  }
  return res;
}

epoch_result redis_store::epoch(const std::string& create_as) {
  auto key = redis_epoch_key(impl_->opts.key_prefix);
  auto set = impl_->command({"SET", key, create_as, "NX"});
  if (!set || set->type == REDIS_REPLY_ERROR) {
    if (set) impl_->last_error = "Redis SET NX failed (" + impl_->opts.url.redacted() + ")";
    return {store_status::unavailable, {}, false};
  }
  bool created = set->type == REDIS_REPLY_STATUS;  // +OK; nil when the key existed
  auto get = impl_->command({"GET", key});
  if (!get || get->type != REDIS_REPLY_STRING) {
    if (get)
      impl_->last_error = "Redis GET of the epoch failed (" + impl_->opts.url.redacted() + ")";
    return {store_status::unavailable, {}, false};
  }
  return {store_status::ok, std::string{get->str, get->len}, created};
}

}  // namespace rc::persistence
