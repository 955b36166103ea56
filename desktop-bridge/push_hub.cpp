#include "desktop-bridge/push_hub.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>

namespace rc::bridge::push {

using nlohmann::json;

namespace {
/// At most `max` bytes, cut on a UTF-8 boundary.
std::string clip(const std::string& s, std::size_t max) {
  if (s.size() <= max) return s;
  std::size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n) + "…";
}

bool is_gone(int status) {
  return status == 404 || status == 410;
}
bool is_transient(int status) {
  return status == 0 || status == 429 || status >= 500;
}
}  // namespace

const char* kind_name(kind k) {
  switch (k) {
    case kind::approval:
      return "approval";
    case kind::turn:
      return "turn";
    case kind::pairing:
      return "pairing";
  }
  return "turn";
}

bool kinds::on(kind k) const {
  return k == kind::approval ? approval : k == kind::turn ? turn : pairing;
}

json kinds::to_json() const {
  return {{"approval", approval}, {"turn", turn}, {"pairing", pairing}};
}

static std::optional<kinds> parse_kinds(const json& j) {
  if (!j.is_object()) return std::nullopt;
  kinds k;
  for (auto [name, field] : {std::pair{"approval", &k.approval}, std::pair{"turn", &k.turn},
                             std::pair{"pairing", &k.pairing}}) {
    auto it = j.find(name);
    if (it == j.end() || !it->is_boolean()) return std::nullopt;
    *field = it->get<bool>();
  }
  return k;
}

void hub::reset() {
  key_.reset();
  subs_.clear();
  visible_.clear();
  pending_.clear();
  backoff_.clear();
  failures_.clear();
  changed_ = true;
}

void hub::load(const json& saved) {
  reset();
  changed_ = false;
  if (!saved.is_object()) return;
  if (auto v = saved.find("vapid"); v != saved.end() && v->is_string())
    if (auto der = e2ee::unb64u(v->get_ref<const std::string&>()))
      if (auto k = e2ee::identity_key::from_pkcs8(*der); k && k->ok()) key_ = std::move(k);
  auto subs = saved.find("subscriptions");
  if (!key_ || subs == saved.end() || !subs->is_object()) return;  // no key: subscriptions void
  for (auto it = subs->begin(); it != subs->end() && subs_.size() < max_subscriptions; ++it) {
    const json& r = *it;
    if (!r.is_object()) continue;
    auto s = parse_subscription(r.value("endpoint", ""), r.value("p256dh", ""), r.value("auth", ""),
                                cfg_.allow_local);
    auto k = parse_kinds(r.value("kinds", json()));
    if (s && k) subs_[it.key()] = {std::move(*s), *k};
  }
}

json hub::store() const {
  json subs = json::object();
  for (auto& [dev, r] : subs_)
    subs[dev] = {{"endpoint", r.s.endpoint},
                 {"p256dh", e2ee::b64u(r.s.p256dh)},
                 {"auth", e2ee::b64u(r.s.auth)},
                 {"kinds", r.k.to_json()}};
  json j = {{"subscriptions", subs}};
  if (key_) j["vapid"] = e2ee::b64u(key_->pkcs8());
  return j;
}

void hub::ensure_key() {
  if (key_ && key_->ok()) return;
  key_ = std::make_unique<e2ee::identity_key>();
  subs_.clear();  // subscriptions were made for another key
  changed_ = true;
}

const bytes& hub::vapid_public() {
  ensure_key();
  return key_->public_point();
}

bool hub::take_changed() {
  bool c = changed_;
  changed_ = false;
  return c;
}

std::string hub::subscribe(const std::string& device, const json& subscription,
                           const json& kinds_json) {
  ensure_key();
  if (!subscription.is_object()) return "invalid_subscription";
  auto s = parse_subscription(subscription.value("endpoint", ""), subscription.value("p256dh", ""),
                              subscription.value("auth", ""), cfg_.allow_local);
  auto k = parse_kinds(kinds_json);
  if (!s || !k) return "invalid_subscription";
  if (!subs_.count(device) && subs_.size() >= max_subscriptions) return "too_many_subscriptions";
  drop_device(device);  // a new endpoint: nothing pending for the old one
  subs_[device] = {std::move(*s), *k};
  changed_ = true;
  return {};
}

