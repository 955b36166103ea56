// `codex` runtime: `codex app-server` as a child process, JSON-RPC over its stdio (see
// runtime_codex.hpp for the mapping). One I/O thread owns the child (runtime_codex_proc.hpp);
// runtime methods only queue JSON-RPC lines and return, so the broker actor never blocks. All
// state is guarded by `mx_`; events are emitted while holding it, so their order is the order in
// which codex produced them. Request/item mapping: runtime_codex_map.hpp.
#include "desktop-bridge/runtime_codex.hpp"

#include <unistd.h>

#include <chrono>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>

#include "desktop-bridge/runtime_codex_map.hpp"
#include "desktop-bridge/runtime_codex_proc.hpp"
#include "desktop-bridge/runtime_codex_util.hpp"

namespace rc::bridge {

using json = nlohmann::json;

namespace {

using namespace codex;  // NOLINT: the runtime's own helper namespace
using clock_type = std::chrono::steady_clock;

class codex_runtime final : public runtime {
 public:
  explicit codex_runtime(codex_options o) : opts_(std::move(o)) {
    if (opts_.cwd.empty()) {
      char buf[4096];
      opts_.cwd = ::getcwd(buf, sizeof buf) ? std::string(buf) : std::string(".");
    }
    project_id_ = stable_uuid("codex-project:" + opts_.cwd);
  }
  ~codex_runtime() override { stop(); }

  std::string name() const override { return "codex"; }

  void start(event_sink sink) override {
    std::lock_guard<std::mutex> lk(mx_);
    if (started_) return;
    started_ = true;
    {
      std::lock_guard<std::mutex> elk(emit_mx_);
      sink_ = std::move(sink);
    }
    emit(ev_project{{project_id_, basename_of(opts_.cwd) + " (codex)"}});
    if (!opts_.config_error.empty()) {
      emit(ev_status{false, "codex: " + opts_.config_error});
      return;
    }
    emit(ev_status{false, "starting codex app-server"});
    io_ = std::thread([this] { io_loop(); });
  }

  void stop() override {
    {
      std::lock_guard<std::mutex> lk(mx_);
      if (stopping_) return;
      stopping_ = true;
      ready_ = false;
    }
    child_.wake();
    if (io_.joinable()) io_.join();
    std::lock_guard<std::mutex> elk(emit_mx_);
    sink_ = nullptr;
  }

  op_result start_turn(const turn_request& req) override {
    std::lock_guard<std::mutex> lk(mx_);
    if (!ready_ || stopping_) return op_result::fail("desktop_offline");
    auto it = threads_.find(req.thread_id);
    if (it == threads_.end()) return op_result::fail("unknown_thread");
    auto& t = it->second;
    if (t.running) return op_result::fail("desktop_busy");
    t.running = true;
    t.interrupt_requested = false;
    t.turn_id.clear();
    t.last_error.clear();
    t.retry_noted = false;
    emit(ev_turn{t.id, true});
    const std::string id = t.id, text = req.text;
    if (t.draft) {
      // The draft becomes a real conversation: title it and offer a fresh draft.
      t.draft = false;
      t.title = one_line(text, 60);
      if (t.title.empty()) t.title = "Codex thread";
      emit(ev_thread{{t.id, project_id_, t.title, false, false}});
      add_draft(false);
    }
    if (!t.loaded) {
      json p = thread_params();
      p["threadId"] = t.codex_id;
      p["excludeTurns"] = true;
      send_request("thread/resume", p, [this, id, text](const json* res, const json* err) {
        auto* th = find_thread(id);
        if (!th) return;
        if (err || !res)
          return fail_turn(*th, "Could not resume the Codex thread: " + rpc_error(err));
        th->loaded = true;
        send_turn(*th, text);
      });
    } else {
      send_turn(t, text);
    }
    return op_result::success();
  }

  void interrupt(const std::string& thread_id) override {
    std::lock_guard<std::mutex> lk(mx_);
    auto* t = find_thread(thread_id);
    if (!t || !t->running) return;
    t->interrupt_requested = true;
    if (!t->turn_id.empty() && ready_) send_interrupt(*t);
  }

