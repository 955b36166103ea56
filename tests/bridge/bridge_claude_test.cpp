// claude runtime, pure parts: session directory naming (must match Claude Code's), transcript
// listing (titles, bounded history, skipped tool results/sidechains), history paging over large
// transcripts, MCP elicitation mapping, tool cards, option parsing.
#define CAF_SUITE bridge_claude
#include "caf/test/unit_test.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "desktop-bridge/runtime_claude.hpp"

using namespace rc::bridge;
using json = nlohmann::json;

namespace {

std::string make_tmp_dir() {
  char tmpl[] = "/tmp/rc-claude-test-XXXXXX";
  char* d = ::mkdtemp(tmpl);
  return d ? std::string(d) : std::string();
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
}

}  // namespace

CAF_TEST(project dir matches the CLI naming) {
  CAF_CHECK_EQUAL(claude_project_dir("/h/.claude", "/tmp/a b/c.d_e"),
                  "/h/.claude/projects/-tmp-a-b-c-d-e");
  // Over 200 UTF-16 units: cut + "-" + base-36 of |JS string hash| (value from the CLI's function).
  std::string long_path = "/home/user/";
  for (int i = 0; i < 9; ++i) long_path += "very-long-directory-name/";
  long_path += "pr\xC3\xB8ject \xC3\xA9";
  CAF_CHECK_EQUAL(
      claude_project_dir("/c", long_path),
      "/c/projects/-home-user-very-long-directory-name-very-long-directory-name-very-long-"
      "directory-name-very-long-directory-name-very-long-directory-name-very-long-"
      "directory-name-very-long-directory-name-very-long-dire-srcios");
}

CAF_TEST(sessions listed newest first with titles and bounded history) {
  auto dir = make_tmp_dir();
  CAF_REQUIRE(!dir.empty());
  const std::string a = "11111111-2222-4333-8444-555555555555";
  const std::string b = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";
  std::string ta;
  ta += R"({"type":"queue-operation","operation":"enqueue","content":"x"})"
        "\n";
  ta +=
      R"({"type":"user","uuid":"u-1","timestamp":"2026-12-02T13:23:23.285Z","message":{"role":"user","content":"first\nprompt"}})"
      "\n";
  ta +=
      R"({"type":"assistant","uuid":"a-1","message":{"role":"assistant","content":[{"type":"text","text":"answer one"},{"type":"tool_use","id":"t","name":"Bash","input":{}}]}})"
      "\n";
  ta +=
      R"({"type":"user","uuid":"u-2","message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":"out"}]}})"
      "\n";
  ta +=
      R"({"type":"assistant","uuid":"a-side","isSidechain":true,"message":{"role":"assistant","content":[{"type":"text","text":"subagent"}]}})"
      "\n";
  ta +=
      R"({"type":"user","uuid":"u-meta","isMeta":true,"message":{"role":"user","content":"<command-name>/x</command-name>"}})"
      "\n";
  ta +=
      R"({"type":"user","uuid":"u-3","message":{"role":"user","content":[{"type":"text","text":"second"}]}})"
      "\n";
  ta += "not json\n";
  ta +=
      R"({"type":"assistant","uuid":"a-2","message":{"role":"assistant","content":[{"type":"text","text":"answer two"}]}})"
      "\n";
  ta += R"({"type":"user","uuid":"partial")";  // a partial last line is ignored
  write_file(dir + "/" + a + ".jsonl", ta);
  write_file(dir + "/" + b + ".jsonl",
             R"({"type":"user","uuid":"b-1","message":{"role":"user","content":"hello"}})"
             "\n"
             R"({"type":"custom-title","customTitle":"Named session","sessionId":"x"})"
             "\n");
  write_file(dir + "/not-a-session.jsonl", "{}\n");
  ::mkdir((dir + "/memory").c_str(), 0700);
  // b is older
  struct timespec times[2] = {{1000, 0}, {1000, 0}};
  ::utimensat(AT_FDCWD, (dir + "/" + b + ".jsonl").c_str(), times, 0);

  auto all = list_claude_sessions(dir, 10, 3);
  CAF_REQUIRE_EQUAL(all.size(), 2u);
  CAF_CHECK_EQUAL(all[0].session_id, a);
  CAF_CHECK_EQUAL(all[0].title, "first prompt");
  CAF_REQUIRE_EQUAL(all[0].history.size(), 3u);  // last 3 of: first, answer one, second, answer two
  CAF_CHECK_EQUAL(all[0].history[0].text, "answer one");
  CAF_CHECK_EQUAL(all[0].history[0].id, "A-1");
  CAF_CHECK_EQUAL(all[0].history[1].role, "user");
  CAF_CHECK_EQUAL(all[0].history[1].text, "second");
  CAF_CHECK_EQUAL(all[0].history[2].text, "answer two");
  CAF_CHECK_EQUAL(all[1].session_id, b);
  CAF_CHECK_EQUAL(all[1].title, "Named session");
  CAF_CHECK_EQUAL(all[1].mtime_ms, 1000000);
  CAF_CHECK(all[0].history[0].history);
  // The next earlier page ends where "answer one" starts: just the first prompt, then nothing.
  CAF_CHECK_EQUAL(all[0].history_before,
                  static_cast<int64_t>(ta.find(R"({"type":"assistant","uuid":"a-1")")));
  auto page = read_claude_history(dir + "/" + a + ".jsonl", all[0].history_before, 3);
  CAF_REQUIRE_EQUAL(page.messages.size(), 1u);
  CAF_CHECK_EQUAL(page.messages[0].text, "first\nprompt");
  CAF_CHECK_EQUAL(page.before, 0);
  CAF_CHECK_EQUAL(all[1].history_before, 0);
  auto full = list_claude_sessions(dir, 1, 10);
  CAF_REQUIRE_EQUAL(full.size(), 1u);
  CAF_CHECK_EQUAL(full[0].history.size(), 4u);
  CAF_CHECK_EQUAL(full[0].history_before, 0);
  CAF_CHECK_EQUAL(full[0].history[0].created_at_ms, 1796217803285LL);
  CAF_CHECK(list_claude_sessions(dir + "/missing", 10, 10).empty());
  std::system(("rm -rf '" + dir + "'").c_str());
}

