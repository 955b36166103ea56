// codex runtime mapping (runtime_codex_map.hpp, option parsing) and the model's side of it
// (history ordering, capabilities, thread.interrupt / thread.load_earlier commands).
#define CAF_SUITE bridge_codex
#include "caf/test/unit_test.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "desktop-bridge/model.hpp"
#include "desktop-bridge/runtime_codex.hpp"
#include "desktop-bridge/runtime_codex_map.hpp"

using namespace rc::bridge;
using rc::bridge::codex::history_messages;
using rc::bridge::codex::map_server_request;
using rc::bridge::codex::mapped_request;
using rc::bridge::codex::refusal_error;
using rc::bridge::codex::refusal_result;
using rc::bridge::codex::response_result;

namespace {

mapped_request must_map(const std::string& method, const json& params) {
  auto m = map_server_request(method, params, nullptr);
  CAF_REQUIRE(m.has_value());
  return *m;
}

// By value: CAF_CHECK_* macros hold references to their operands, so no parts of temporaries.
json result_of(const rc::bridge::codex::pending_request& p, const runtime_response& r) {
  auto v = response_result(p, r);
  return v ? *v : json();
}

runtime_response answer(const mapped_request& m, json raw) {
  runtime_request_info info = m.info;
  auto r = interpret_response(info, raw);
  CAF_REQUIRE(r.has_value());
  return *r;
}

const json permission_params = {
    {"threadId", "t1"},
    {"turnId", "u1"},
    {"itemId", "i1"},
    {"reason", "needs the network"},
    {"permissions",
     {{"network", {{"enabled", true}}},
      {"fileSystem", {{"read", nullptr}, {"write", json::array({"/w/out"})}}}}}};

json form_params(json schema) {
  return {{"threadId", "t1"},
          {"turnId", "u1"},
          {"serverName", "rcmock"},
          {"mode", "form"},
          {"_meta", nullptr},
          {"message", "Who are you?"},
          {"requestedSchema", std::move(schema)}};
}

struct recording_runtime;
std::string ack_reason(command_processor& cp, const json& c, uint64_t seq, model& m,
                       recording_runtime& rt);

struct recording_runtime : runtime {
  std::vector<std::string> interrupts;
  std::vector<std::pair<std::string, bool>> history;
  std::string name() const override { return "rec"; }
  void start(event_sink) override {}
  void stop() override {}
  op_result start_turn(const turn_request&) override { return op_result::success(); }
  void interrupt(const std::string& t) override { interrupts.push_back(t); }
  op_result respond(uint64_t, const runtime_response&) override { return op_result::success(); }
  void load_history(const std::string& t, bool earlier) override {
    history.emplace_back(t, earlier);
  }
};

std::string ack_reason(command_processor& cp, const json& c, uint64_t seq, model& m,
                       recording_runtime& rt) {
  auto out = cp.process(c, seq, false, m, &rt, false);
  return out.ack ? out.ack->value("reason", std::string()) : std::string("no ack");
}

const std::string P1 = "11111111-1111-4111-8111-111111111111";
const std::string T1 = "22222222-2222-4222-8222-222222222221";

}  // namespace

