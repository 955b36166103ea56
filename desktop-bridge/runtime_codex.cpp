// `codex` runtime: `codex app-server` as a child process, JSON-RPC over its stdio (see
// runtime_codex.hpp for the mapping). One I/O thread owns the child's pipes (poll: stdout,
// stderr, stdin when output is queued, a wake pipe); runtime methods only queue JSON-RPC lines
// and return, so the broker actor never blocks. All state is guarded by `mx_`; events are
// emitted while holding it, so their order is the order in which codex produced them.
#include "desktop-bridge/runtime_codex.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>

extern char** environ;

namespace rc::bridge {

using json = nlohmann::json;

namespace {

using clock_type = std::chrono::steady_clock;

std::string env_or(const char* name, const std::string& dflt) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : dflt;
}

// Cuts at a UTF-8 character boundary.
std::string cut_utf8(const std::string& s, std::size_t max_bytes) {
  if (s.size() <= max_bytes) return s;
  std::size_t n = max_bytes;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

std::string one_line(const std::string& s, std::size_t max_bytes) {
  std::string out;
  for (char c : s) out += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  auto first = out.find_first_not_of(' ');
  if (first == std::string::npos) return {};
  out.erase(0, first);
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (out.size() > max_bytes) return cut_utf8(out, max_bytes) + "...";
  return out;
}

std::string str_of(const json& j, const char* key, const std::string& dflt = {}) {
  if (!j.is_object()) return dflt;
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : dflt;
}

std::string upper(std::string s) {
  for (auto& c : s)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return s;
}

bool compact_id(const std::string& s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
          c == ':' || c == '-'))
      return false;
  return true;
}