  op_result respond(uint64_t request_id, const runtime_response& r) override {
    std::lock_guard<std::mutex> lk(mx_);
    auto it = pending_.find(request_id);
    if (it == pending_.end()) return op_result::fail("unknown_runtime_request");
    if (!ready_) return op_result::fail("desktop_offline");
    auto result = response_result(it->second, r);
    if (!result) return op_result::fail("invalid_runtime_request");
    send_line({{"id", it->second.server_id}, {"result", *result}});
    pending_.erase(it);
    emit(ev_request_resolved{request_id});
    return op_result::success();
  }

 private:
  struct thread_state {
    std::string id;  // bridge thread ID
    std::string codex_id;
    std::string title;
    bool loaded = false;  // started/resumed in the current app-server process
    bool draft = false;   // "New conversation": no message yet
    bool running = false;
    bool interrupt_requested = false;
    bool retry_noted = false;
    std::string turn_id;
    std::string last_error;
    std::map<std::string, std::string> msg_ids;    // codex item ID → bridge message ID
    std::map<std::string, std::size_t> msg_bytes;  // bridge message ID → streamed bytes
    std::map<std::string, std::string> items;      // codex item ID → short description
  };
  using rpc_callback = std::function<void(const json* result, const json* error)>;

  // ---- helpers (mx_ held) -----------------------------------------------------------------

  void emit(runtime_event ev) {
    std::lock_guard<std::mutex> lk(emit_mx_);
    if (sink_) sink_(std::move(ev));
  }

  void system_message(const std::string& thread_id, const std::string& text) {
    emit(ev_message{{make_uuid(), thread_id, "system", cut_utf8(text, 4000), 0}});
  }

  thread_state* find_thread(const std::string& id) {
    auto it = threads_.find(id);
    return it == threads_.end() ? nullptr : &it->second;
  }

  thread_state* by_codex_id(const std::string& cid) {
    auto it = by_codex_.find(cid);
    return it == by_codex_.end() ? nullptr : find_thread(it->second);
  }
  thread_state* by_codex(const json& params) { return by_codex_id(str_of(params, "threadId")); }

  void add_draft(bool select) {
    send_request("thread/start", thread_params(), [this, select](const json* res, const json* err) {
      std::string cid = res ? str_of(res->value("thread", json::object()), "id") : "";
      if (err || cid.empty()) {
        std::cerr << "desktop-bridge: codex thread/start failed: " << rpc_error(err) << "\n";
        if (select) announce_ready();
        return;
      }
      thread_state t;
      t.id = bridge_thread_id(cid);
      t.codex_id = cid;
      t.loaded = true;
      t.draft = true;
      t.title = "New conversation";
      by_codex_[cid] = t.id;
      emit(ev_thread{{t.id, project_id_, t.title, false, false}});
      if (select) emit(ev_selection{project_id_, t.id});
      threads_[t.id] = std::move(t);
      if (select) announce_ready();
    });
  }

  json thread_params() const {
    json p = {{"cwd", opts_.cwd}};
    if (opts_.approval_policy) p["approvalPolicy"] = *opts_.approval_policy;
    if (opts_.sandbox) p["sandbox"] = *opts_.sandbox;
    if (opts_.model) p["model"] = *opts_.model;
    return p;
  }

  static std::string rpc_error(const json* err) {
    if (!err) return "no thread in the reply";
    auto m = str_of(*err, "message");
    return m.empty() ? dump(*err) : m;
  }

  void send_turn(thread_state& t, const std::string& text) {
    json p = {
        {"threadId", t.codex_id},
        {"input",
         json::array({{{"type", "text"}, {"text", text}, {"text_elements", json::array()}}})}};
    const std::string id = t.id;
    send_request("turn/start", p, [this, id](const json* res, const json* err) {
      auto* th = find_thread(id);
      if (!th) return;
      if (err || !res) return fail_turn(*th, "Codex refused the turn: " + rpc_error(err));
      adopt_turn(*th, str_of(res->value("turn", json::object()), "id"));
    });
  }

  void adopt_turn(thread_state& t, const std::string& turn_id) {
    if (!t.running || !t.turn_id.empty() || turn_id.empty()) return;
    t.turn_id = turn_id;
    if (t.interrupt_requested) send_interrupt(t);
  }

  void send_interrupt(thread_state& t) {
    send_request("turn/interrupt", {{"threadId", t.codex_id}, {"turnId", t.turn_id}},
                 [](const json*, const json*) {});
  }