CAF_TEST(permission requests list each permission and grant only what was asked) {
  auto m = must_map("item/permissions/requestApproval", permission_params);
  CAF_CHECK_EQUAL(m.info.kind, "permissionsApproval");
  CAF_CHECK_EQUAL(m.pending.codex_thread, "t1");
  CAF_REQUIRE_EQUAL(m.info.permissions.size(), 2u);
  CAF_CHECK_EQUAL(m.info.permissions[0], "network");
  CAF_CHECK_EQUAL(m.info.permissions[1], "write: /w/out");
  CAF_CHECK(m.info.summary.find("needs the network") != std::string::npos);
  CAF_CHECK_EQUAL(m.info.scope_hint.value_or(""), "turn");
  // The PWA's shape for "grant": approved + all requested permissions + scopeHint.
  auto all = response_result(m.pending, answer(m, {{"optionID", "grant"},
                                                   {"approved", true},
                                                   {"permissions", m.info.permissions},
                                                   {"scope", "turn"}}));
  CAF_REQUIRE(all.has_value());
  CAF_CHECK_EQUAL((*all)["scope"], "turn");
  CAF_CHECK_EQUAL((*all)["permissions"]["network"]["enabled"], true);
  CAF_CHECK_EQUAL((*all)["permissions"]["fileSystem"]["write"], json::array({"/w/out"}));
  CAF_CHECK((*all)["permissions"]["fileSystem"]["read"].is_null());
  auto session = response_result(
      m.pending, answer(m, {{"optionID", "grant_for_session"}, {"approved", true}}));
  CAF_REQUIRE(session.has_value());
  CAF_CHECK_EQUAL((*session)["scope"], "session");
  auto partial =
      response_result(m.pending, answer(m, {{"approved", true}, {"permissions", {"network"}}}));
  CAF_REQUIRE(partial.has_value());
  CAF_CHECK(!(*partial)["permissions"].contains("fileSystem"));
  // Fail closed: a permission Codex did not ask for is never granted.
  CAF_CHECK(!response_result(m.pending,
                             answer(m, {{"approved", true}, {"permissions", {"read: /etc"}}})));
  auto no = response_result(
      m.pending,
      answer(m, {{"optionID", "decline"}, {"approved", false}, {"permissions", json::array()}}));
  CAF_REQUIRE(no.has_value());
  CAF_CHECK_EQUAL(*no, (json{{"permissions", json::object()}, {"scope", "turn"}}));
}

CAF_TEST(mcp elicitation forms are answered from the phone text) {
  json one = {{"type", "object"},
              {"properties", {{"name", {{"type", "string"}, {"title", "Your name"}}}}},
              {"required", {"name"}}};
  auto m = must_map("mcpServer/elicitation/request", form_params(one));
  CAF_CHECK_EQUAL(m.info.kind, "mcpElicitation");
  CAF_CHECK_EQUAL(m.info.server_name.value_or(""), "rcmock");
  CAF_CHECK(m.info.summary.find("Your name") != std::string::npos);
  auto ok = response_result(m.pending, answer(m, {{"optionID", "accept"}, {"text", " Ada "}}));
  CAF_REQUIRE(ok.has_value());
  CAF_CHECK_EQUAL(*ok,
                  (json{{"action", "accept"}, {"content", {{"name", "Ada"}}}, {"_meta", nullptr}}));
  // Reference PWA shape without optionID: text = accept, empty text = decline.
  auto plain = response_result(m.pending, answer(m, {{"text", "Bob"}}));
  CAF_REQUIRE(plain.has_value());
  CAF_CHECK_EQUAL((*plain)["content"]["name"], "Bob");
  CAF_CHECK_EQUAL(result_of(m.pending, answer(m, {{"text", ""}})).value("action", ""), "decline");
  CAF_CHECK_EQUAL(
      result_of(m.pending, answer(m, {{"optionID", "cancel"}, {"text", ""}})).value("action", ""),
      "cancel");
  // A required field left empty does not fit the form.
  CAF_CHECK(!response_result(m.pending, answer(m, {{"optionID", "accept"}, {"text", ""}})));

  json typed = {{"type", "object"},
                {"properties",
                 {{"count", {{"type", "integer"}}},
                  {"ok", {{"type", "boolean"}}},
                  {"color", {{"type", "string"}, {"enum", {"red", "blue"}}}}}}};
  auto t = must_map("mcpServer/elicitation/request", form_params(typed));
  CAF_CHECK(t.info.summary.find("JSON object") != std::string::npos);
  auto good = response_result(
      t.pending,
      answer(t, {{"optionID", "accept"}, {"text", R"({"count":"3","ok":"yes","color":"red"})"}}));
  CAF_REQUIRE(good.has_value());
  CAF_CHECK_EQUAL((*good)["content"], (json{{"count", 3}, {"ok", true}, {"color", "red"}}));
  CAF_CHECK(!response_result(t.pending,
                             answer(t, {{"optionID", "accept"}, {"text", R"({"count":"x"})"}})));
  CAF_CHECK(!response_result(
      t.pending, answer(t, {{"optionID", "accept"}, {"text", R"({"color":"green"})"}})));
  CAF_CHECK(
      !response_result(t.pending, answer(t, {{"optionID", "accept"}, {"text", R"({"other":1})"}})));
  CAF_CHECK(!response_result(t.pending, answer(t, {{"optionID", "accept"}, {"text", "not json"}})));

  json url = {{"threadId", "t1"},
              {"turnId", nullptr},
              {"serverName", "auth"},
              {"mode", "url"},
              {"_meta", nullptr},
              {"message", "Sign in"},
              {"url", "https://example.test/x"},
              {"elicitationId", "e1"}};
  auto u = must_map("mcpServer/elicitation/request", url);
  CAF_CHECK(u.info.summary.find("https://example.test/x") != std::string::npos);
  CAF_CHECK_EQUAL(result_of(u.pending, answer(u, {{"optionID", "accept"}, {"text", ""}})),
                  (json{{"action", "accept"}, {"content", nullptr}, {"_meta", nullptr}}));
  CAF_CHECK_EQUAL(refusal_result(u.pending).value("action", ""), "decline");
}