bool hub::unsubscribe(const std::string& device) {
  bool had = subs_.count(device) != 0;
  drop_device(device);
  visible_.erase(device);
  if (had) changed_ = true;
  return had;
}

void hub::drop_device(const std::string& device) {
  if (subs_.erase(device)) changed_ = true;
  pending_.erase(std::remove_if(pending_.begin(), pending_.end(),
                                [&](const note& n) { return n.device == device; }),
                 pending_.end());
  backoff_.erase(device);
  failures_.erase(device);
}

json hub::state(const std::string& device) {
  auto it = subs_.find(device);
  return {{"name", "push.state"},
          {"vapidPublicKey", e2ee::b64u(vapid_public())},
          {"subscribed", it != subs_.end()},
          {"kinds", it != subs_.end() ? it->second.k.to_json() : kinds().to_json()},
          {"generic", cfg_.generic}};
}

void hub::set_visible(const std::string& device, bool v) {
  if (!v) {
    visible_.erase(device);
    return;
  }
  if (visible_.size() >= max_subscriptions * 4 && !visible_.count(device)) return;  // bounded
  visible_.insert(device);
  // The phone is looking: what waits for it is stale.
  pending_.erase(std::remove_if(pending_.begin(), pending_.end(),
                                [&](const note& n) { return n.device == device && !n.in_flight; }),
                 pending_.end());
}

std::vector<std::string> hub::notify(kind k, const std::string& thread_id, const std::string& title,
                                     const std::string& text, int64_t now_ms) {
  std::vector<std::string> skipped;
  if (k == kind::pairing && !cfg_.pairing) return skipped;
  for (auto& [dev, r] : subs_) {
    if (!r.k.on(k)) continue;
    if (visible_.count(dev)) {
      skipped.push_back(dev);
      continue;
    }
    note n{dev,
           k,
           thread_id,
           cfg_.generic ? "Remote Control" : title,
           cfg_.generic ? "Your agent needs you" : text,
           now_ms,
           0,
           0};
    auto same = std::find_if(pending_.begin(), pending_.end(), [&](const note& o) {
      return !o.in_flight && o.device == dev && o.k == k && o.thread_id == thread_id;
    });
    if (same != pending_.end()) {
      *same = std::move(n);  // collapse: the newer one replaces the waiting one
      continue;
    }
    if (pending_.size() >= max_pending) {
      auto oldest = std::find_if(pending_.begin(), pending_.end(),
                                 [](const note& o) { return !o.in_flight; });
      if (oldest == pending_.end()) continue;  // all in flight: drop the new one
      pending_.erase(oldest);
    }
    pending_.push_back(std::move(n));
  }
  return skipped;
}

