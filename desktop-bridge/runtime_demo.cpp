// Built-in demo agent: two projects, a few threads, replies streamed word by word; asks for an
// approval first when the message contains "approve" or on every 3rd message.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <list>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "desktop-bridge/runtime.hpp"

namespace rc::bridge {

std::string make_uuid() {
  static std::mutex mx;
  static std::mt19937_64 rng{std::random_device{}()};
  uint64_t a, b;
  {
    std::lock_guard<std::mutex> lk(mx);
    a = rng();
    b = rng();
  }
  a = (a & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;
  b = (b & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08X-%04X-%04X-%04X-%012llX", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xFFFF), static_cast<unsigned>(a & 0xFFFF),
                static_cast<unsigned>(b >> 48), static_cast<unsigned long long>(b & 0xFFFFFFFFFFFFULL));
  return buf;
}

namespace {

class demo_runtime final : public runtime {
 public:
  explicit demo_runtime(demo_options o) : opts_(o) {}
  ~demo_runtime() override { stop(); }

  std::string name() const override { return "demo"; }

  void start(event_sink sink) override {
    sink_ = std::move(sink);
    // Fixed IDs so a restarted bridge (resumed session) keeps the phone's selection valid.
    const std::string p1 = "5D9C1E2A-0000-4000-8000-000000000001", p2 = "5D9C1E2A-0000-4000-8000-000000000002";
    emit(ev_project{{p1, "General"}});
    emit(ev_project{{p2, "Website"}});
    std::vector<thread_info> ts = {{"7A3F0B1C-0000-4000-8000-000000000001", p1, "Welcome", true, false},
                                   {"7A3F0B1C-0000-4000-8000-000000000002", p1, "Ideas", false, false},
                                   {"7A3F0B1C-0000-4000-8000-000000000003", p2, "Landing page", false, false}};
    for (auto& t : ts) emit(ev_thread{t});
    emit(ev_message{{"9B2E4D6F-0000-4000-8000-000000000001", ts[0].id, "assistant",
                     "Hi! I am the demo agent. Send me a message; include the word \"approve\" to see an "
                     "approval request.",
                     0}});
    emit(ev_message{{"9B2E4D6F-0000-4000-8000-000000000002", ts[2].id, "system", "Project created: Website", 0}});
    emit(ev_status{true, "demo agent ready"});
  }

  void stop() override {
    {
      std::lock_guard<std::mutex> lk(mx_);
      if (stopping_) return;
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_)
      if (t.joinable()) t.join();
    workers_.clear();
    std::lock_guard<std::mutex> lk(emit_mx_);
    sink_ = nullptr;
  }

  op_result start_turn(const turn_request& req) override {
    std::lock_guard<std::mutex> lk(mx_);
    if (stopping_) return op_result::fail("desktop_offline");
    if (busy_.count(req.thread_id)) return op_result::fail("desktop_busy");
    busy_[req.thread_id] = false;
    ++message_count_;
    bool ask = req.text.find("approve") != std::string::npos || message_count_ % 3 == 0;
    reap();
    workers_.emplace_back([this, req, ask] { run_turn(req, ask); });
    return op_result::success();
  }

  void interrupt(const std::string& thread_id) override {
    std::lock_guard<std::mutex> lk(mx_);
    auto it = busy_.find(thread_id);
    if (it != busy_.end()) it->second = true;
    cv_.notify_all();
  }

  op_result respond(uint64_t request_id, const runtime_response& r) override {
    std::lock_guard<std::mutex> lk(mx_);
    auto it = pending_.find(request_id);
    if (it == pending_.end()) return op_result::fail("unknown_runtime_request");
    if (r.kind != "approval") return op_result::fail("invalid_runtime_request");
    answers_[request_id] = r.decision;
    pending_.erase(it);
    cv_.notify_all();
    return op_result::success();
  }

 private:
  void emit(runtime_event ev) {
    std::lock_guard<std::mutex> lk(emit_mx_);
    if (sink_) sink_(std::move(ev));
  }

  void reap() {}  // workers are joined at stop(); a demo session creates few of them

  // Waits `ms`; false when interrupted or stopping.
  bool wait(std::unique_lock<std::mutex>& lk, const std::string& thread, int ms) {
    auto pred = [&] { return stopping_ || busy_[thread]; };
    if (ms <= 0) return !pred();
    return !cv_.wait_for(lk, std::chrono::milliseconds(ms), pred);
  }

  void run_turn(turn_request req, bool ask) {
    emit(ev_turn{req.thread_id, true});
    std::string reply;
    bool interrupted = false;
    if (ask) {
      uint64_t id;
      {
        std::lock_guard<std::mutex> lk(mx_);
        id = next_request_++;
        pending_[id] = true;
      }
      runtime_request_info r;
      r.id = id;
      r.kind = "approval";
      r.thread_id = req.thread_id;
      r.title = "Approval needed";
      r.summary = "The demo agent wants to run `echo " + std::string(req.text.size() > 40 ? "..." : req.text) + "`";
      r.response_options = {{"approve_once", "Approve once", std::nullopt},
                            {"approve_for_session", "Approve for session", std::nullopt},
                            {"decline", "Decline", std::nullopt},
                            {"cancel", "Cancel", std::nullopt}};
      emit(ev_request{r});
      std::string decision;
      {
        std::unique_lock<std::mutex> lk(mx_);
        cv_.wait(lk, [&] { return stopping_ || busy_[req.thread_id] || answers_.count(id); });
        if (answers_.count(id)) decision = answers_[id];
        answers_.erase(id);
        if (pending_.erase(id)) interrupted = true;
      }
      emit(ev_request_resolved{id});
      if (decision == "approve_once" || decision == "approve_for_session")
        reply = "Approved, thanks. ";
      else if (!decision.empty())
        reply = "Okay, I will not run that (" + decision + "). ";
    }
    if (!interrupted) {
      reply += "You said: \"" + req.text + "\". This reply is streamed word by word by the demo agent.";
      const std::string mid = make_uuid();
      std::istringstream words(reply);
      std::string w;
      bool first = true;
      std::unique_lock<std::mutex> lk(mx_);
      while (words >> w) {
        lk.unlock();
        emit(ev_message_delta{req.thread_id, mid, (first ? "" : " ") + w});
        first = false;
        lk.lock();
        if (!wait(lk, req.thread_id, opts_.word_delay_ms)) {
          interrupted = true;
          break;
        }
      }
    }
    if (interrupted) emit(ev_message{{make_uuid(), req.thread_id, "system", "Turn interrupted.", 0}});
    {
      std::lock_guard<std::mutex> lk(mx_);
      busy_.erase(req.thread_id);
    }
    emit(ev_turn{req.thread_id, false});
  }

  demo_options opts_;
  std::mutex mx_, emit_mx_;
  std::condition_variable cv_;
  bool stopping_ = false;
  event_sink sink_;
  std::list<std::thread> workers_;
  std::map<std::string, bool> busy_;  // thread → interrupt flag
  std::map<uint64_t, bool> pending_;
  std::map<uint64_t, std::string> answers_;
  uint64_t next_request_ = 1;
  uint64_t message_count_ = 0;
};

}  // namespace

std::unique_ptr<runtime> make_demo_runtime(demo_options opts) { return std::make_unique<demo_runtime>(opts); }

}  // namespace rc::bridge
