// codex app-server ⇄ runtime interface mapping (see runtime_codex_map.hpp).
#include "desktop-bridge/runtime_codex_map.hpp"

#include <algorithm>

#include "desktop-bridge/runtime_codex_util.hpp"
#include "desktop-bridge/runtime_requests.hpp"

namespace rc::bridge::codex {

namespace {

using requests::approval_options;
using requests::option_of;

std::string with_reason(const std::string& text, const json& p) {
  auto reason = str_of(p, "reason");
  return reason.empty() ? text : text + " — " + reason;
}

void map_approval(const std::string& m, const json& p, const item_lookup& items,
                  mapped_request& out) {
  bool cmd = m == "item/commandExecution/requestApproval";
  out.info.title = cmd ? "Run command?" : "Apply file changes?";
  auto remembered = items ? items(str_of(p, "itemId")) : std::string();
  std::string what;
  if (cmd) {
    auto c = str_of(p, "command");
    what = c.empty() ? remembered : "`" + c + "`";
    if (what.empty()) what = "a command";
    auto cwd = str_of(p, "cwd");
    if (!cwd.empty()) what += " in " + cwd;
  } else {
    what = remembered.empty() ? "file changes" : remembered;
  }
  out.info.summary =
      with_reason("Codex wants to " + std::string(cmd ? "run " : "change ") + what, p);
  out.info.response_options = approval_options();
}

void map_legacy_approval(const std::string& m, const json& p, mapped_request& out) {
  bool cmd = m == "execCommandApproval";
  out.pending.legacy = true;
  out.pending.codex_thread = str_of(p, "conversationId");
  out.info.title = cmd ? "Run command?" : "Apply file changes?";
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
  out.info.summary =
      with_reason("Codex wants to " + (what.empty() ? std::string("proceed") : what), p);
  out.info.response_options = approval_options();
}

void map_user_input(const json& p, mapped_request& out) {
  out.info.title = "Codex asks";
  if (p.contains("questions") && p["questions"].is_array()) {
    for (auto& q : p["questions"]) {
      auto qid = str_of(q, "id");
      if (qid.empty()) continue;
      out.pending.question_ids.push_back(qid);
      if (out.pending.question_ids.size() != 1) continue;
      auto header = one_line(str_of(q, "header"), 80);
      if (!header.empty()) out.info.title = header;
      out.info.summary = one_line(str_of(q, "question"), 1000);
      if (!q.contains("options") || !q["options"].is_array()) continue;
      int n = 0;
      for (auto& o : q["options"]) {
        auto label = one_line(str_of(o, "label"), 200);
        if (label.empty() || n >= 16) continue;
        auto desc = one_line(str_of(o, "description"), 300);
        out.pending.options.push_back(
            {"option_" + std::to_string(++n), label,
             desc.empty() ? std::nullopt : std::optional<std::string>(desc)});
      }
    }
  }
  if (out.info.summary.empty()) out.info.summary = "Codex needs input to continue.";
  out.info.options = out.pending.options;
}

// ---- permissions (item/permissions/requestApproval) -------------------------------------------

void add_grant(pending_request& p, std::string label, json fragment) {
  if (label.size() > 250 || p.grants.size() >= 32) return;  // the relay's permission bounds
  for (auto& g : p.grants)
    if (g.first == label) return;
  p.grants.emplace_back(std::move(label), std::move(fragment));
}

std::string fs_path_label(const json& path) {
  auto type = str_of(path, "type");
  if (type == "path") return str_of(path, "path");
  if (type == "glob_pattern") return str_of(path, "pattern");
  if (type == "special") {
    auto v = member(path, "value");
    auto sub = str_of(v, "subpath");
    return ":" + str_of(v, "kind") + (sub.empty() ? "" : "/" + sub);
  }
  return {};
}

void map_permissions(const json& p, mapped_request& out) {
  auto& r = out.pending;
  auto prof = member(p, "permissions");
  auto net = member(prof, "network");
  if (net.is_object() && member(net, "enabled") == true)
    add_grant(r, "network", {{"network", {{"enabled", true}}}});
  auto fs = member(prof, "fileSystem");
  if (fs.is_object()) {
    for (const char* mode : {"read", "write"}) {
      auto list = member(fs, mode);
      if (!list.is_array()) continue;
      for (auto& path : list)
        if (path.is_string())
          add_grant(r, std::string(mode) + ": " + path.get<std::string>(),
                    {{"fileSystem", {{mode, json::array({path})}}}});
    }
    auto entries = member(fs, "entries");
    if (entries.is_array())
      for (auto& e : entries) {
        auto label = fs_path_label(member(e, "path"));
        if (!label.empty())
          add_grant(r, str_of(e, "access", "access") + ": " + label,
                    {{"fileSystem", {{"entries", json::array({e})}}}});
      }
  }
  out.info.title = "Grant permissions?";
  std::string what;
  for (auto& g : r.grants) what += (what.empty() ? "" : ", ") + g.first;
  out.info.summary = with_reason(
      "Codex asks for " + (what.empty() ? std::string("additional permissions") : what), p);
  for (auto& g : r.grants) out.info.permissions.push_back(g.first);
  out.info.scope_hint = "turn";
  out.info.response_options = {{"grant", "Allow for this turn", std::nullopt},
                               {"grant_for_session", "Allow for the session", std::nullopt},
                               {"decline", "Decline", std::nullopt}};
}

json granted_profile(const pending_request& p, const std::vector<std::string>& labels) {
  json prof = json::object();
  for (auto& want : labels)
    for (auto& [label, frag] : p.grants) {
      if (label != want) continue;
      if (frag.contains("network")) prof["network"] = frag["network"];
      if (!frag.contains("fileSystem")) continue;
      auto& fs = prof["fileSystem"];
      if (fs.is_null()) fs = {{"read", nullptr}, {"write", nullptr}};
      for (auto& [k, v] : frag["fileSystem"].items()) {
        if (!fs[k].is_array()) fs[k] = json::array();
        for (auto& x : v) fs[k].push_back(x);
      }
    }
  return prof;
}

// ---- MCP elicitation (mcpServer/elicitation/request) -------------------------------------------

void map_elicitation(const json& p, mapped_request& out) {
  out.pending.form = requests::describe_elicitation(
      {str_of(p, "serverName"), str_of(p, "message"), str_of(p, "mode"), str_of(p, "url"),
       member(p, "requestedSchema")},
      out.info);
}

// ---- dynamic tools (item/tool/call) -------------------------------------------------------------

void map_dynamic_tool(const json& p, mapped_request& out) {
  auto ns = str_of(p, "namespace");
  auto tool = str_of(p, "tool");
  out.info.tool_name = one_line(ns.empty() ? tool : ns + "/" + tool, 200);
  out.info.title = "Run tool " + *out.info.tool_name + "?";
  auto args = p.contains("arguments") ? dump(p["arguments"]) : std::string("{}");
  out.info.summary = "Codex calls " + *out.info.tool_name + " with " + one_line(args, 1500);
  out.info.response_options = {{"approve", "Approve", std::nullopt},
                               {"decline", "Decline", std::nullopt}};
}

json tool_result(bool success, const std::string& text) {
  return {{"contentItems", json::array({{{"type", "inputText"}, {"text", text}}})},
          {"success", success}};
}

}  // namespace

std::optional<mapped_request> map_server_request(const std::string& m, const json& p,
                                                 const item_lookup& items) {
  mapped_request out;
  out.pending.method = m;
  out.pending.codex_thread = str_of(p, "threadId");
  if (m == "item/commandExecution/requestApproval" || m == "item/fileChange/requestApproval") {
    out.pending.kind = "approval";
    map_approval(m, p, items, out);
  } else if (m == "execCommandApproval" || m == "applyPatchApproval") {
    out.pending.kind = "approval";
    map_legacy_approval(m, p, out);
  } else if (m == "item/tool/requestUserInput") {
    out.pending.kind = "userInput";
    map_user_input(p, out);
  } else if (m == "item/permissions/requestApproval") {
    out.pending.kind = "permissionsApproval";
    map_permissions(p, out);
  } else if (m == "mcpServer/elicitation/request") {
    out.pending.kind = "mcpElicitation";
    map_elicitation(p, out);
  } else if (m == "item/tool/call") {
    out.pending.kind = "dynamicToolCall";
    map_dynamic_tool(p, out);
  } else {
    return std::nullopt;
  }
  out.info.kind = out.pending.kind;
  out.info.title = cut_utf8(out.info.title, 200);
  out.info.summary = cut_utf8(out.info.summary, 2000);
  return out;
}

std::optional<json> response_result(const pending_request& p, const runtime_response& r) {
  if (r.kind != p.kind) return std::nullopt;
  if (p.kind == "approval") {
    const auto& d = r.decision;
    if (d != "approve_once" && d != "approve_for_session" && d != "decline" && d != "cancel")
      return std::nullopt;
    if (p.legacy) {
      // ReviewDecision of execCommandApproval / applyPatchApproval.
      json dec = d == "approve_once"          ? json("approved")
                 : d == "approve_for_session" ? json("approved_for_session")
                 : d == "decline" ? json{{"denied", {{"rejection", "Declined from the phone."}}}}
                                  : json("abort");
      return json{{"decision", dec}};
    }
    return json{{"decision", d == "approve_once"          ? "accept"
                             : d == "approve_for_session" ? "acceptForSession"
                                                          : d}};
  }
  if (p.kind == "userInput") {
    json answers = json::object();
    std::string answer;
    if (r.option_id)
      for (auto& o : p.options)
        if (o.id == *r.option_id) answer = o.label;
    if (answer.empty() && r.text) answer = *r.text;
    for (std::size_t i = 0; i < p.question_ids.size(); ++i) {
      json a = json::array();
      if (i == 0 && !answer.empty()) a.push_back(answer);
      answers[p.question_ids[i]] = {{"answers", a}};
    }
    return json{{"answers", answers}};
  }
  if (p.kind == "permissionsApproval") {
    auto opt = option_of(r).value_or("");
    bool session = opt.find("session") != std::string::npos || r.scope == std::string("session");
    json scope = session ? "session" : "turn";
    if (!r.approved) return json{{"permissions", json::object()}, {"scope", "turn"}};
    for (auto& want : r.permissions) {
      bool known = false;
      for (auto& g : p.grants) known = known || g.first == want;
      if (!known) return std::nullopt;  // only what Codex asked for can be granted
    }
    return json{{"permissions", granted_profile(p, r.permissions)}, {"scope", scope}};
  }
  if (p.kind == "mcpElicitation") {
    auto a = requests::elicitation_answer(p.form, r);
    if (!a) return std::nullopt;
    return json{
        {"action", a->action}, {"content", a->content ? *a->content : json()}, {"_meta", nullptr}};
  }
  if (p.kind == "dynamicToolCall") {
    if (!r.approved) return tool_result(false, "The user declined this tool call from the phone.");
    return tool_result(true, r.text.value_or("Approved from the phone."));
  }
  return std::nullopt;
}

json refusal_result(const pending_request& p) {
  if (p.kind == "userInput") return {{"answers", json::object()}};
  if (p.kind == "permissionsApproval") return {{"permissions", json::object()}, {"scope", "turn"}};
  if (p.kind == "mcpElicitation")
    return {{"action", "decline"}, {"content", nullptr}, {"_meta", nullptr}};
  if (p.kind == "dynamicToolCall")
    return tool_result(false, "Too many pending requests on the phone.");
  if (p.legacy) return {{"decision", "abort"}};
  return {{"decision", "cancel"}};
}

json refusal_error(const std::string& method) {
  return {{"code", -32601},
          {"message", method + " is not supported by the Remote Control desktop bridge"}};
}

std::string item_description(const json& item) {
  auto type = str_of(item, "type");
  if (type == "commandExecution") return "`" + one_line(str_of(item, "command"), 300) + "`";
  if (type != "fileChange") return {};
  std::string paths;
  if (item.contains("changes") && item["changes"].is_array())
    for (auto& c : item["changes"]) {
      auto path = str_of(c, "path");
      if (path.empty() || paths.size() > 400) continue;
      paths += (paths.empty() ? "" : ", ") + path;
    }
  return paths;
}

std::string item_card(const json& item) {
  auto type = str_of(item, "type");
  auto status = str_of(item, "status");
  if (type == "commandExecution") {
    std::string text = "Command: " + item_description(item);
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
    return text;
  }
  if (type == "mcpToolCall") {
    std::string text = "MCP tool: " + one_line(str_of(item, "server"), 100) + "/" +
                       one_line(str_of(item, "tool"), 100) + " (" +
                       (status.empty() ? "done" : status) + ")";
    std::string out;
    auto content = member(member(item, "result"), "content");
    if (content.is_array())
      for (auto& c : content)
        if (str_of(c, "type") == "text") out += str_of(c, "text");
    if (out.empty()) out = str_of(member(item, "error"), "message");
    if (!out.empty()) text += "\n" + (out.size() > 1500 ? cut_utf8(out, 1500) + "..." : out);
    return text;
  }
  if (type == "fileChange") {
    auto paths = item_description(item);
    return "File change: " + (paths.empty() ? std::string("(no files)") : paths) + " (" +
           (status.empty() ? std::string("done") : status) + ")";
  }
  return {};
}

std::vector<message_info> history_messages(const json& turns, const std::string& thread_id,
                                           const std::string& codex_thread,
                                           const std::vector<std::string>& skip_turns,
                                           std::size_t max_message_bytes) {
  std::vector<message_info> out;
  if (!turns.is_array()) return out;
  int64_t last = 0;
  auto add = [&](const std::string& key, const char* role, std::string text, int64_t at) {
    if (text.empty()) return;
    at = std::max(at, last + 1);  // strictly increasing: the model orders by time
    last = at;
    out.push_back({stable_uuid("codex-item:" + codex_thread + ":" + key), thread_id, role,
                   cut_utf8(text, max_message_bytes), at, true});
  };
  for (auto it = turns.rbegin(); it != turns.rend(); ++it) {  // newest first → chronological
    const auto& turn = *it;
    auto turn_id = str_of(turn, "id");
    if (std::find(skip_turns.begin(), skip_turns.end(), turn_id) != skip_turns.end() ||
        str_of(turn, "status") == "inProgress")
      continue;  // shown live by this bridge
    int64_t t0 =
        member(turn, "startedAt").is_number_integer() ? turn["startedAt"].get<int64_t>() * 1000 : 0;
    auto items = member(turn, "items");
    if (!items.is_array()) continue;
    for (auto& item : items) {
      auto at =
          member(item, "startedAtMs").is_number_integer() ? item["startedAtMs"].get<int64_t>() : t0;
      auto type = str_of(item, "type");
      auto key = turn_id + ":" + str_of(item, "id");
      if (type == "userMessage") {
        std::string text;
        auto content = member(item, "content");
        if (content.is_array())
          for (auto& c : content)
            if (str_of(c, "type") == "text") text += (text.empty() ? "" : "\n") + str_of(c, "text");
        add(key, "user", text, at);
      } else if (type == "agentMessage") {
        add(key, "assistant", str_of(item, "text"), at);
      } else {
        add(key, "system", item_card(item), at);
      }
    }
    auto status = str_of(turn, "status");
    if (status == "failed") {
      auto err = str_of(member(turn, "error"), "message");
      add(turn_id + ":status", "system", "Turn failed: " + (err.empty() ? "unknown error" : err),
          t0);
    } else if (status == "interrupted") {
      add(turn_id + ":status", "system", "Turn interrupted.", t0);
    }
  }
  return out;
}

}  // namespace rc::bridge::codex