std::string hub::payload(kind k, const std::string& thread_id, const std::string& title,
                         const std::string& text, int64_t ts_ms) {
  json p = {{"v", 1},
            {"kind", kind_name(k)},
            {"title", clip(title, 120)},
            {"body", clip(text, 400)},
            {"ts", ts_ms}};
  if (!thread_id.empty()) p["threadID"] = clip(thread_id, 128);
  return p.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::optional<hub::attempt> hub::next(int64_t now_ms, int64_t* wake_ms) {
  std::set<std::string> busy;
  for (auto& n : pending_)
    if (n.in_flight) busy.insert(n.device);
  for (auto it = pending_.begin(); it != pending_.end();) {
    auto& n = *it;
    auto sub = subs_.find(n.device);
    if (sub == subs_.end() || visible_.count(n.device)) {
      if (!n.in_flight) {
        it = pending_.erase(it);
        continue;
      }
    }
    if (n.in_flight || busy.count(n.device)) {
      ++it;
      continue;
    }
    if (auto b = backoff_.find(n.device); b != backoff_.end() && b->second > now_ms) {
      if (wake_ms) *wake_ms = *wake_ms == 0 ? b->second : std::min(*wake_ms, b->second);
      ++it;
      continue;
    }
    ensure_key();
    auto body = encrypt(payload(n.k, n.thread_id, n.title, n.text, n.ts), sub->second.s.p256dh,
                        sub->second.s.auth);
    auto authz = vapid_authorization(*key_, sub->second.s.endpoint, cfg_.subject, now_ms / 1000);
    if (body.empty() || authz.empty()) {
      it = pending_.erase(it);
      continue;
    }
    attempt a;
    a.id = next_id_++;
    a.device_id = n.device;
    a.k = n.k;
    a.req.url = sub->second.s.endpoint;
    a.req.body.assign(body.begin(), body.end());
    a.req.timeout_ms = cfg_.timeout_ms;
    // Topic: the same thread and kind replace an undelivered older message at the push service;
    // a hash, so the service does not learn thread IDs (≤ 32 base64url characters).
    std::string topic_in = std::string(kind_name(n.k)) + "\n" + n.thread_id;
    auto topic = e2ee::b64u(e2ee::sha256(bytes(topic_in.begin(), topic_in.end()))).substr(0, 32);
    int ttl = n.k == kind::turn ? 4 * 3600 : n.k == kind::approval ? 3600 : 120;
    a.req.headers = {{"TTL", std::to_string(ttl)},
                     {"Urgency", n.k == kind::turn ? "normal" : "high"},
                     {"Topic", topic},
                     {"Content-Encoding", "aes128gcm"},
                     {"Authorization", authz}};
    n.in_flight = a.id;
    ++n.attempts;
    return a;
  }
  return std::nullopt;
}

hub::answer hub::on_response(uint64_t id, int status, const std::string& retry_after,
                             int64_t now_ms) {
  answer a;
  auto it = std::find_if(pending_.begin(), pending_.end(),
                         [&](const note& n) { return n.in_flight == id; });
  if (it == pending_.end()) return a;  // unsubscribed meanwhile
  a.device_id = it->device;
  if (status >= 200 && status < 300) {
    pending_.erase(it);
    failures_.erase(a.device_id);
    backoff_.erase(a.device_id);
    a.w = answer::what::delivered;
    return a;
  }
  if (is_gone(status)) {  // the subscription expired or was withdrawn
    drop_device(a.device_id);
    a.w = answer::what::gone;
    return a;
  }
  if (!is_transient(status) || it->attempts >= cfg_.max_attempts) {
    pending_.erase(it);
    a.w = answer::what::dropped;
    if (!is_transient(status)) return a;
  } else {
    it->in_flight = 0;
    a.w = answer::what::retry;
  }
  int f = std::min(++failures_[a.device_id], 16);
  int64_t delay = std::min<int64_t>(cfg_.max_backoff_ms, int64_t{1000} << (f - 1));
  if (auto ra = parse_retry_after(retry_after, now_ms))
    delay = std::clamp<int64_t>(*ra, 1000, cfg_.max_backoff_ms);
  backoff_[a.device_id] = now_ms + delay;
  a.retry_at_ms = now_ms + delay;
  return a;
}

std::optional<int64_t> hub::parse_retry_after(const std::string& v, int64_t now_ms) {
  if (v.empty() || v.size() > 64) return std::nullopt;
  if (v.find_first_not_of("0123456789") == std::string::npos) {
    if (v.size() > 9) return std::nullopt;
    return std::stoll(v) * 1000;
  }
  std::tm tm{};  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
  char wd[4] = {}, mon[4] = {}, gmt[4] = {};
  int d = 0, y = 0, h = 0, mi = 0, s = 0;
  if (std::sscanf(v.c_str(), "%3s, %d %3s %d %d:%d:%d %3s", wd, &d, mon, &y, &h, &mi, &s, gmt) != 8)
    return std::nullopt;
  static const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  int m = -1;
  for (int i = 0; i < 12; ++i)
    if (std::string(mon) == months[i]) m = i;
  if (m < 0 || std::string(gmt) != "GMT") return std::nullopt;
  tm.tm_year = y - 1900;
  tm.tm_mon = m;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  int64_t at = static_cast<int64_t>(timegm(&tm)) * 1000;
  return std::max<int64_t>(0, at - now_ms);
}

}  // namespace rc::bridge::push
