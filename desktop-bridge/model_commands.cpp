// Inbound commands: ack cache, sequence trackers, runtime-response interpretation and command
// processing (APP_SCHEMA §5, §6, §8.3).
#include "desktop-bridge/model.hpp"

#include <algorithm>
#include <set>

#include "desktop-bridge/model_util.hpp"
#include "protocol/time.hpp"

namespace rc::bridge {

using detail::is_affirmative_option;
using detail::is_negative_option;
using detail::is_uint_string;
using detail::lower;
using detail::opt_string;
using detail::trim;

// ---- acks / trackers --------------------------------------------------------------------------

const json* ack_cache::find(const std::string& identity) const {
  auto it = map_.find(identity);
  return it == map_.end() ? nullptr : &it->second;
}

void ack_cache::put(const std::string& identity, json ack) {
  auto it = map_.find(identity);
  if (it != map_.end()) {
    it->second = std::move(ack);
    return;
  }
  map_.emplace(identity, std::move(ack));
  order_.push_back(identity);
  while (order_.size() > cap_) {
    map_.erase(order_.front());
    order_.pop_front();
  }
}

rc::proto::sequence_tracker& tracker_set::get(const std::string& id) {
  auto it = map_.find(id);
  if (it != map_.end()) return it->second;
  while (map_.size() >= cap_ && !order_.empty()) {
    map_.erase(order_.front());
    order_.pop_front();
  }
  order_.push_back(id);
  return map_[id];
}

std::optional<std::string> command_identity(const json& command) {
  auto id = opt_string(command, "commandID");
  if (!id || rc::proto::is_blank(*id)) return std::nullopt;
  json c = command;
  c["commandID"] = trim(*id);
  return c.dump();  // nlohmann::json objects are std::map-backed: keys sorted
}

// ---- runtime responses (§5.2) -----------------------------------------------------------------

std::optional<runtime_response> interpret_response(const runtime_request_info& req,
                                                   const json& resp) {
  if (!resp.is_object()) return std::nullopt;
  runtime_response r;
  r.kind = req.kind;
  r.raw = resp;
  auto option = opt_string(resp, "optionID");
  if (req.kind == "approval") {
    std::string d;
    if (auto dec = opt_string(resp, "decision"))
      d = lower(*dec);
    else if (option)
      d = lower(*option);
    if (d == "approve" || d == "approve_once" || d == "approve-once" || d == "accept" ||
        d == "approveonce")
      r.decision = "approve_once";
    else if (d == "approve_for_session" || d == "approve-session" || d == "approveforsession" ||
             d == "acceptforsession")
      r.decision = "approve_for_session";
    else if (d == "decline" || d == "reject")
      r.decision = "decline";
    else if (d == "cancel")
      r.decision = "cancel";
    else
      return std::nullopt;
    r.approved = r.decision == "approve_once" || r.decision == "approve_for_session";
    return r;
  }
  if (req.kind == "permissionsApproval") {
    auto ap = resp.find("approved");
    bool has_perms = resp.contains("permissions") && resp["permissions"].is_array() &&
                     !resp["permissions"].empty();
    static const std::set<std::string> negative = {"decline", "deny", "reject", "cancel",
                                                   "no",      "stop", "dismiss"};
    if ((ap != resp.end() && ap->is_boolean() && !ap->get<bool>()) ||
        (option && negative.count(lower(*option)))) {
      r.approved = false;
      return r;
    }
    if ((ap != resp.end() && ap->is_boolean() && ap->get<bool>()) ||
        (option && is_affirmative_option(*option)) || has_perms) {
      r.approved = true;
      if (has_perms) {
        for (auto& p : resp["permissions"])
          if (p.is_string()) r.permissions.push_back(p.get<std::string>());
      } else {
        r.permissions = req.permissions;
      }
      if (auto s = opt_string(resp, "scope"))
        r.scope = *s;
      else if (req.scope_hint)
        r.scope = *req.scope_hint;
      return r;
    }
    return std::nullopt;
  }
  if (req.kind == "userInput") {
    if (auto t = opt_string(resp, "text")) {
      auto tt = trim(*t);
      if (!tt.empty()) r.text = tt;
    }
    if (option && std::any_of(req.options.begin(), req.options.end(),
                              [&](const option_info& o) { return o.id == *option; }))
      r.option_id = *option;
    r.approved = true;
    return r;
  }
  if (req.kind == "mcpElicitation") {
    if (auto t = opt_string(resp, "text")) {
      auto tt = trim(*t);
      if (!tt.empty()) r.text = tt;
    }
    r.approved = true;
    return r;
  }
  if (req.kind == "dynamicToolCall") {
    if (auto t = opt_string(resp, "text")) {  // the tool's result, typed on the phone
      auto tt = trim(*t);
      if (!tt.empty()) r.text = tt;
    }
    auto ap = resp.find("approved");
    if (ap != resp.end() && ap->is_boolean()) {
      r.approved = ap->get<bool>();
      return r;
    }
    if (option && is_affirmative_option(*option)) {
      r.approved = true;
      return r;
    }
    if (option && is_negative_option(*option)) {
      r.approved = false;
      return r;
    }
    if (r.text) {  // a result alone answers the call
      r.approved = true;
      return r;
    }
    return std::nullopt;
  }
  return std::nullopt;
}

// ---- command processing -----------------------------------------------------------------------

command_outcome command_processor::process(const json& cmd, uint64_t seq, bool stale, model& m,
                                           runtime* rt, bool approvals_enabled) {
  command_outcome out;
  out.name = opt_string(cmd, "name").value_or("");
  auto raw_id = opt_string(cmd, "commandID");
  out.command_id = raw_id.value_or("");
  auto cmd_thread = opt_string(cmd, "threadID");
  auto make_ack = [&](bool accepted, const std::string& reason,
                      const std::optional<std::string>& thread) {
    json a = {{"commandSeq", seq},
              {"commandID", out.command_id},
              {"commandName", out.name},
              {"status", accepted ? "accepted" : "rejected"}};
    if (!reason.empty()) a["reason"] = reason;
    if (thread && !thread->empty()) a["threadID"] = *thread;
    out.accepted = accepted;
    out.reason = reason;
    return a;
  };
  auto identity = command_identity(cmd);
  if (!identity) {
    out.ack = make_ack(false, "command_id_required", cmd_thread);
    return out;
  }
  if (auto cached = acks_.find(*identity)) {
    out.ack = *cached;
    out.replay = true;
    out.accepted = cached->value("status", "") == "accepted";
    out.reason = cached->value("reason", "");
    return out;
  }
  if (stale) return out;  // never apply a stale command; nothing cached → drop

  out.applied = true;
  auto reject = [&](const std::string& reason, const std::optional<std::string>& thread) {
    out.ack = make_ack(false, reason, thread ? thread : cmd_thread);
  };
  auto check_thread = [&](const std::string& id, std::string& reason) {
    if (!rc::proto::is_compact_id(id))
      reason = "invalid_thread";
    else if (!m.find_thread(id))
      reason = "unknown_thread";
    return reason.empty();
  };
  auto check_project = [&](const std::string& id, std::string& reason) {
    if (!rc::proto::is_compact_id(id))
      reason = "invalid_project";
    else if (!m.has_project(id))
      reason = "unknown_project";
    return reason.empty();
  };

  if (out.name == "project.select") {
    std::string reason;
    auto pid = opt_string(cmd, "projectID").value_or("");
    if (!check_project(pid, reason))
      reject(reason, cmd_thread);
    else {
      m.select_project(pid);
      out.ack = make_ack(true, "", cmd_thread);
    }
  } else if (out.name == "thread.select") {
    std::string reason;
    auto tid = cmd_thread.value_or("");
    if (!check_thread(tid, reason))
      reject(reason, cmd_thread);
    else {
      m.select_thread(tid);
      if (rt && m.connected()) rt->load_history(tid, false);
      out.ack = make_ack(true, "", tid);
    }
  } else if (out.name == "thread.interrupt" || out.name == "thread.load_earlier") {
    // Our extensions (docs/runtimes/codex.md): stop the running turn (a no-op when idle) /
    // load the next page of older stored history into the thread.
    std::string reason;
    auto tid = cmd_thread.value_or("");
    if (!check_thread(tid, reason)) {
      reject(reason, cmd_thread);
    } else if (!rt || !m.connected()) {
      reject("desktop_offline", tid);
    } else if (out.name == "thread.load_earlier" && !m.loads_earlier()) {
      reject("unsupported_command", tid);  // capabilities.loadEarlier is false
    } else {
      if (out.name == "thread.interrupt")
        rt->interrupt(tid);
      else
        rt->load_history(tid, true);
      out.ack = make_ack(true, "", tid);
    }
  } else if (out.name == "thread.send_message") {
    std::string text = trim(opt_string(cmd, "text").value_or(""));
    std::string reason;
    auto pid = opt_string(cmd, "projectID");
    std::optional<std::string> target;
    if (text.empty())
      reason = "empty_message";
    else if (!rt || !m.connected())
      reason = "desktop_offline";
    else if (text.size() > 16384)
      reason = "empty_message";
    if (reason.empty() && pid && check_project(*pid, reason)) m.select_project(*pid);
    if (reason.empty() && cmd_thread && check_thread(*cmd_thread, reason))
      m.select_thread(*cmd_thread);
    if (reason.empty()) {
      target = cmd_thread ? cmd_thread : m.selected_thread();
      if (!target || !m.find_thread(*target))
        reason = "thread_required";
      else if (m.thread_has_pending_request(*target))
        reason = "runtime_request_required";
      else if (m.thread_running(*target))
        reason = "desktop_busy";
    }
    if (reason.empty()) {
      rt->load_history(*target, false);  // a listed thread messaged before it was opened
      turn_request req{*target, text, make_uuid()};
      auto r = rt->start_turn(req);
      if (!r.ok)
        reason = r.reason.empty() ? "desktop_busy" : r.reason;
      else {
        m.add_message({req.user_message_id, *target, "user", text, rc::proto::now_ms()});
        m.set_running(*target, true);
      }
    }
    if (!reason.empty())
      reject(reason, target ? target : cmd_thread);
    else
      out.ack = make_ack(true, "", target);
  } else if (out.name == "runtime_request.respond") {
    std::string reason;
    auto rid = opt_string(cmd, "runtimeRequestID");
    const runtime_request_info* req = nullptr;
    uint64_t id = 0;
    std::optional<runtime_response> resp;
    if (!approvals_enabled)
      reason = "remote_runtime_requests_disabled";
    else if (!rid || rc::proto::is_blank(*rid))
      reason = "runtime_request_required";
    else if (!is_uint_string(trim(*rid)))
      reason = "invalid_runtime_request";
    else {
      id = std::stoull(trim(*rid));
      req = m.find_request(id);
      if (!req) reason = "unknown_runtime_request";
    }
    if (reason.empty()) {
      auto kind = opt_string(cmd, "runtimeRequestKind");
      if (kind && *kind != req->kind)
        reason = "invalid_runtime_request";
      else {
        auto body = cmd.contains("runtimeRequestResponse") ? cmd["runtimeRequestResponse"] : json();
        resp = interpret_response(*req, body);
        if (!resp) reason = "invalid_runtime_request";
      }
    }
    if (reason.empty()) {
      if (!rt || !m.connected())
        reason = "desktop_offline";
      else {
        auto title = req->title, summary = req->summary;
        auto thread = req->thread_id;
        auto r = rt->respond(id, *resp);
        if (!r.ok)
          reason = r.reason.empty() ? "runtime_request_failed" : r.reason;
        else {
          json e = {{"name", "runtime_request.responded"}, {"body", title + ": " + summary}};
          if (thread) e["threadID"] = *thread;
          out.before_ack.push_back(e);
          m.apply(ev_request_resolved{id});
        }
      }
    }
    if (!reason.empty())
      reject(reason, cmd_thread);
    else
      out.ack = make_ack(true, "", cmd_thread);
  } else {
    reject("unsupported_command", cmd_thread);
  }
  acks_.put(*identity, *out.ack);
  return out;
}

}  // namespace rc::bridge
