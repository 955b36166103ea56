// claude runtime, pure parts: session directory naming (must match Claude Code's), transcript
// listing (titles, bounded history, skipped tool results/sidechains), tool cards, option parsing.
#define CAF_SUITE bridge_claude
#include "caf/test/unit_test.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

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
  auto full = list_claude_sessions(dir, 1, 10);
  CAF_REQUIRE_EQUAL(full.size(), 1u);
  CAF_CHECK_EQUAL(full[0].history.size(), 4u);
  CAF_CHECK_EQUAL(full[0].history[0].created_at_ms, 1796217803285LL);
  CAF_CHECK(list_claude_sessions(dir + "/missing", 10, 10).empty());
  std::system(("rm -rf '" + dir + "'").c_str());
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
  auto o = parse_claude_options({"/opt/claude", "--claude-cwd", "/w", "--claude-permission-mode",
                                 "acceptEdits", "--claude-max-failures", "2",
                                 "--claude-idle-timeout", "60", "--allowedTools", "Bash(git *)"});
  CAF_CHECK_EQUAL(o.config_error, "");
  CAF_CHECK_EQUAL(o.claude_bin, "/opt/claude");
  CAF_CHECK_EQUAL(o.cwd, "/w");
  CAF_CHECK_EQUAL(*o.permission_mode, "acceptEdits");
  CAF_CHECK_EQUAL(o.max_failures, 2);
  CAF_CHECK_EQUAL(o.idle_timeout_ms, 60000);
  CAF_CHECK_EQUAL(o.extra_args, (std::vector<std::string>{"--allowedTools", "Bash(git *)"}));
  CAF_CHECK_NOT_EQUAL(parse_claude_options({"--resume", "x"}).config_error, "");
  CAF_CHECK_NOT_EQUAL(parse_claude_options({"--claude-permission-mode", "yolo"}).config_error, "");
  CAF_CHECK_NOT_EQUAL(parse_claude_options({"--claude-max-failures", "0"}).config_error, "");
  CAF_CHECK_NOT_EQUAL(parse_claude_options({"--claude-cwd"}).config_error, "");
  CAF_CHECK_NOT_EQUAL(parse_claude_options({"--claude-list-limit", "5x"}).config_error, "");
}