  void fail_turn(thread_state& t, const std::string& why) {
    system_message(t.id, why);
    end_turn(t);
  }

  void end_turn(thread_state& t) {
    if (!t.running) return;
    t.running = false;
    t.turn_id.clear();
    t.msg_ids.clear();
    t.msg_bytes.clear();
    t.items.clear();
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (it->second.thread_id == t.id) {
        emit(ev_request_resolved{it->first});
        it = pending_.erase(it);
      } else {
        ++it;
      }
    }
    emit(ev_turn{t.id, false});
  }

  std::string message_id_for(thread_state& t, const std::string& item_id) {
    auto it = t.msg_ids.find(item_id);
    if (it != t.msg_ids.end()) return it->second;
    if (t.msg_ids.size() >= 1024) t.msg_ids.erase(t.msg_ids.begin());
    auto mid = make_uuid();
    t.msg_ids[item_id] = mid;
    return mid;
  }

  void send_line(const json& j) {
    auto line = dump(j);
    if (opts_.debug) std::cerr << "codex <- " << cut_utf8(line, 2000) << "\n";
    if (!child_.enqueue(line, opts_.max_outbound_bytes))
      fatal_ = "codex app-server is not reading its input (more than " +
               std::to_string(opts_.max_outbound_bytes) + " bytes queued)";
  }

  void send_request(const std::string& method, json params, rpc_callback cb) {
    uint64_t id = next_rpc_++;
    rpc_[id] = std::move(cb);
    send_line({{"id", id}, {"method", method}, {"params", std::move(params)}});
  }

  // ---- inbound ---------------------------------------------------------------------------

  void handle_line(const std::string& line) {
    if (opts_.debug) std::cerr << "codex -> " << cut_utf8(line, 2000) << "\n";
    auto j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return;
    std::lock_guard<std::mutex> lk(mx_);
    if (stopping_) return;
    auto method = j.find("method");
    auto idit = j.find("id");
    if (method == j.end()) {
      if (idit == j.end() || !idit->is_number_unsigned()) return;
      auto it = rpc_.find(idit->get<uint64_t>());
      if (it == rpc_.end()) return;
      auto cb = std::move(it->second);
      rpc_.erase(it);
      auto e = j.find("error");
      auto r = j.find("result");
      if (e != j.end())
        cb(nullptr, &*e);
      else
        cb(r != j.end() ? &*r : nullptr, nullptr);
      return;
    }
    if (!method->is_string()) return;
    const json params = j.value("params", json::object());
    if (idit != j.end())
      on_server_request(*idit, method->get<std::string>(), params);
    else
      on_notification(method->get<std::string>(), params);
  }

  void on_notification(const std::string& m, const json& p) {
    if (m == "item/agentMessage/delta") {
      auto* t = by_codex(p);
      if (!t || !t->running) return;
      auto delta = str_of(p, "delta");
      auto mid = message_id_for(*t, str_of(p, "itemId"));
      auto& n = t->msg_bytes[mid];
      if (delta.empty() || n >= opts_.max_message_bytes) return;
      delta = cut_utf8(delta, opts_.max_message_bytes - n);
      n += delta.size();
      emit(ev_message_delta{t->id, mid, delta});
    } else if (m == "item/started" || m == "item/completed") {
      if (auto* t = by_codex(p))
        on_item(*t, p.value("item", json::object()), m == "item/completed");
    } else if (m == "turn/started") {
      if (auto* t = by_codex(p)) adopt_turn(*t, str_of(p.value("turn", json::object()), "id"));
    } else if (m == "turn/completed") {
      auto* t = by_codex(p);
      if (!t || !t->running) return;
      auto turn = p.value("turn", json::object());
      auto status = str_of(turn, "status");
      if (status == "failed") {
        auto err = str_of(turn.value("error", json::object()), "message");
        if (err.empty()) err = t->last_error;
        system_message(t->id, "Turn failed: " + (err.empty() ? std::string("unknown error") : err));
      } else if (status == "interrupted") {
        system_message(t->id, "Turn interrupted.");
      }
      end_turn(*t);
    } else if (m == "error") {
      auto* t = by_codex(p);
      if (!t) return;
      auto msg = str_of(p.value("error", json::object()), "message");
      t->last_error = cut_utf8(msg, 1000);
      if (p.value("willRetry", false) && !t->retry_noted && t->running) {
        t->retry_noted = true;
        system_message(t->id, "Codex: " + msg + " (retrying)");
      }
    } else if (m == "serverRequest/resolved") {
      auto rid = p.find("requestId");
      if (rid == p.end()) return;
      for (auto it = pending_.begin(); it != pending_.end(); ++it) {
        if (it->second.server_id == *rid) {
          emit(ev_request_resolved{it->first});
          pending_.erase(it);
          break;
        }
      }
    } else if (m == "thread/name/updated") {
      auto* t = by_codex(p);
      auto name = one_line(str_of(p, "threadName"), 80);
      if (!t || name.empty()) return;
      t->title = name;
      emit(ev_thread{{t->id, project_id_, t->title, false, false}});
    }
  }