CAF_TEST(history pages back through a large transcript in bounded windows) {
  auto dir = make_tmp_dir();
  CAF_REQUIRE(!dir.empty());
  const std::string id = "22222222-2222-4333-8444-555555555555";
  std::string t;
  const std::string pad(400, 'p');
  auto msg = [&](int i) {
    t += R"({"type":")" + std::string(i % 2 ? "assistant" : "user") + R"(","uuid":"m-)" +
         std::to_string(i) + R"(","message":{"role":"x","content":"msg )" + std::to_string(i) +
         " " + pad + "\"}}\n";
  };
  for (int i = 0; i < 1500; ++i) msg(i);
  // A tool result longer than a read window, in the middle: skipped, paging goes on past it.
  t +=
      R"({"type":"user","uuid":"big","message":{"role":"user","content":[{"type":"tool_result","content":")" +
      std::string(1200 * 1024, 'z') + "\"}]}}\n";
  for (int i = 1500; i < 3000; ++i) msg(i);
  write_file(dir + "/" + id + ".jsonl", t);
  auto listed = list_claude_sessions(dir, 1, 40);
  CAF_REQUIRE_EQUAL(listed.size(), 1u);
  CAF_REQUIRE_EQUAL(listed[0].history.size(), 40u);
  CAF_CHECK_EQUAL(listed[0].history.back().id, "M-2999");
  std::vector<std::string> ids;
  for (auto& m : listed[0].history) ids.push_back(m.id);
  int64_t before = listed[0].history_before;
  int calls = 0;
  while (before > 0 && calls < 100) {
    auto page = read_claude_history(dir + "/" + id + ".jsonl", before, 500);
    ++calls;
    CAF_REQUIRE(page.before < before);
    CAF_CHECK(page.messages.size() <= 500u);
    std::vector<std::string> got;
    for (auto& m : page.messages) got.push_back(m.id);
    ids.insert(ids.begin(), got.begin(), got.end());
    before = page.before;
  }
  CAF_CHECK_EQUAL(before, 0);
  CAF_CHECK(calls <= 8);
  CAF_REQUIRE_EQUAL(ids.size(), 3000u);  // every message once, oldest first
  for (int i = 0; i < 3000; ++i)
    if (ids[static_cast<std::size_t>(i)] != "M-" + std::to_string(i))
      CAF_FAIL("message " << i << " out of order: " << ids[static_cast<std::size_t>(i)]);
  std::system(("rm -rf '" + dir + "'").c_str());
}