CAF_TEST(dynamic tool calls and refused methods) {
  json p = {{"threadId", "t1"},     {"turnId", "u1"},   {"callId", "c1"},
            {"namespace", nullptr}, {"tool", "lookup"}, {"arguments", {{"q", "x"}}}};
  auto m = must_map("item/tool/call", p);
  CAF_CHECK_EQUAL(m.info.kind, "dynamicToolCall");
  CAF_CHECK_EQUAL(m.info.tool_name.value_or(""), "lookup");
  CAF_CHECK(m.info.summary.find(R"({"q":"x"})") != std::string::npos);
  auto yes = response_result(m.pending, answer(m, {{"optionID", "approve"}, {"approved", true}}));
  CAF_REQUIRE(yes.has_value());
  CAF_CHECK_EQUAL((*yes)["success"], true);
  CAF_CHECK_EQUAL((*yes)["contentItems"][0]["type"], "inputText");
  auto no = response_result(m.pending, answer(m, {{"optionID", "decline"}, {"approved", false}}));
  CAF_CHECK_EQUAL((*no)["success"], false);
  // The phone's text is the tool's result (with or without an option).
  auto typed = response_result(m.pending, answer(m, {{"optionID", "approve"}, {"text", " 42 "}}));
  CAF_REQUIRE(typed.has_value());
  CAF_CHECK_EQUAL((*typed)["success"], true);
  CAF_CHECK_EQUAL((*typed)["contentItems"][0]["text"], "42");
  auto bare = response_result(m.pending, answer(m, {{"text", "just this"}}));
  CAF_REQUIRE(bare.has_value());
  CAF_CHECK_EQUAL((*bare)["contentItems"][0]["text"], "just this");
  CAF_CHECK(!map_server_request("account/chatgptAuthTokens/refresh", json::object(), nullptr));
  CAF_CHECK(!map_server_request("attestation/generate", json::object(), nullptr));
  CAF_CHECK_EQUAL(refusal_error("attestation/generate").value("code", 0), -32601);
  // A kind mismatch never produces a result.
  runtime_response wrong;
  wrong.kind = "approval";
  wrong.decision = "approve_once";
  CAF_CHECK(!response_result(m.pending, wrong));
}

CAF_TEST(approvals keep their existing mapping) {
  auto m = map_server_request("item/fileChange/requestApproval",
                              {{"threadId", "t1"}, {"itemId", "f1"}, {"reason", "r"}},
                              [](const std::string& id) { return id == "f1" ? "a.txt" : ""; });
  CAF_REQUIRE(m.has_value());
  CAF_CHECK_EQUAL(m->info.summary, "Codex wants to change a.txt — r");
  runtime_response r;
  r.kind = "approval";
  r.decision = "approve_for_session";
  CAF_CHECK_EQUAL(result_of(m->pending, r), (json{{"decision", "acceptForSession"}}));
  auto legacy =
      must_map("execCommandApproval", {{"conversationId", "c9"}, {"command", {"ls", "-l"}}});
  CAF_CHECK_EQUAL(legacy.pending.codex_thread, "c9");
  r.decision = "decline";
  CAF_CHECK_EQUAL(result_of(legacy.pending, r)["decision"]["denied"].value("rejection", ""),
                  "Declined from the phone.");
}