// Stable UUID-shaped ID from a string (two FNV-1a 64 hashes), so a restarted bridge keeps the
// project ID of a working directory.
std::string stable_uuid(const std::string& s) {
  uint64_t a = 0xcbf29ce484222325ULL, b = 0x84222325cbf29ce4ULL;
  for (unsigned char c : s) {
    a = (a ^ c) * 0x100000001b3ULL;
    b = (b ^ c) * 0x100000001b3ULL;
    b ^= b >> 29;
  }
  a = (a & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;
  b = (b & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08X-%04X-%04X-%04X-%012llX", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xFFFF), static_cast<unsigned>(a & 0xFFFF),
                static_cast<unsigned>(b >> 48),
                static_cast<unsigned long long>(b & 0xFFFFFFFFFFFFULL));
  return buf;
}

std::string basename_of(const std::string& path) {
  auto p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  auto i = p.rfind('/');
  return i == std::string::npos ? p : (i + 1 < p.size() ? p.substr(i + 1) : p);
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "status " + std::to_string(status);
}

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::vector<option_info> approval_options() {
  return {{"approve_once", "Approve once", std::nullopt},
          {"approve_for_session", "Approve for session", std::nullopt},
          {"decline", "Decline", std::nullopt},
          {"cancel", "Cancel", std::nullopt}};
}

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
    if (::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) {
      emit(ev_status{false, std::string("codex: pipe failed: ") + std::strerror(errno)});
      return;
    }
    io_ = std::thread([this] { io_loop(); });
  }

  void stop() override {
    {
      std::lock_guard<std::mutex> lk(mx_);
      if (stopping_) return;
      stopping_ = true;
      ready_ = false;
    }
    wake();
    if (io_.joinable()) io_.join();
    if (wake_[0] >= 0) ::close(wake_[0]);
    if (wake_[1] >= 0) ::close(wake_[1]);
    wake_[0] = wake_[1] = -1;
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
    auto& p = it->second;
    if (r.kind != p.kind) return op_result::fail("invalid_runtime_request");
    json result;
    if (p.kind == "approval") {
      const auto& d = r.decision;
      if (d != "approve_once" && d != "approve_for_session" && d != "decline" && d != "cancel")
        return op_result::fail("invalid_runtime_request");
      if (p.legacy) {
        // ReviewDecision of execCommandApproval / applyPatchApproval.
        json dec = d == "approve_once"          ? json("approved")
                   : d == "approve_for_session" ? json("approved_for_session")
                   : d == "decline" ? json{{"denied", {{"rejection", "Declined from the phone."}}}}
                                    : json("abort");
        result = {{"decision", dec}};
      } else {
        result = {{"decision", d == "approve_once"          ? "accept"
                               : d == "approve_for_session" ? "acceptForSession"
                                                            : d}};
      }
    } else if (p.kind == "userInput") {
      json answers = json::object();
      std::string answer;
      if (r.option_id) {
        for (auto& o : p.options)
          if (o.id == *r.option_id) answer = o.label;
      }
      if (answer.empty() && r.text) answer = *r.text;
      if (!p.question_ids.empty()) {
        for (std::size_t i = 0; i < p.question_ids.size(); ++i) {
          json a = json::array();
          if (i == 0 && !answer.empty()) a.push_back(answer);
          answers[p.question_ids[i]] = {{"answers", a}};
        }
      }
      result = {{"answers", answers}};
    } else {
      return op_result::fail("invalid_runtime_request");
    }
    send_line({{"id", p.server_id}, {"result", result}});
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
  struct pending_request {
    json server_id;
    std::string kind;
    std::string thread_id;  // bridge thread ID ("" = unknown)
    bool legacy = false;
    std::vector<option_info> options;
    std::vector<std::string> question_ids;
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

  thread_state* by_codex(const json& params, const char* key = "threadId") {
    auto cid = str_of(params, key);
    auto it = by_codex_.find(cid);
    return it == by_codex_.end() ? nullptr : find_thread(it->second);
  }

  // Drafts are real (not yet materialised) codex threads, so a bridge thread ID is always the
  // codex thread ID (upper-cased) and stays valid across bridge restarts once used.
  static std::string bridge_id_for(const std::string& cid) {
    return compact_id(cid) ? upper(cid) : stable_uuid("codex-thread:" + cid);
  }

  void add_draft(bool select) {
    send_request("thread/start", thread_params(), [this, select](const json* res, const json* err) {
      std::string cid = res ? str_of(res->value("thread", json::object()), "id") : "";
      if (err || cid.empty()) {
        std::cerr << "desktop-bridge: codex thread/start failed: " << rpc_error(err) << "\n";
        if (select) announce_ready();
        return;
      }
      thread_state t;
      t.id = bridge_id_for(cid);
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
      auto tid = str_of(res->value("turn", json::object()), "id");
      if (th->running && th->turn_id.empty() && !tid.empty()) {
        th->turn_id = tid;
        if (th->interrupt_requested) send_interrupt(*th);
      }
    });
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

  void remember_item(thread_state& t, const std::string& item_id, std::string desc) {
    if (item_id.empty()) return;
    if (t.items.size() >= 1024) t.items.erase(t.items.begin());
    t.items[item_id] = std::move(desc);
  }

  void send_line(const json& j) {
    auto line = dump(j);
    if (opts_.debug) std::cerr << "codex <- " << cut_utf8(line, 2000) << "\n";
    if (outq_.size() + line.size() + 1 > opts_.max_outbound_bytes) {
      fatal_ = "codex app-server is not reading its input (" + std::to_string(outq_.size()) +
               " bytes queued)";
    } else {
      outq_ += line;
      outq_ += '\n';
    }
    wake();
  }

  void send_request(const std::string& method, json params, rpc_callback cb) {
    uint64_t id = next_rpc_++;
    rpc_[id] = std::move(cb);
    send_line({{"id", id}, {"method", method}, {"params", std::move(params)}});
  }

  void wake() {
    if (wake_[1] >= 0) {
      char c = 1;
      [[maybe_unused]] auto n = ::write(wake_[1], &c, 1);
    }
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
      auto* t = by_codex(p);
      if (!t) return;
      on_item(*t, p.value("item", json::object()), m == "item/completed");
    } else if (m == "turn/started") {
      auto* t = by_codex(p);
      if (!t || !t->running) return;
      auto tid = str_of(p.value("turn", json::object()), "id");
      if (t->turn_id.empty() && !tid.empty()) {
        t->turn_id = tid;
        if (t->interrupt_requested) send_interrupt(*t);
      }
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
    } else if (type == "commandExecution") {
      auto cmd = one_line(str_of(item, "command"), 300);
      if (!completed) return remember_item(t, id, "`" + cmd + "`");
      auto status = str_of(item, "status");
      std::string text = "Command: `" + cmd + "`";
      if (status == "declined")
        text += " (declined)";
      else if (item.contains("exitCode") && item["exitCode"].is_number_integer())
        text += " (exit " + std::to_string(item["exitCode"].get<int64_t>()) + ")";
      else if (!status.empty())
        text += " (" + status + ")";
      auto out = str_of(item, "aggregatedOutput");
      if (!out.empty()) {
        if (out.size() > 1500) out = "..." + out.substr(out.size() - 1500);
        text += "\n" + out;
      }
      system_message(t.id, text);
      t.items.erase(id);
    } else if (type == "fileChange") {
      std::string paths;
      if (item.contains("changes") && item["changes"].is_array())
        for (auto& c : item["changes"]) {
          auto path = str_of(c, "path");
          if (path.empty() || paths.size() > 400) continue;
          paths += (paths.empty() ? "" : ", ") + path;
        }
      if (!completed) return remember_item(t, id, paths);
      system_message(t.id, "File change: " + (paths.empty() ? std::string("(no files)") : paths) +
                               " (" + str_of(item, "status", "done") + ")");
      t.items.erase(id);
    }
  }

  void on_server_request(const json& sid, const std::string& m, const json& p) {
    pending_request r;
    r.server_id = sid;
    runtime_request_info info;
    thread_state* t = nullptr;
    if (m == "item/commandExecution/requestApproval" || m == "item/fileChange/requestApproval") {
      t = by_codex(p);
      r.kind = "approval";
      bool cmd = m == "item/commandExecution/requestApproval";
      info.title = cmd ? "Run command?" : "Apply file changes?";
      std::string what;
      if (cmd) {
        auto c = str_of(p, "command");
        if (c.empty() && t) {
          auto it = t->items.find(str_of(p, "itemId"));
          if (it != t->items.end()) c = it->second;
        } else {
          c = "`" + c + "`";
        }
        what = c.empty() ? "a command" : c;
        auto cwd = str_of(p, "cwd");
        if (!cwd.empty()) what += " in " + cwd;
      } else {
        if (t) {
          auto it = t->items.find(str_of(p, "itemId"));
          if (it != t->items.end()) what = it->second;
        }
        if (what.empty()) what = "file changes";
      }
      auto reason = str_of(p, "reason");
      info.summary = "Codex wants to " + std::string(cmd ? "run " : "change ") + what +
                     (reason.empty() ? "" : " — " + reason);
      info.response_options = approval_options();
    } else if (m == "execCommandApproval" || m == "applyPatchApproval") {
      t = by_codex(p, "conversationId");
      r.kind = "approval";
      r.legacy = true;
      bool cmd = m == "execCommandApproval";
      info.title = cmd ? "Run command?" : "Apply file changes?";
      std::string what;
      if (cmd && p.contains("command") && p["command"].is_array()) {
        for (auto& w : p["command"])
          if (w.is_string()) what += (what.empty() ? "" : " ") + w.get<std::string>();
        what = "run `" + what + "`";
      } else if (!cmd && p.contains("fileChanges") && p["fileChanges"].is_object()) {
        for (auto& el : p["fileChanges"].items())
          if (what.size() < 400) what += (what.empty() ? "" : ", ") + el.key();
        what = "change " + what;
      }
      auto reason = str_of(p, "reason");
      info.summary = "Codex wants to " + (what.empty() ? std::string("proceed") : what) +
                     (reason.empty() ? "" : " — " + reason);
      info.response_options = approval_options();
    } else if (m == "item/tool/requestUserInput") {
      t = by_codex(p);
      r.kind = "userInput";
      info.title = "Codex asks";
      if (p.contains("questions") && p["questions"].is_array()) {
        for (auto& q : p["questions"]) {
          auto qid = str_of(q, "id");
          if (qid.empty()) continue;
          r.question_ids.push_back(qid);
          if (r.question_ids.size() == 1) {
            auto header = one_line(str_of(q, "header"), 80);
            if (!header.empty()) info.title = header;
            info.summary = one_line(str_of(q, "question"), 1000);
            if (q.contains("options") && q["options"].is_array()) {
              int n = 0;
              for (auto& o : q["options"]) {
                auto label = one_line(str_of(o, "label"), 200);
                if (label.empty() || n >= 16) continue;
                auto desc = one_line(str_of(o, "description"), 300);
                r.options.push_back(
                    {"option_" + std::to_string(++n), label,
                     desc.empty() ? std::nullopt : std::optional<std::string>(desc)});
              }
            }
          }
        }
      }
      if (info.summary.empty()) info.summary = "Codex needs input to continue.";
      info.options = r.options;
    } else {
      // permissions, MCP elicitations, dynamic tool calls, auth refresh: not supported remotely.
      send_line({{"id", sid},
                 {"error",
                  {{"code", -32601},
                   {"message", m + " is not supported by the Remote Control desktop bridge"}}}});
      if (auto* th = by_codex(p); th && th->running)
        system_message(th->id, "Codex request \"" + m + "\" is not supported remotely; refused.");
      return;
    }
    if (t) r.thread_id = t->id;
    if (pending_.size() >= opts_.max_pending_requests) {
      // Bound the pending set: refuse further requests instead of queueing them without limit.
      json result = r.kind == "userInput" ? json{{"answers", json::object()}}
                    : r.legacy            ? json{{"decision", "abort"}}
                                          : json{{"decision", "cancel"}};
      send_line({{"id", sid}, {"result", result}});
      return;
    }
    info.id = next_request_++;
    info.kind = r.kind;
    if (t) info.thread_id = t->id;
    info.title = cut_utf8(info.title, 200);
    info.summary = cut_utf8(info.summary, 2000);
    pending_[info.id] = std::move(r);
    emit(ev_request{info});
  }

  // ---- process + I/O thread ----------------------------------------------------------------

  bool spawn_child(std::string& err) {
    int in[2] = {-1, -1}, out[2] = {-1, -1}, er[2] = {-1, -1};
    auto close_all = [&] {
      for (int fd : {in[0], in[1], out[0], out[1], er[0], er[1]})
        if (fd >= 0) ::close(fd);
    };
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0 ||
        ::pipe2(er, O_CLOEXEC) != 0) {
      err = std::string("pipe failed: ") + std::strerror(errno);
      close_all();
      return false;
    }
    std::vector<std::string> args = {opts_.codex_bin, "app-server"};
    for (auto& a : opts_.app_server_args) args.push_back(a);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, er[1], 2);
    posix_spawn_file_actions_addchdir_np(&fa, opts_.cwd.c_str());
    // Own process group (killed as a group); default signal mask and dispositions (the bridge
    // blocks SIGINT/SIGTERM and ignores SIGPIPE, which a child would otherwise inherit).
    sigset_t empty, def;
    sigemptyset(&empty);
    sigemptyset(&def);
    for (int s : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGCHLD}) sigaddset(&def, s);
    posix_spawnattr_setsigmask(&attr, &empty);
    posix_spawnattr_setsigdefault(&attr, &def);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(
        &attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid = -1;
    int rc = ::posix_spawnp(&pid, argv[0], &fa, &attr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    ::close(in[0]);
    ::close(out[1]);
    ::close(er[1]);
    in[0] = out[1] = er[1] = -1;
    if (rc != 0) {
      err = "cannot run '" + opts_.codex_bin + "' (in " + opts_.cwd + "): " + std::strerror(rc) +
            (rc == ENOENT ? " — install the Codex CLI or pass its path after `--` / RC_CODEX_BIN"
                          : "");
      close_all();
      return false;
    }
    for (int fd : {in[1], out[0], er[0]}) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    pid_ = pid;
    in_fd_ = in[1];
    out_fd_ = out[0];
    err_fd_ = er[0];
    return true;
  }

  // Waits up to `ms` for the child; SIGKILLs the group after that. Returns the wait status.
  int reap_child(int ms) {
    int status = exit_status_;
    if (reaped_) {
      ::kill(-pid_, SIGKILL);  // the group may outlive a wrapper (npm's codex.js spawns codex)
      pid_ = -1;
      return status;
    }
    auto deadline = clock_type::now() + std::chrono::milliseconds(ms);
    for (;;) {
      pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_ || (r < 0 && errno != EINTR)) break;
      if (clock_type::now() >= deadline) {
        ::kill(-pid_, SIGKILL);
        ::kill(pid_, SIGKILL);
        while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::kill(-pid_, SIGKILL);  // leftovers of the group (commands codex started)
    pid_ = -1;
    return status;
  }

  void close_fds() {
    for (int* fd : {&in_fd_, &out_fd_, &err_fd_})
      if (*fd >= 0) {
        ::close(*fd);
        *fd = -1;
      }
  }

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
          for (auto& th : (*r2)["data"]) {
            auto cid = str_of(th, "id");
            if (cid.empty() || by_codex_.count(cid)) continue;
            thread_state t;
            t.id = bridge_id_for(cid);
            t.codex_id = cid;
            auto title = th.contains("name") && th["name"].is_string() ? str_of(th, "name") : "";
            if (title.empty()) title = str_of(th, "preview");
            t.title = one_line(title, 60);
            if (t.title.empty()) t.title = "Codex thread";
            by_codex_[cid] = t.id;
            emit(ev_thread{{t.id, project_id_, t.title, false, false}});
            threads_[t.id] = std::move(t);
          }
        } else if (e2 && opts_.debug) {
          std::cerr << "codex: thread/list failed: " << rpc_error(e2) << "\n";
        }
        go_ready();
      });
    });
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
    outq_.clear();
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
    std::string err;
    bool ok;
    {
      std::lock_guard<std::mutex> lk(mx_);
      if (stopping_) return;
      ok = spawn_child(err);
      if (!ok) {
        on_child_gone(err);
        return;
      }
      begin_handshake();
    }
    const auto t0 = clock_type::now();
    std::string linebuf, err_tail;
    bool discarding = false, out_open = true;
    std::string why;
    for (;;) {
      pollfd fds[4];
      int n = 0;
      fds[n++] = {wake_[0], POLLIN, 0};
      int out_i = -1, err_i = -1, in_i = -1;
      if (out_open) {
        out_i = n;
        fds[n++] = {out_fd_, POLLIN, 0};
      }
      if (err_fd_ >= 0) {
        err_i = n;
        fds[n++] = {err_fd_, POLLIN, 0};
      }
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
        if (!outq_.empty() && in_fd_ >= 0) {
          in_i = n;
          fds[n++] = {in_fd_, POLLOUT, 0};
        }
      }
      // The direct child may die while a grandchild keeps the pipes open (npm's codex.js wrapper
      // spawns the native binary), so watch the PID as well as stdout EOF.
      if (::waitpid(pid_, &exit_status_, WNOHANG) == pid_) {
        reaped_ = true;
        why = "exited";
        break;
      }
      int rc = ::poll(fds, static_cast<nfds_t>(n), 250);
      if (rc < 0 && errno != EINTR) {
        why = std::string("poll failed: ") + std::strerror(errno);
        break;
      }
      if (rc <= 0) continue;
      if (fds[0].revents) {
        char b[64];
        while (::read(wake_[0], b, sizeof b) > 0) {
        }
      }
      if (in_i >= 0 && (fds[in_i].revents & (POLLOUT | POLLERR | POLLHUP))) {
        std::lock_guard<std::mutex> lk(mx_);
        while (!outq_.empty()) {
          auto w = ::write(in_fd_, outq_.data(), outq_.size());
          if (w > 0) {
            outq_.erase(0, static_cast<std::size_t>(w));
          } else if (w < 0 && errno == EINTR) {
            continue;
          } else {
            if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
              outq_.clear();  // EPIPE: the child is exiting; stdout EOF follows
              ::close(in_fd_);
              in_fd_ = -1;
            }
            break;
          }
        }
      }
      if (err_i >= 0 && (fds[err_i].revents & (POLLIN | POLLHUP | POLLERR))) {
        char b[4096];
        auto r = ::read(err_fd_, b, sizeof b);
        if (r > 0) {
          if (opts_.debug) std::cerr.write(b, r);
          err_tail.append(b, static_cast<std::size_t>(r));
          if (err_tail.size() > 4096) err_tail.erase(0, err_tail.size() - 4096);
        } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
          ::close(err_fd_);
          err_fd_ = -1;
        }
      }
      if (out_i >= 0 && (fds[out_i].revents & (POLLIN | POLLHUP | POLLERR))) {
        char b[65536];
        auto r = ::read(out_fd_, b, sizeof b);
        if (r > 0) {
          std::size_t start = 0, len = static_cast<std::size_t>(r);
          for (std::size_t i = 0; i < len; ++i) {
            if (b[i] != '\n') continue;
            if (!discarding) {
              linebuf.append(b + start, i - start);
              handle_line(linebuf);
            }
            linebuf.clear();
            discarding = false;
            start = i + 1;
          }
          if (!discarding) linebuf.append(b + start, len - start);
          if (linebuf.size() > opts_.max_line_bytes) {
            std::cerr << "codex: dropped a JSON-RPC line longer than " << opts_.max_line_bytes
                      << " bytes\n";
            linebuf.clear();
            linebuf.shrink_to_fit();
            discarding = true;
          }
        } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
          out_open = false;
          why = "exited";
          break;
        }
      }
    }
    // Shut the child down: close stdin (stdio transport ends), SIGTERM, then SIGKILL.
    bool stopping;
    {
      std::lock_guard<std::mutex> lk(mx_);
      stopping = stopping_;
      if (in_fd_ >= 0) {
        ::close(in_fd_);
        in_fd_ = -1;
      }
    }
    if (why != "exited") {
      ::kill(-pid_, SIGTERM);
      ::kill(pid_, SIGTERM);
    }
    int status = reap_child(stopping ? 1500 : 3000);
    // Drain what is left of stderr for the error message.
    if (err_fd_ >= 0) {
      char b[4096];
      for (int i = 0; i < 16; ++i) {
        auto r = ::read(err_fd_, b, sizeof b);
        if (r <= 0) break;
        err_tail.append(b, static_cast<std::size_t>(r));
      }
      if (err_tail.size() > 4096) err_tail.erase(0, err_tail.size() - 4096);
    }
    close_fds();
    if (stopping) return;
    std::string msg = why == "exited" ? "codex app-server exited (" + describe_status(status) + ")"
                                      : why + "; codex app-server stopped";
    // The stderr tail, without a Rust backtrace (noise in a status line).
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
  int wake_[2] = {-1, -1};
  pid_t pid_ = -1;
  int in_fd_ = -1, out_fd_ = -1, err_fd_ = -1;
  bool started_ = false, stopping_ = false, ready_ = false, initialized_ = false;
  bool reaped_ = false;  // pid_ already waited for (status in exit_status_)
  int exit_status_ = 0;
  std::string fatal_;
  std::string outq_;
  uint64_t next_rpc_ = 1;
  uint64_t next_request_ = 1;
  std::map<uint64_t, rpc_callback> rpc_;
  std::map<std::string, thread_state> threads_;
  std::map<std::string, std::string> by_codex_;
  std::map<uint64_t, pending_request> pending_;
};

}  // namespace