CAF_TEST(mcp elicitations map to mcpElicitation requests and answers to the CLI schema) {
  json req = {{"subtype", "elicitation"},
              {"mcp_server_name", "rcmock"},
              {"message", "What is your name?"},
              {"requested_schema",
               {{"type", "object"},
                {"properties", {{"name", {{"type", "string"}, {"title", "Name"}}}}},
                {"required", {"name"}}}}};
  runtime_request_info info;
  auto form = claude_elicitation_request(req, info);
  CAF_CHECK_EQUAL(info.kind, "mcpElicitation");
  CAF_CHECK_EQUAL(info.server_name.value_or(""), "rcmock");
  CAF_CHECK_EQUAL(info.title, "rcmock asks");
  CAF_CHECK_EQUAL(info.summary, "What is your name? — answer: Name");
  CAF_REQUIRE_EQUAL(info.response_options.size(), 3u);
  auto answer = [&](const json& f, const std::string& option, std::optional<std::string> text) {
    runtime_response r;
    r.kind = "mcpElicitation";
    r.text = std::move(text);
    if (!option.empty()) r.raw["optionID"] = option;
    return claude_elicitation_response(f, r);
  };
  auto ok = answer(form, "accept", "Ada");
  CAF_REQUIRE(ok.has_value());
  CAF_CHECK_EQUAL(ok->dump(), R"({"action":"accept","content":{"name":"Ada"}})");
  CAF_CHECK_EQUAL(answer(form, "decline", std::nullopt)->dump(), R"({"action":"decline"})");
  CAF_CHECK_EQUAL(answer(form, "cancel", std::nullopt)->dump(), R"({"action":"cancel"})");
  CAF_CHECK(!answer(form, "accept", "").has_value());  // required field missing
  CAF_CHECK_EQUAL(answer(form, "", "Bo")->dump(), R"({"action":"accept","content":{"name":"Bo"}})");
  runtime_response wrong;
  wrong.kind = "approval";
  CAF_CHECK(!claude_elicitation_response(form, wrong).has_value());
  // Typed fields: an integer must parse.
  json typed = {{"type", "object"}, {"properties", {{"n", {{"type", "integer"}}}}}};
  runtime_request_info ti;
  auto tf = claude_elicitation_request({{"mcp_server_name", "s"}, {"requested_schema", typed}}, ti);
  CAF_CHECK(!answer(tf, "accept", "x").has_value());
  CAF_CHECK_EQUAL(answer(tf, "accept", "7")->dump(), R"({"action":"accept","content":{"n":7}})");
  // URL mode: accept without content.
  runtime_request_info ui;
  auto uf = claude_elicitation_request({{"mcp_server_name", "auth"},
                                        {"mode", "url"},
                                        {"url", "https://x.test/a"},
                                        {"message", "Log in"}},
                                       ui);
  CAF_CHECK(uf.is_null());
  CAF_CHECK_EQUAL(ui.summary, "Log in Open: https://x.test/a");
  CAF_CHECK_EQUAL(answer(uf, "accept", std::nullopt)->dump(), R"({"action":"accept"})");
}

