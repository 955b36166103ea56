// claude runtime, pure parts: where Claude Code keeps a workspace's sessions, reading their
// titles and recent history (bounded), and the text of tool cards and permission prompts.
#include <sys/stat.h>

#include <dirent.h>
#include <algorithm>
#include <cstdio>

#include "desktop-bridge/runtime_claude.hpp"
#include "desktop-bridge/runtime_requests.hpp"
#include "desktop-bridge/runtime_util.hpp"
#include "protocol/time.hpp"
#include "protocol/untrusted_json.hpp"

namespace rc::bridge {

using json = nlohmann::json;
using namespace util;

namespace {

constexpr std::size_t kHeadBytes = 64 * 1024;   // first prompt
constexpr std::size_t kTailBytes = 960 * 1024;  // recent history + titles
constexpr std::size_t kHistoryText = 4000;
constexpr std::size_t kCardOutput = 1500;

// UTF-16 code units of a UTF-8 string (for the CLI's JavaScript string hash).
std::vector<uint32_t> utf16_units(const std::string& s) {
  std::vector<uint32_t> out;
  for (std::size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    uint32_t cp = c;
    std::size_t n = 1;
    if (c >= 0xF0 && i + 3 < s.size()) {
      cp = ((c & 0x07u) << 18) | ((s[i + 1] & 0x3Fu) << 12) | ((s[i + 2] & 0x3Fu) << 6) |
           (s[i + 3] & 0x3Fu);
      n = 4;
    } else if (c >= 0xE0 && i + 2 < s.size()) {
      cp = ((c & 0x0Fu) << 12) | ((s[i + 1] & 0x3Fu) << 6) | (s[i + 2] & 0x3Fu);
      n = 3;
    } else if (c >= 0xC0 && i + 1 < s.size()) {
      cp = ((c & 0x1Fu) << 6) | (s[i + 1] & 0x3Fu);
      n = 2;
    }
    if (cp >= 0x10000) {
      cp -= 0x10000;
      out.push_back(0xD800 + (cp >> 10));
      out.push_back(0xDC00 + (cp & 0x3FF));
    } else {
      out.push_back(cp);
    }
    i += n;
  }
  return out;
}

std::string base36(uint64_t v) {
  if (v == 0) return "0";
  std::string s;
  while (v) {
    s += "0123456789abcdefghijklmnopqrstuvwxyz"[v % 36];
    v /= 36;
  }
  std::reverse(s.begin(), s.end());
  return s;
}

std::string read_range(const std::string& path, long offset, std::size_t max) {
  std::string out;
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return out;
  if (offset > 0) std::fseek(f, offset, SEEK_SET);
  out.resize(max);
  auto n = std::fread(out.data(), 1, max, f);
  out.resize(n);
  std::fclose(f);
  return out;
}

// The user-visible text of a transcript message, or "" for tool results / meta / commands.
std::string visible_text(const json& msg, bool user) {
  const json& content = msg.contains("content") ? msg["content"] : json();
  std::string text;
  if (content.is_string()) {
    text = content.get<std::string>();
  } else if (content.is_array()) {
    for (auto& b : content) {
      auto type = str_of(b, "type");
      if (type == "tool_result") return {};
      if (type == "text") text += (text.empty() ? "" : "\n") + str_of(b, "text");
    }
  }
  if (user) {
    for (const char* p : {"<command-", "<local-command", "<system-reminder>",
                          "[Request interrupted", "<bash-", "Caveat:"})
      if (text.rfind(p, 0) == 0) return {};
  }
  return text;
}

struct session_scan {
  std::string first_prompt, custom_title, ai_title, summary;
  std::vector<message_info> history;
  std::vector<int64_t> starts;  // file offset of each history message's line
};

// Scans the complete lines of `data` (read from file offset `base`; when `skip_first`, the
// part before the first '\n' is a line cut by the window and skipped). Returns the offset
// of the first complete line, or the end of `data` when it holds none.
int64_t scan_lines(const std::string& data, bool skip_first, session_scan& sc, bool collect,
                   int64_t base = 0) {
  std::size_t pos = 0;
  if (skip_first) {
    pos = data.find('\n');
    if (pos == std::string::npos) return base + static_cast<int64_t>(data.size());
    ++pos;
  }
  const int64_t first = base + static_cast<int64_t>(pos);
  while (pos < data.size()) {
    auto nl = data.find('\n', pos);
    if (nl == std::string::npos) break;  // a partial last line (still being written)
    auto j = rc::proto::parse_untrusted(std::string_view(data).substr(pos, nl - pos), 512);
    const auto line_start = base + static_cast<int64_t>(pos);
    pos = nl + 1;
    if (!j.is_object()) continue;
    auto type = str_of(j, "type");
    if (type == "custom-title") {
      sc.custom_title = str_of(j, "customTitle");
    } else if (type == "ai-title") {
      sc.ai_title = str_of(j, "aiTitle");
    } else if (type == "summary") {
      sc.summary = str_of(j, "summary");
    } else if ((type == "user" || type == "assistant") && !j.value("isSidechain", false) &&
               !j.value("isMeta", false) && j.contains("message") && j["message"].is_object()) {
      auto text = visible_text(j["message"], type == "user");
      if (text.empty()) continue;
      if (type == "user" && sc.first_prompt.empty()) sc.first_prompt = text;
      if (!collect) continue;
      auto uuid = str_of(j, "uuid");
      message_info m;
      m.id = compact_id(uuid) ? upper(uuid) : stable_uuid("claude-msg:" + uuid + text);
      m.role = type;
      m.text = cut_utf8(text, kHistoryText);
      m.created_at_ms = rc::proto::parse_rfc3339(str_of(j, "timestamp")).value_or(0);
      m.history = true;
      sc.history.push_back(std::move(m));
      sc.starts.push_back(line_start);
    }
  }
  return first;
}

// The window [max(0, end - kTailBytes), end) of `path` scanned into `sc`; returns where the
// window starts and (in `first`) its first complete line (== `end` when it holds none).
int64_t scan_window(const std::string& path, int64_t end, session_scan& sc, bool collect,
                    int64_t& first) {
  int64_t start = std::max<int64_t>(0, end - static_cast<int64_t>(kTailBytes));
  auto data = read_range(path, static_cast<long>(start), static_cast<std::size_t>(end - start));
  first = scan_lines(data, start > 0, sc, collect, start);
  return start;
}

std::string result_text(const json& result) {
  if (!result.is_object()) return {};
  const auto& c = result.contains("content") ? result["content"] : json();
  if (c.is_string()) return c.get<std::string>();
  std::string out;
  if (c.is_array())
    for (auto& b : c)
      if (str_of(b, "type") == "text") out += str_of(b, "text");
  return out;
}

std::string render_patch(const json& patch) {
  std::string out;
  if (!patch.is_array()) return out;
  for (auto& h : patch) {
    char hdr[96];
    std::snprintf(hdr, sizeof hdr, "@@ -%lld,%lld +%lld,%lld @@\n",
                  static_cast<long long>(h.value("oldStart", 0)),
                  static_cast<long long>(h.value("oldLines", 0)),
                  static_cast<long long>(h.value("newStart", 0)),
                  static_cast<long long>(h.value("newLines", 0)));
    out += hdr;
    if (h.contains("lines") && h["lines"].is_array())
      for (auto& l : h["lines"])
        if (l.is_string()) out += l.get<std::string>() + "\n";
    if (out.size() > kCardOutput) break;
  }
  return out;
}

std::string prefixed(const std::string& text, char mark) {
  std::string out;
  std::size_t pos = 0;
  while (pos < text.size() && out.size() <= kCardOutput) {
    auto nl = text.find('\n', pos);
    auto line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    out += mark + line + "\n";
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }
  return out;
}

bool is_file_tool(const std::string& tool) {
  return tool == "Write" || tool == "Edit" || tool == "MultiEdit" || tool == "NotebookEdit";
}

}  // namespace

std::string claude_project_dir(const std::string& config_dir, const std::string& cwd) {
  // JavaScript: cwd.replace(/[^a-zA-Z0-9]/g, "-") over UTF-16 units; past 200 units it is cut and
  // suffixed with "-" + Math.abs(h).toString(36), h = (h << 5) - h + charCodeAt(i) | 0.
  auto units = utf16_units(cwd);
  std::string s;
  int32_t h = 0;
  for (uint32_t u : units) {
    bool alnum = (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9');
    s += alnum ? static_cast<char>(u) : '-';
    h = static_cast<int32_t>(static_cast<uint32_t>(h) * 31u + u);
  }
  if (s.size() > 200) {
    int64_t a = h < 0 ? -static_cast<int64_t>(h) : h;
    s = s.substr(0, 200) + "-" + base36(static_cast<uint64_t>(a));
  }
  return config_dir + "/projects/" + s;
}

std::vector<claude_session_summary> list_claude_sessions(const std::string& project_dir,
                                                         std::size_t limit,
                                                         std::size_t history_limit) {
  std::vector<claude_session_summary> out;
  if (limit == 0) return out;
  DIR* d = ::opendir(project_dir.c_str());
  if (!d) return out;
  std::vector<std::pair<int64_t, std::string>> files;
  std::size_t seen = 0;
  while (auto* e = ::readdir(d)) {
    if (++seen > 100000) break;  // bound the scan of a huge directory
    std::string name = e->d_name;
    if (name.size() != 36 + 6 || name.compare(36, 6, ".jsonl") != 0) continue;
    auto id = name.substr(0, 36);
    if (!is_uuid(id)) continue;
    struct stat st {};
    if (::stat((project_dir + "/" + name).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    files.emplace_back(
        static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000, lower(id));
  }
  ::closedir(d);
  std::sort(files.begin(), files.end(), [](auto& a, auto& b) { return a.first > b.first; });
  if (files.size() > limit) files.resize(limit);
  for (auto& [mtime, id] : files) {
    auto path = project_dir + "/" + id + ".jsonl";
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) continue;
    auto size = static_cast<std::size_t>(st.st_size);
    session_scan sc;
    if (size > kTailBytes) scan_lines(read_range(path, 0, kHeadBytes), false, sc, false);
    int64_t first = 0;
    int64_t start = scan_window(path, static_cast<int64_t>(size), sc, true, first);
    claude_session_summary s;
    s.session_id = id;
    s.mtime_ms = mtime;
    for (auto* t : {&sc.custom_title, &sc.ai_title, &sc.summary, &sc.first_prompt})
      if (s.title.empty()) s.title = one_line(*t, 60);
    if (s.title.empty()) s.title = "Claude session";
    s.history_before = start > 0 ? first : 0;
    if (sc.history.size() > history_limit) {
      auto cut = sc.history.size() - history_limit;
      s.history_before = sc.starts[cut];
      sc.history.erase(sc.history.begin(), sc.history.begin() + static_cast<std::ptrdiff_t>(cut));
    }
    s.history = std::move(sc.history);
    out.push_back(std::move(s));
  }
  return out;
}

claude_history_page read_claude_history(const std::string& path, int64_t before,
                                        std::size_t limit) {
  claude_history_page page;
  int64_t end = before;
  for (int round = 0; round < 8 && end > 0 && page.messages.size() < limit; ++round) {
    session_scan sc;
    int64_t first = 0;
    int64_t start = scan_window(path, end, sc, true, first);
    if (first >= end && start > 0) {  // inside one line longer than the window: skip it
      end = start;
      continue;
    }
    std::size_t want = limit - page.messages.size(), cut = 0;
    end = start > 0 ? first : 0;
    if (sc.history.size() > want) {
      cut = sc.history.size() - want;
      end = sc.starts[cut];
    }
    page.messages.insert(page.messages.begin(),
                         std::make_move_iterator(sc.history.begin() + static_cast<long>(cut)),
                         std::make_move_iterator(sc.history.end()));
  }
  page.before = end;
  return page;
}

claude_control_answer claude_unserved_control(const std::string& request_id, const json& req) {
  auto sub = one_line(str_of(req, "subtype"), 80);
  if (sub == "hook_callback")
    return {{{"subtype", "success"}, {"request_id", request_id}, {"response", json::object()}},
            "Claude Code called hook callback \"" + one_line(str_of(req, "callback_id"), 80) +
                "\", which the bridge never registered; answered with no decision."};
  return {{{"subtype", "error"},
           {"request_id", request_id},
           {"error", sub + " is not supported by the Remote Control desktop bridge"}},
          "Claude Code request \"" + sub + "\" cannot be answered from a phone; refused."};
}

json claude_elicitation_request(const json& req, runtime_request_info& info) {
  auto server = str_of(req, "display_name", str_of(req, "mcp_server_name"));
  auto message = str_of(req, "message");
  auto description = one_line(str_of(req, "description"), 300);
  if (!description.empty() && description != message) message += " (" + description + ")";
  return requests::describe_elicitation(
      {server, message, str_of(req, "mode"), str_of(req, "url"),
       req.is_object() ? req.value("requested_schema", json()) : json()},
      info);
}

std::optional<json> claude_elicitation_response(const json& form, const runtime_response& r) {
  if (r.kind != "mcpElicitation") return std::nullopt;
  auto a = requests::elicitation_answer(form, r);
  if (!a) return std::nullopt;
  json res = {{"action", a->action}};
  if (a->content) res["content"] = *a->content;
  return res;
}

std::string claude_tool_action(const std::string& tool, const json& input) {
  auto cmd = one_line(str_of(input, "command"), 300);
  if (tool == "Bash" && !cmd.empty()) return "run `" + cmd + "`";
  auto path = str_of(input, "file_path", str_of(input, "notebook_path"));
  if (is_file_tool(tool) && !path.empty()) return (tool == "Write" ? "write " : "edit ") + path;
  for (const char* k : {"url", "pattern", "path", "query", "description"}) {
    auto v = one_line(str_of(input, k), 200);
    if (!v.empty()) return "use " + tool + " (" + v + ")";
  }
  return "use " + tool;
}

std::string claude_edit_preview(const std::string& tool, const json& input) {
  std::string diff;
  if (tool == "Write") diff = prefixed(str_of(input, "content"), '+');
  if (tool == "Edit")
    diff = prefixed(str_of(input, "old_string"), '-') + prefixed(str_of(input, "new_string"), '+');
  if (diff.empty()) return {};
  if (diff.back() == '\n') diff.pop_back();
  return diff.size() > 800 ? cut_utf8(diff, 800) + "\n..." : diff;
}

std::string claude_tool_card(const std::string& tool, const json& input, const json& result,
                             const json& detail, bool declined) {
  const bool is_error = result.is_object() && result.value("is_error", false);
  auto rtext = result_text(result);
  if (tool == "Bash") {
    std::string text = "Command: `" + one_line(str_of(input, "command"), 300) + "`";
    std::string out;
    if (detail.is_object()) {
      out = str_of(detail, "stdout");
      auto err = str_of(detail, "stderr");
      if (!err.empty()) out += (out.empty() ? "" : "\n") + err;
    }
    if (declined) {
      text += " (declined)";
      out.clear();
    } else if (is_error) {
      int code = 0;
      if (std::sscanf(rtext.c_str(), "Exit code %d", &code) == 1)
        text += " (exit " + std::to_string(code) + ")";
      else
        text += " (failed)";
      if (out.empty()) out = rtext;
    } else if (detail.is_object() && detail.value("interrupted", false)) {
      text += " (interrupted)";
    } else {
      text += " (exit 0)";
    }
    if (out.empty() && !declined && !is_error) out = rtext;
    if (!out.empty()) text += "\n" + tail_utf8(out, kCardOutput);
    return text;
  }
  if (is_file_tool(tool)) {
    auto path =
        str_of(detail, "filePath", str_of(input, "file_path", str_of(input, "notebook_path")));
    std::string status = declined                             ? "declined"
                         : is_error                           ? "failed"
                         : str_of(detail, "type") == "create" ? "created"
                                                              : "updated";
    std::string text = "File change: " + (path.empty() ? std::string("(unknown file)") : path) +
                       " (" + status + ")";
    if (declined) return text;
    if (is_error) return text + "\n" + tail_utf8(rtext, 500);
    std::string diff =
        detail.is_object() ? render_patch(detail.value("structuredPatch", json())) : "";
    if (diff.empty() && tool == "Write") diff = prefixed(str_of(input, "content"), '+');
    if (diff.empty() && tool == "Edit")
      diff =
          prefixed(str_of(input, "old_string"), '-') + prefixed(str_of(input, "new_string"), '+');
    if (!diff.empty()) {
      if (diff.back() == '\n') diff.pop_back();
      text += "\n```diff\n" + cut_utf8(diff, kCardOutput) +
              (diff.size() > kCardOutput ? "\n..." : "") + "\n```";
    }
    return text;
  }
  std::string text = "Tool: " + claude_tool_action(tool, input).substr(4) +
                     (declined   ? " (declined)"
                      : is_error ? " (failed)"
                                 : " (done)");
  if (!declined && is_error && !rtext.empty()) text += "\n" + tail_utf8(rtext, 500);
  return text;
}

}  // namespace rc::bridge