CAF_TEST(stored turns become chronological history messages) {
  json turns = json::array();
  turns.push_back({{"id", "turn2"},
                   {"status", "interrupted"},
                   {"startedAt", 200},
                   {"items",
                    {{{"type", "userMessage"},
                      {"id", "u2"},
                      {"startedAtMs", 200000},
                      {"content", {{{"type", "text"}, {"text", "second"}}}}}}}});
  turns.push_back({{"id", "turn1"},
                   {"status", "completed"},
                   {"startedAt", 100},
                   {"items",
                    {{{"type", "userMessage"},
                      {"id", "u1"},
                      {"startedAtMs", 100000},
                      {"content", {{{"type", "text"}, {"text", "first"}}}}},
                     {{"type", "reasoning"}, {"id", "r1"}, {"startedAtMs", 100001}},
                     {{"type", "commandExecution"},
                      {"id", "c1"},
                      {"command", "ls"},
                      {"status", "completed"},
                      {"exitCode", 0},
                      {"startedAtMs", 100002}},
                     {{"type", "agentMessage"},
                      {"id", "msg_1"},
                      {"text", "answer one"},
                      {"startedAtMs", 100002}}}}});
  turns.push_back({{"id", "live"},
                   {"status", "completed"},
                   {"items", {{{"type", "agentMessage"}, {"id", "x"}, {"text", "dup"}}}}});
  turns.push_back({{"id", "running"},
                   {"status", "inProgress"},
                   {"items", {{{"type", "agentMessage"}, {"id", "y"}, {"text", "partial"}}}}});
  auto v = history_messages(turns, T1, "codex-t", {"live"}, 1000);
  CAF_REQUIRE_EQUAL(v.size(), 5u);
  CAF_CHECK_EQUAL(v[0].text, "first");
  CAF_CHECK_EQUAL(v[0].role, "user");
  CAF_CHECK_EQUAL(v[1].text, "Command: `ls` (exit 0)");
  CAF_CHECK_EQUAL(v[2].role, "assistant");
  CAF_CHECK_EQUAL(v[3].text, "second");
  CAF_CHECK_EQUAL(v[4].text, "Turn interrupted.");
  for (std::size_t i = 0; i < v.size(); ++i) {
    CAF_CHECK(v[i].history);
    CAF_CHECK_EQUAL(v[i].thread_id, T1);
    if (i > 0) CAF_CHECK_LESS(v[i - 1].created_at_ms, v[i].created_at_ms);
  }
  CAF_CHECK_EQUAL(v[2].created_at_ms, 100003);  // same stamp as the card: made strictly later
  // Stable, compact IDs: loading the same page twice upserts instead of duplicating.
  auto again = history_messages(turns, T1, "codex-t", {"live"}, 1000);
  CAF_CHECK_EQUAL(again[0].id, v[0].id);
  CAF_CHECK(v[0].id != v[3].id);
}

CAF_TEST(model orders history and announces only live messages) {
  model m;
  m.apply(ev_status{true, "", true});
  m.apply(ev_project{{P1, "P"}});
  m.apply(ev_thread{{T1, P1, "T", false, false}});
  m.select_thread(T1);
  m.apply(ev_message{{"LIVE", T1, "user", "now", 5000}});
  m.record_baselines();
  m.apply(ev_message{{"OLD2", T1, "assistant", "older", 2000, true}});
  m.apply(ev_message{{"OLD1", T1, "user", "oldest", 1000, true}});
  auto* v = m.messages(T1);
  CAF_REQUIRE_EQUAL(v->size(), 3u);
  CAF_CHECK_EQUAL((*v)[0].id, "OLD1");
  CAF_CHECK_EQUAL((*v)[1].id, "OLD2");
  CAF_CHECK_EQUAL((*v)[2].id, "LIVE");
  CAF_CHECK(m.collect_events(false).empty());  // history travels in snapshots only
  auto snap = m.snapshot(false);
  CAF_CHECK_EQUAL(snap["messages"].size(), 3u);
  CAF_CHECK_EQUAL(snap["capabilities"], (json{{"interrupt", true}, {"loadEarlier", true}}));
  m.apply(ev_status{false, "down"});
  auto off = m.snapshot(false);
  CAF_CHECK_EQUAL(off["capabilities"], (json{{"interrupt", false}, {"loadEarlier", false}}));
}

