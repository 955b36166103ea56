// codex app-server ⇄ runtime interface mapping (see runtime_codex_map.hpp).
#include "desktop-bridge/runtime_codex_map.hpp"

#include "desktop-bridge/runtime_codex_util.hpp"

namespace rc::bridge::codex {

namespace {

std::vector<option_info> approval_options() {
  return {{"approve_once", "Approve once", std::nullopt},
          {"approve_for_session", "Approve for session", std::nullopt},
          {"decline", "Decline", std::nullopt},
          {"cancel", "Cancel", std::nullopt}};
}

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
  return std::nullopt;
}

json refusal_result(const pending_request& p) {
  if (p.kind == "userInput") return {{"answers", json::object()}};
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
  if (type == "fileChange") {
    auto paths = item_description(item);
    return "File change: " + (paths.empty() ? std::string("(no files)") : paths) + " (" +
           (status.empty() ? std::string("done") : status) + ")";
  }
  return {};
}

}  // namespace rc::bridge::codex
