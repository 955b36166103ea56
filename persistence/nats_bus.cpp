#include "persistence/nats_bus.hpp"

#include <condition_variable>
#include <map>
#include <mutex>
#include <vector>

#include <nats/nats.h>

#include "persistence/redis_url.hpp"

namespace rc::persistence {

namespace {

/// Connection callbacks' state. Outlives the connection unless the closed callback never
/// fires within the close timeout (then it is leaked on purpose rather than freed early).
struct conn_events {
  std::function<void()> on_disconnected;
  std::function<void()> on_reconnected;
  std::function<void()> on_closed;
  std::mutex mtx;
  std::condition_variable cv;
  bool closed = false;
};

void call_quietly(const std::function<void()>& f) noexcept {
  if (!f) return;
  try {
    f();
  } catch (...) {  // exceptions must not unwind into C code
  }
}

void disconnected_cb(natsConnection*, void* closure) {
  call_quietly(static_cast<conn_events*>(closure)->on_disconnected);
}

void reconnected_cb(natsConnection*, void* closure) {
  call_quietly(static_cast<conn_events*>(closure)->on_reconnected);
}

void closed_cb(natsConnection*, void* closure) {
  auto* ev = static_cast<conn_events*>(closure);
  call_quietly(ev->on_closed);
  std::lock_guard<std::mutex> lock{ev->mtx};
  ev->closed = true;
  ev->cv.notify_all();
}

/// Owned by nats.c from subscribe until its on-complete callback.
struct sub_ctx {
  nats_bus::message_handler handler;
};

void message_cb(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  auto* ctx = static_cast<sub_ctx*>(closure);
  std::string subject;
  std::string data;
  try {
    subject = natsMsg_GetSubject(msg);
    const char* bytes = natsMsg_GetData(msg);
    int len = natsMsg_GetDataLength(msg);
    if (bytes != nullptr && len > 0) data.assign(bytes, static_cast<std::size_t>(len));
  } catch (...) {
    natsMsg_Destroy(msg);
    return;
  }
  natsMsg_Destroy(msg);
  try {
    ctx->handler(std::move(subject), std::move(data));
  } catch (...) {  // exceptions must not unwind into C code
  }
}

void sub_complete_cb(void* closure) {
  delete static_cast<sub_ctx*>(closure);
}

std::string status_text(natsStatus s) {
  const char* text = natsStatus_GetText(s);
  return text != nullptr ? text : "unknown error";
}

constexpr std::chrono::seconds close_timeout{5};

}  // namespace

struct nats_bus::impl {
  natsConnection* nc = nullptr;
  conn_events* events = nullptr;
  std::string redacted_url;
  int max_pending_msgs = 0;
  int max_pending_bytes = 0;
  mutable std::mutex mtx;
  std::map<subscription_id, natsSubscription*> subs;
  subscription_id next_id = 1;
  bool closed = false;
  bool close_done = false;  // closed callback observed (events may be freed)

  ~impl() {
    do_close();
    if (nc != nullptr) natsConnection_Destroy(nc);
    if (close_done || nc == nullptr) delete events;
  }