CAF_TEST(thread interrupt and load earlier commands) {
  model m;
  m.apply(ev_status{true, "", true});
  m.apply(ev_project{{P1, "P"}});
  m.apply(ev_thread{{T1, P1, "T", false, false}});
  recording_runtime rt;
  command_processor cp;
  auto cmd = [](const std::string& name, const std::string& id, const std::string& thread) {
    return json{{"name", name}, {"commandID", id}, {"threadID", thread}};
  };
  auto a = cp.process(cmd("thread.interrupt", "i1", T1), 1, false, m, &rt, false);
  CAF_CHECK_EQUAL((*a.ack)["status"], "accepted");
  CAF_CHECK_EQUAL((*a.ack)["threadID"], T1);
  CAF_REQUIRE_EQUAL(rt.interrupts.size(), 1u);
  CAF_CHECK_EQUAL(rt.interrupts[0], T1);
  // Replayed command: cached ack, not interrupted twice.
  auto again = cp.process(cmd("thread.interrupt", "i1", T1), 1, true, m, &rt, false);
  CAF_CHECK(again.replay);
  CAF_CHECK_EQUAL(rt.interrupts.size(), 1u);
  CAF_CHECK_EQUAL(ack_reason(cp, cmd("thread.interrupt", "i2", "NOPE"), 2, m, rt),
                  "unknown_thread");
  CAF_CHECK_EQUAL(ack_reason(cp, cmd("thread.interrupt", "i3", "bad id"), 3, m, rt),
                  "invalid_thread");
  cp.process(cmd("thread.select", "s1", T1), 4, false, m, &rt, false);
  cp.process(cmd("thread.load_earlier", "l1", T1), 5, false, m, &rt, false);
  CAF_REQUIRE_EQUAL(rt.history.size(), 2u);
  CAF_CHECK(rt.history[0] == std::make_pair(T1, false));
  CAF_CHECK(rt.history[1] == std::make_pair(T1, true));
  m.apply(ev_status{true, "no stored history"});  // loads_earlier false: refused
  CAF_CHECK_EQUAL(ack_reason(cp, cmd("thread.load_earlier", "l2", T1), 6, m, rt),
                  "unsupported_command");
  CAF_CHECK_EQUAL(rt.history.size(), 2u);
  m.apply(ev_status{false, "gone"});
  CAF_CHECK_EQUAL(ack_reason(cp, cmd("thread.interrupt", "i4", T1), 7, m, rt), "desktop_offline");
}

CAF_TEST(codex options with several workspaces and restart bounds) {
  char tmpl[] = "/tmp/rc-codex-opt-XXXXXX";
  CAF_REQUIRE(::mkdtemp(tmpl) != nullptr);
  std::string a = std::string(tmpl) + "/a", b = std::string(tmpl) + "/b";
  CAF_REQUIRE(::mkdir(a.c_str(), 0700) == 0 && ::mkdir(b.c_str(), 0700) == 0);
  auto o = parse_codex_options({"/opt/codex", "--codex-cwd", a, "--codex-cwd", b + "/",
                                "--codex-cwd", a, "--codex-restart-max", "2", "-c", "x=y"});
  CAF_CHECK_EQUAL(o.config_error, "");
  CAF_CHECK_EQUAL(o.codex_bin, "/opt/codex");
  CAF_REQUIRE_EQUAL(o.workspaces.size(), 2u);  // de-duplicated, absolute
  CAF_CHECK_EQUAL(o.workspaces[1], b);
  CAF_CHECK_EQUAL(o.restart_max, 2);
  CAF_CHECK_EQUAL(o.app_server_args, (std::vector<std::string>{"-c", "x=y"}));
  CAF_CHECK(!parse_codex_options({"--codex-cwd", a + "/missing"}).config_error.empty());
  CAF_CHECK(!parse_codex_options({"--codex-restart-max", "-1"}).config_error.empty());
  CAF_CHECK(!parse_codex_options({"--codex-history-turns", "0"}).config_error.empty());
  CAF_CHECK(!parse_codex_options({"--listen", "ws://x"}).config_error.empty());
  ::rmdir(a.c_str());
  ::rmdir(b.c_str());
  ::rmdir(tmpl);
}