codex_options parse_codex_options(const std::vector<std::string>& args) {
  codex_options o;
  o.codex_bin = env_or("RC_CODEX_BIN", o.codex_bin);
  o.cwd = env_or("RC_CODEX_CWD", "");
  if (auto v = env_or("RC_CODEX_APPROVAL_POLICY", ""); !v.empty()) o.approval_policy = v;
  if (auto v = env_or("RC_CODEX_SANDBOX", ""); !v.empty()) o.sandbox = v;
  if (auto v = env_or("RC_CODEX_MODEL", ""); !v.empty()) o.model = v;
  o.debug = env_or("RC_CODEX_DEBUG", "") == "1";
  std::size_t i = 0;
  if (!args.empty() && !args[0].empty() && args[0][0] != '-') o.codex_bin = args[i++];
  for (; i < args.size(); ++i) {
    const auto& a = args[i];
    auto value = [&](std::string& out) {
      if (i + 1 >= args.size()) {
        o.config_error = a + " needs a value";
        return false;
      }
      out = args[++i];
      return true;
    };
    std::string v;
    if (a == "--codex-cwd") {
      if (value(v)) o.cwd = v;
    } else if (a == "--codex-approval-policy") {
      if (value(v)) o.approval_policy = v;
    } else if (a == "--codex-sandbox") {
      if (value(v)) o.sandbox = v;
    } else if (a == "--codex-model") {
      if (value(v)) o.model = v;
    } else if (a == "--codex-list-limit") {
      if (value(v)) {
        char* end = nullptr;
        long n = std::strtol(v.c_str(), &end, 10);
        if (!end || *end || n < 0 || n > 100)
          o.config_error = "--codex-list-limit must be 0..100";
        else
          o.list_limit = static_cast<int>(n);
      }
    } else if (a == "--codex-debug") {
      o.debug = true;
    } else if (a == "--listen") {
      o.config_error = "--listen is not supported (the bridge speaks stdio)";
    } else {
      o.app_server_args.push_back(a);
    }
  }
  return o;
}

std::unique_ptr<runtime> make_codex_runtime(codex_options opts) {
  return std::make_unique<codex_runtime>(std::move(opts));
}

std::unique_ptr<runtime> make_codex_runtime(const std::vector<std::string>& args) {
  return make_codex_runtime(parse_codex_options(args));
}

}  // namespace rc::bridge