CAF_TEST(unserved control requests are answered and noted) {
  auto hook = claude_unserved_control(
      "r1", {{"subtype", "hook_callback"}, {"callback_id", "cb-7"}, {"input", json::object()}});
  CAF_CHECK_EQUAL(hook.response.dump(), R"({"request_id":"r1","response":{},"subtype":"success"})");
  CAF_CHECK(hook.note.find("cb-7") != std::string::npos);
  auto dialog = claude_unserved_control("r2", {{"subtype", "request_user_dialog"}});
  CAF_CHECK_EQUAL(dialog.response["subtype"], "error");
  CAF_CHECK_EQUAL(dialog.response["request_id"], "r2");
  CAF_CHECK_EQUAL(dialog.note,
                  "Claude Code request \"request_user_dialog\" cannot be answered from a phone; "
                  "refused.");
}

CAF_TEST(tool cards) {
  json bash = {{"command", "make test"}};
  auto ok =
      claude_tool_card("Bash", bash, {{"type", "tool_result"}, {"content", "fine"}},
                       {{"stdout", "all good"}, {"stderr", ""}, {"interrupted", false}}, false);
  CAF_CHECK_EQUAL(ok, "Command: `make test` (exit 0)\nall good");
  auto bad = claude_tool_card("Bash", bash, {{"content", "Exit code 2\nboom"}, {"is_error", true}},
                              nullptr, false);
  CAF_CHECK_EQUAL(bad, "Command: `make test` (exit 2)\nExit code 2\nboom");
  auto no =
      claude_tool_card("Bash", bash, {{"content", "denied"}, {"is_error", true}}, nullptr, true);
  CAF_CHECK_EQUAL(no, "Command: `make test` (declined)");
  std::string big(5000, 'x');
  auto tail = claude_tool_card("Bash", bash, {{"content", ""}}, {{"stdout", big + "END"}}, false);
  CAF_CHECK(tail.size() < 1600 && tail.find("...") != std::string::npos &&
            tail.rfind("END") == tail.size() - 3);

  auto created = claude_tool_card(
      "Write", {{"file_path", "./n.txt"}, {"content", "a\nb\n"}}, {{"content", "ok"}},
      {{"type", "create"}, {"filePath", "./n.txt"}, {"structuredPatch", json::array()}}, false);
  CAF_CHECK_EQUAL(created, "File change: ./n.txt (created)\n```diff\n+a\n+b\n```");
  json patch = json::array({{{"oldStart", 1},
                             {"oldLines", 1},
                             {"newStart", 1},
                             {"newLines", 1},
                             {"lines", {"-old", "+new"}}}});
  auto edited = claude_tool_card("Edit", {{"file_path", "/w/f.c"}}, {{"content", "ok"}},
                                 {{"filePath", "/w/f.c"}, {"structuredPatch", patch}}, false);
  CAF_CHECK_EQUAL(edited,
                  "File change: /w/f.c (updated)\n```diff\n@@ -1,1 +1,1 @@\n-old\n+new\n```");
  CAF_CHECK_EQUAL(claude_tool_card("Edit", {{"file_path", "/w/f.c"}}, {}, nullptr, true),
                  "File change: /w/f.c (declined)");
  CAF_CHECK_EQUAL(claude_tool_card("WebFetch", {{"url", "https://x.test/"}}, {{"content", "page"}},
                                   nullptr, false),
                  "Tool: WebFetch (https://x.test/) (done)");
  CAF_CHECK_EQUAL(claude_tool_action("Bash", bash), "run `make test`");
  CAF_CHECK_EQUAL(claude_tool_action("Write", {{"file_path", "/a"}}), "write /a");
  CAF_CHECK_EQUAL(claude_tool_action("Task", json::object()), "use Task");
  CAF_CHECK_EQUAL(claude_edit_preview("Edit", {{"old_string", "a"}, {"new_string", "b\nc"}}),
                  "-a\n+b\n+c");
  CAF_CHECK_EQUAL(claude_edit_preview("Bash", bash), "");
  CAF_CHECK(claude_edit_preview("Write", {{"content", std::string(3000, 'y')}}).size() < 900);
}