  void on_item(thread_state& t, const json& item, bool completed) {
    auto type = str_of(item, "type");
    auto id = str_of(item, "id");
    if (type == "agentMessage") {
      if (!completed || !t.running) return;
      auto text = cut_utf8(str_of(item, "text"), opts_.max_message_bytes);
      if (text.empty() && !t.msg_ids.count(id)) return;
      emit(ev_message{{message_id_for(t, id), t.id, "assistant", text, 0}});
      return;
    }
    if (!completed) {
      auto desc = item_description(item);
      if (id.empty() || desc.empty()) return;
      if (t.items.size() >= 1024) t.items.erase(t.items.begin());
      t.items[id] = std::move(desc);
      return;
    }
    auto card = item_card(item);
    if (card.empty()) return;
    system_message(t.id, card);
    t.items.erase(id);
  }

  void on_server_request(const json& sid, const std::string& m, const json& p) {
    auto* t0 = by_codex(p);
    auto mapped = map_server_request(m, p, [t0](const std::string& item_id) {
      if (!t0) return std::string();
      auto it = t0->items.find(item_id);
      return it == t0->items.end() ? std::string() : it->second;
    });
    if (!mapped) {
      // permissions, MCP elicitations, dynamic tool calls, auth refresh: not supported remotely.
      send_line({{"id", sid}, {"error", refusal_error(m)}});
      if (t0 && t0->running)
        system_message(t0->id, "Codex request \"" + m + "\" is not supported remotely; refused.");
      return;
    }
    auto& r = mapped->pending;
    r.server_id = sid;
    auto* t = by_codex_id(r.codex_thread);
    if (t) r.thread_id = t->id;
    if (pending_.size() >= opts_.max_pending_requests) {
      // Bound the pending set: refuse further requests instead of queueing them without limit.
      send_line({{"id", sid}, {"result", refusal_result(r)}});
      return;
    }
    auto& info = mapped->info;
    info.id = next_request_++;
    if (t) info.thread_id = t->id;
    pending_[info.id] = std::move(r);
    emit(ev_request{info});
  }

  // ---- process + I/O thread ----------------------------------------------------------------

  void begin_handshake() {
    json caps = {{"experimentalApi", false}};
    json p = {{"clientInfo",
               {{"name", "remote_control_bridge"},
                {"title", "Remote Control desktop bridge"},
                {"version", "0.1.0"}}},
              {"capabilities", caps}};
    send_request("initialize", p, [this](const json* res, const json* err) {
      if (err || !res) {
        fatal_ = "initialize failed: " + rpc_error(err);
        return;
      }
      initialized_ = true;
      user_agent_ = str_of(*res, "userAgent");
      send_line({{"method", "initialized"}});
      if (opts_.list_limit <= 0) return go_ready();
      json lp = {{"limit", opts_.list_limit}, {"cwd", opts_.cwd}};
      send_request("thread/list", lp, [this](const json* r2, const json* e2) {
        if (r2 && r2->contains("data") && (*r2)["data"].is_array()) {
          for (auto& th : (*r2)["data"]) add_listed_thread(th);
        } else if (e2 && opts_.debug) {
          std::cerr << "codex: thread/list failed: " << rpc_error(e2) << "\n";
        }
        go_ready();
      });
    });
  }