CAF_TEST(codex dynamic tools file is validated strictly) {
  char tmpl[] = "/tmp/rc-codex-tools-XXXXXX";
  CAF_REQUIRE(::mkdtemp(tmpl) != nullptr);
  std::string f = std::string(tmpl) + "/tools.json";
  auto load = [&](const std::string& text, json& out) {
    FILE* fp = std::fopen(f.c_str(), "wb");
    std::fwrite(text.data(), 1, text.size(), fp);
    std::fclose(fp);
    return load_codex_dynamic_tools(f, out);
  };
  json schema = {{"type", "object"}, {"properties", {{"q", {{"type", "string"}}}}}};
  json good =
      json::array({{{"name", "lookup_1"}, {"description", "Look up"}, {"inputSchema", schema}},
                   {{"type", "function"},
                    {"name", "b-2"},
                    {"description", "B"},
                    {"inputSchema", {{"type", "object"}}}}});
  json out;
  CAF_CHECK_EQUAL(load(good.dump(), out), "");
  CAF_REQUIRE_EQUAL(out.size(), 2u);
  CAF_CHECK_EQUAL(out[0], (json{{"type", "function"},
                                {"name", "lookup_1"},
                                {"description", "Look up"},
                                {"inputSchema", schema}}));
  auto bad = [&](json j) {
    json o;
    auto e = load(j.is_string() ? j.get<std::string>() : j.dump(), o);
    CAF_CHECK(o.is_null());
    return e;
  };
  auto tool = [&](json patch) {
    json t = good[0];
    t.merge_patch(patch);
    return json::array({t});
  };
  CAF_CHECK_EQUAL(bad("[{"), "not valid JSON");
  CAF_CHECK_EQUAL(bad(json::object()), "must be a JSON array of tool specs");
  CAF_CHECK_EQUAL(bad(json::array()), "no tools in the array");
  CAF_CHECK_EQUAL(bad(json::array({1})), "tool 0: must be an object");
  CAF_CHECK_EQUAL(bad(tool({{"extra", 1}})), "tool 0: unexpected field \"extra\"");
  CAF_CHECK_EQUAL(bad(tool({{"type", "namespace"}})), "tool 0: type must be \"function\"");
  for (auto n : {json(""), json("has space"), json(std::string(65, 'a')), json(7)})
    CAF_CHECK_EQUAL(bad(tool({{"name", n}})),
                    "tool 0: name must be 1-64 characters of A-Z a-z 0-9 _ -");
  CAF_CHECK_NOT_EQUAL(bad(tool({{"description", ""}})), "");
  CAF_CHECK_NOT_EQUAL(bad(tool({{"description", std::string(1025, 'd')}})), "");
  CAF_CHECK_NOT_EQUAL(bad(tool({{"inputSchema", {{"type", "string"}}}})), "");
  CAF_CHECK_NOT_EQUAL(bad(tool({{"inputSchema", nullptr}})), "");
  CAF_CHECK_EQUAL(bad(json::array({good[0], good[0]})), "tool 1: duplicate name lookup_1");
  json many = json::array();
  for (int i = 0; i < 33; ++i) {
    json t = good[0];
    t["name"] = "t" + std::to_string(i);
    many.push_back(t);
  }
  CAF_CHECK_EQUAL(bad(many), "at most 32 tools");
  many.erase(many.begin());
  CAF_CHECK_EQUAL(load(many.dump(), out), "");
  CAF_CHECK_EQUAL(bad(json(std::string(256 * 1024 + 1, ' '))), "larger than 256 KiB");
  CAF_CHECK_EQUAL(load_codex_dynamic_tools(tmpl, out), "not a regular file");
  CAF_CHECK_NOT_EQUAL(load_codex_dynamic_tools(std::string(tmpl) + "/missing", out), "");
  // Through the option parser: a bad file is a configuration error naming it.
  load("[]", out);
  auto o = parse_codex_options({"--codex-dynamic-tools", f});
  CAF_CHECK_EQUAL(o.config_error, "--codex-dynamic-tools " + f + ": no tools in the array");
  load(good.dump(), out);
  o = parse_codex_options({"--codex-dynamic-tools", f});
  CAF_CHECK_EQUAL(o.config_error, "");
  CAF_CHECK_EQUAL(o.dynamic_tools.size(), 2u);
  CAF_CHECK(parse_codex_options({}).dynamic_tools.is_null());
  ::unlink(f.c_str());
  ::rmdir(tmpl);
}