  void do_close() {
    std::map<subscription_id, natsSubscription*> doomed;
    {
      std::lock_guard<std::mutex> lock{mtx};
      if (closed) return;
      closed = true;
      doomed.swap(subs);
    }
    if (nc == nullptr) return;
    natsConnection_Close(nc);
    for (auto& [id, sub] : doomed) natsSubscription_Destroy(sub);
    std::unique_lock<std::mutex> lock{events->mtx};
    close_done = events->cv.wait_for(lock, close_timeout, [this] { return events->closed; });
  }
};

nats_bus::nats_bus(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

nats_bus::~nats_bus() = default;

result<std::unique_ptr<nats_bus>> nats_bus::connect(nats_bus_options opts) {
  using res = result<std::unique_ptr<nats_bus>>;
  auto p = std::make_unique<impl>();
  p->redacted_url = redact_url(opts.url);
  p->max_pending_msgs = opts.max_pending_msgs;
  p->max_pending_bytes = opts.max_pending_bytes;
  p->events = new conn_events;
  p->events->on_disconnected = std::move(opts.on_disconnected);
  p->events->on_reconnected = std::move(opts.on_reconnected);
  p->events->on_closed = std::move(opts.on_closed);
  natsOptions* o = nullptr;
  natsStatus s = natsOptions_Create(&o);
  if (s == NATS_OK) s = natsOptions_SetURL(o, opts.url.c_str());
  if (s == NATS_OK && !opts.name.empty()) s = natsOptions_SetName(o, opts.name.c_str());
  if (s == NATS_OK) s = natsOptions_SetTimeout(o, opts.connect_timeout.count());
  if (s == NATS_OK) s = natsOptions_SetAllowReconnect(o, true);
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(o, -1);
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(o, opts.reconnect_wait.count());
  if (s == NATS_OK) s = natsOptions_SetReconnectBufSize(o, opts.reconnect_buffer_bytes);
  if (s == NATS_OK) s = natsOptions_SetNoEcho(o, opts.no_echo);
  if (s == NATS_OK) s = natsOptions_SetDisconnectedCB(o, disconnected_cb, p->events);
  if (s == NATS_OK) s = natsOptions_SetReconnectedCB(o, reconnected_cb, p->events);
  if (s == NATS_OK) s = natsOptions_SetClosedCB(o, closed_cb, p->events);
  if (s == NATS_OK) s = natsConnection_Connect(&p->nc, o);
  natsOptions_Destroy(o);
  if (s != NATS_OK) {
    p->nc = nullptr;  // no connection, so no callback can reference events
    p->closed = true;
    return res::failure("NATS connect to " + p->redacted_url + " failed: " + status_text(s));
  }
  return res::success(std::unique_ptr<nats_bus>{new nats_bus(std::move(p))});
}

outcome nats_bus::publish(std::string_view subject, std::string_view data) {
  if (subject.empty()) return outcome::failure("empty subject");
  if (data.size() > static_cast<std::size_t>(INT32_MAX))
    return outcome::failure("message too large");
  std::string subj{subject};
  natsStatus s =
      natsConnection_Publish(impl_->nc, subj.c_str(), data.data(), static_cast<int>(data.size()));
  if (s != NATS_OK) return outcome::failure("NATS publish failed: " + status_text(s));
  return outcome::success();
}

result<nats_bus::subscription_id> nats_bus::subscribe(std::string_view subject,
                                                      message_handler handler) {
  using res = result<subscription_id>;
  if (subject.empty() || !handler) return res::failure("empty subject or handler");
  std::lock_guard<std::mutex> lock{impl_->mtx};
  if (impl_->closed) return res::failure("NATS connection closed");
  auto* ctx = new sub_ctx{std::move(handler)};
  std::string subj{subject};
  natsSubscription* sub = nullptr;
  natsStatus s = natsConnection_Subscribe(&sub, impl_->nc, subj.c_str(), message_cb, ctx);
  if (s != NATS_OK) {
    delete ctx;  // never registered
    return res::failure("NATS subscribe failed: " + status_text(s));
  }
  if (natsSubscription_SetOnCompleteCB(sub, sub_complete_cb, ctx) != NATS_OK) {
    // Cannot learn when the handler is done: keep ctx alive forever (tiny, rare).
  }
  if (impl_->max_pending_msgs > 0 && impl_->max_pending_bytes > 0)
    natsSubscription_SetPendingLimits(sub, impl_->max_pending_msgs, impl_->max_pending_bytes);
  auto id = impl_->next_id++;
  impl_->subs.emplace(id, sub);
  return res::success(id);
}

outcome nats_bus::unsubscribe(subscription_id id) {
  natsSubscription* sub = nullptr;
  {
    std::lock_guard<std::mutex> lock{impl_->mtx};
    auto it = impl_->subs.find(id);
    if (it == impl_->subs.end()) return outcome::failure("unknown subscription");
    sub = it->second;
    impl_->subs.erase(it);
  }
  natsStatus s = natsSubscription_Unsubscribe(sub);
  natsSubscription_Destroy(sub);
  if (s != NATS_OK && s != NATS_CONNECTION_CLOSED && s != NATS_INVALID_SUBSCRIPTION)
    return outcome::failure("NATS unsubscribe failed: " + status_text(s));
  return outcome::success();
}

outcome nats_bus::flush(std::chrono::milliseconds timeout) {
  natsStatus s = natsConnection_FlushTimeout(impl_->nc, timeout.count());
  if (s != NATS_OK) return outcome::failure("NATS flush failed: " + status_text(s));
  return outcome::success();
}

bool nats_bus::connected() const {
  return impl_->nc != nullptr && natsConnection_Status(impl_->nc) == NATS_CONN_STATUS_CONNECTED;
}

std::size_t nats_bus::subscription_count() const {
  std::lock_guard<std::mutex> lock{impl_->mtx};
  return impl_->subs.size();
}

void nats_bus::close() {
  impl_->do_close();
}

}  // namespace rc::persistence