CAF_TEST(option parsing) {
  char tmpl[] = "/tmp/rc-claude-opt-XXXXXX";
  CAF_REQUIRE(::mkdtemp(tmpl) != nullptr);
  std::string a = std::string(tmpl) + "/a", b = std::string(tmpl) + "/b";
  std::string f = std::string(tmpl) + "/file";
  CAF_REQUIRE(::mkdir(a.c_str(), 0700) == 0 && ::mkdir(b.c_str(), 0700) == 0);
  std::fclose(std::fopen(f.c_str(), "w"));
  auto o = parse_claude_options({"/opt/claude", "--claude-cwd", a, "--claude-cwd", b + "/",
                                 "--claude-cwd", a, "--claude-permission-mode", "acceptEdits",
                                 "--claude-max-failures", "2", "--claude-idle-timeout", "60",
                                 "--allowedTools", "Bash(git *)"});
  CAF_CHECK_EQUAL(o.config_error, "");
  CAF_CHECK_EQUAL(o.claude_bin, "/opt/claude");
  CAF_CHECK_EQUAL(o.workspaces, (std::vector<std::string>{a, b}));  // absolute, de-duplicated
  CAF_CHECK_EQUAL(*o.permission_mode, "acceptEdits");
  CAF_CHECK_EQUAL(o.max_failures, 2);
  CAF_CHECK_EQUAL(o.idle_timeout_ms, 60000);
  CAF_CHECK_EQUAL(o.extra_args, (std::vector<std::string>{"--allowedTools", "Bash(git *)"}));
  CAF_CHECK_NOT_EQUAL(parse_claude_options({"--resume", "x"}).config_error, "");
  CAF_CHECK_NOT_EQUAL(parse_claude_options({"--claude-permission-mode", "yolo"}).config_error, "");
  CAF_CHECK_NOT_EQUAL(parse_claude_options({"--claude-max-failures", "0"}).config_error, "");
  CAF_CHECK_NOT_EQUAL(parse_claude_options({"--claude-cwd"}).config_error, "");
  CAF_CHECK_NOT_EQUAL(parse_claude_options({"--claude-list-limit", "5x"}).config_error, "");
  auto missing = parse_claude_options({"--claude-cwd", a, "--claude-cwd", a + "/missing"});
  CAF_CHECK_EQUAL(missing.config_error,
                  "--claude-cwd " + a + "/missing: No such file or directory");
  CAF_CHECK_EQUAL(parse_claude_options({"--claude-cwd", f}).config_error,
                  "--claude-cwd " + f + ": not a directory");
  std::vector<std::string> many;
  for (int i = 0; i < 17; ++i) {
    auto d = std::string(tmpl) + "/w" + std::to_string(i);
    CAF_REQUIRE(::mkdir(d.c_str(), 0700) == 0);
    many.insert(many.end(), {"--claude-cwd", d});
  }
  CAF_CHECK_EQUAL(parse_claude_options(many).config_error, "at most 16 workspaces (--claude-cwd)");
  many.resize(32);
  CAF_CHECK_EQUAL(parse_claude_options(many).workspaces.size(), 16u);
  // RC_CLAUDE_CWD: ':'-separated; --claude-cwd flags replace it.
  ::setenv("RC_CLAUDE_CWD", (a + ":" + b + ":").c_str(), 1);
  CAF_CHECK_EQUAL(parse_claude_options({}).workspaces, (std::vector<std::string>{a, b}));
  CAF_CHECK_EQUAL(parse_claude_options({"--claude-cwd", b}).workspaces,
                  (std::vector<std::string>{b}));
  ::setenv("RC_CLAUDE_CWD", (a + ":" + f).c_str(), 1);
  CAF_CHECK_EQUAL(parse_claude_options({}).config_error, "--claude-cwd " + f + ": not a directory");
  ::unsetenv("RC_CLAUDE_CWD");
  for (int i = 0; i < 17; ++i) ::rmdir((std::string(tmpl) + "/w" + std::to_string(i)).c_str());
  ::unlink(f.c_str());
  ::rmdir(a.c_str());
  ::rmdir(b.c_str());
  ::rmdir(tmpl);
}