  void add_listed_thread(const json& th) {
    auto cid = str_of(th, "id");
    if (cid.empty() || by_codex_.count(cid)) return;
    thread_state t;
    t.id = bridge_thread_id(cid);
    t.codex_id = cid;
    auto title = str_of(th, "name");
    if (title.empty()) title = str_of(th, "preview");
    t.title = one_line(title, 60);
    if (t.title.empty()) t.title = "Codex thread";
    by_codex_[cid] = t.id;
    emit(ev_thread{{t.id, project_id_, t.title, false, false}});
    threads_[t.id] = std::move(t);
  }

  // After initialize (+ thread/list): create the first draft, then report online.
  void go_ready() { add_draft(true); }

  void announce_ready() {
    ready_ = true;
    emit(ev_status{true, "codex app-server ready" +
                             (user_agent_.empty() ? "" : " (" + user_agent_ + ")") + " in " +
                             opts_.cwd});
  }

  // The child is gone (or must go): everything in flight ends; the runtime goes offline.
  void on_child_gone(const std::string& why) {
    ready_ = false;
    rpc_.clear();
    for (auto& [id, t] : threads_) {
      t.loaded = false;
      if (t.running) {
        system_message(id, "Codex stopped: " + why);
        end_turn(t);
      }
    }
    for (auto& [rid, r] : pending_) emit(ev_request_resolved{rid});
    pending_.clear();
    emit(ev_status{false, "codex: " + why});
  }

  void io_loop() {
    {
      std::lock_guard<std::mutex> lk(mx_);
      if (stopping_) return;
      std::vector<std::string> argv = {opts_.codex_bin, "app-server"};
      argv.insert(argv.end(), opts_.app_server_args.begin(), opts_.app_server_args.end());
      std::string err;
      if (!child_.spawn(argv, opts_.cwd, err)) return on_child_gone(err);
      begin_handshake();
    }
    const auto t0 = clock_type::now();
    std::string why;
    bool exited = false;
    auto on_line = [this](const std::string& line) { handle_line(line); };
    for (;;) {
      {
        std::lock_guard<std::mutex> lk(mx_);
        if (stopping_) break;
        if (!fatal_.empty()) {
          why = fatal_;
          break;
        }
        if (!initialized_ &&
            clock_type::now() - t0 > std::chrono::milliseconds(opts_.init_timeout_ms)) {
          why = "codex app-server did not answer `initialize` within " +
                std::to_string(opts_.init_timeout_ms / 1000) + " s";
          break;
        }
      }
      auto r = child_.poll_once(250, opts_.max_line_bytes, opts_.debug, on_line, why);
      if (r == child_process::poll_result::ok) continue;
      exited = r != child_process::poll_result::error;
      break;
    }
    bool stopping;
    {
      std::lock_guard<std::mutex> lk(mx_);
      stopping = stopping_;
    }
    int status = child_.shutdown(exited, stopping ? 1500 : 3000);
    if (stopping) return;
    std::string msg = exited ? "codex app-server exited (" + describe_status(status) + ")"
                             : why + "; codex app-server stopped";
    // The stderr tail, without a Rust backtrace (noise in a status line).
    auto err_tail = child_.stderr_tail();
    if (auto bt = err_tail.find("Stack backtrace:"); bt != std::string::npos) err_tail.resize(bt);
    auto tail =
        one_line(err_tail.size() > 600 ? err_tail.substr(err_tail.size() - 600) : err_tail, 600);
    if (!tail.empty()) msg += ": " + tail;
    std::cerr << "desktop-bridge: " << msg << "\n";
    std::lock_guard<std::mutex> lk(mx_);
    on_child_gone(msg);
  }

  codex_options opts_;
  std::string project_id_, user_agent_;
  std::mutex mx_, emit_mx_;
  event_sink sink_;
  std::thread io_;
  child_process child_;
  bool started_ = false, stopping_ = false, ready_ = false, initialized_ = false;
  std::string fatal_;
  uint64_t next_rpc_ = 1;
  uint64_t next_request_ = 1;
  std::map<uint64_t, rpc_callback> rpc_;
  std::map<std::string, thread_state> threads_;
  std::map<std::string, std::string> by_codex_;
  std::map<uint64_t, pending_request> pending_;
};

}  // namespace

std::unique_ptr<runtime> make_codex_runtime(codex_options opts) {
  return std::make_unique<codex_runtime>(std::move(opts));
}

std::unique_ptr<runtime> make_codex_runtime(const std::vector<std::string>& args) {
  return make_codex_runtime(parse_codex_options(args));
}

}  // namespace rc::bridge
