// `claude` runtime: drives the Claude Code CLI (npm @anthropic-ai/claude-code, tested with 2.1.112)
// over its streaming JSON interface on stdio — one CLI process per active thread:
//   claude -p --input-format stream-json --output-format stream-json --verbose
//          --include-partial-messages --permission-prompt-tool stdio (--resume ID | --session-id
//          ID)
// Mapping (docs/runtimes/claude.md has the full table):
//  * one project per workspace (`--claude-cwd`, repeatable; stable IDs derived from the paths);
//  * threads = the Claude Code sessions recorded for each (<config>/projects/<sanitised
//  cwd>/*.jsonl,
//    titled by custom/AI title or first prompt, recent history loaded) plus one "New conversation"
//    draft per workspace whose session ID the bridge picks (--session-id), so thread ID =
//    upper-cased session ID;
//  * user message → a `user` line on the thread's CLI stdin (spawned with --resume on first use);
//    `stream_event` text deltas → assistant deltas; `assistant` text → full assistant text;
//    tool_use + its tool_result → system-message cards (command + output tail, file diffs);
//    `result` → turn idle (+ a system message when it failed or was interrupted);
//  * `control_request` can_use_tool → `approval` runtime request (allow once / allow for session
//    / deny / cancel = deny + interrupt); `control_request` elicitation (an MCP server asks the
//    user) → `mcpElicitation` runtime request; hook callbacks (none registered) → no decision;
//    interrupt → `control_request` interrupt; `thread.load_earlier` → the previous page of the
//    session transcript (bounded backward reads);
//  * a CLI that dies unexpectedly → runtime offline with the reason, restarted with bounded
//    backoff (the session resumed); after max_failures within failure_window it stays offline.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "desktop-bridge/runtime.hpp"

namespace rc::bridge {

struct claude_options {
  std::string claude_bin = "claude";    ///< looked up in PATH unless it contains '/'
  std::vector<std::string> extra_args;  ///< passed to every CLI process verbatim
  std::vector<std::string> workspaces;  ///< one project each; empty = the bridge's working dir
  std::string config_dir;  ///< Claude Code's config dir; empty = $CLAUDE_CONFIG_DIR or ~/.claude
  std::optional<std::string>
      permission_mode;                   ///< --permission-mode (default, acceptEdits, plan, ...)
  std::optional<std::string> model;      ///< --model
  bool partial_messages = true;          ///< --include-partial-messages (streamed text)
  int list_limit = 30;                   ///< sessions of the workspace listed at start (0 = none)
  int history_limit = 40;                ///< messages of each listed session loaded (latest first)
  std::size_t max_processes = 4;         ///< concurrent CLI processes (idle ones are closed first)
  int idle_timeout_ms = 10 * 60 * 1000;  ///< an idle CLI process is closed after this
  int init_timeout_ms = 120000;          ///< `initialize` must be answered within this time
  int backoff_min_ms = 1000, backoff_max_ms = 30000;  ///< restart delays (doubling)
  int max_failures = 5;  ///< unexpected exits within failure_window_ms → give up
  int failure_window_ms = 5 * 60 * 1000;
  std::size_t max_line_bytes = 8 * 1024 * 1024;      ///< longer stdout lines are dropped
  std::size_t max_message_bytes = 256 * 1024;        ///< assistant text kept per message
  std::size_t max_outbound_bytes = 4 * 1024 * 1024;  ///< queued stdin bytes per process
  std::size_t max_pending_requests = 32;             ///< more concurrent prompts are denied
  bool debug = false;        ///< log the stream-json traffic and stderr to our stderr
  std::string config_error;  ///< non-empty: bad arguments; runtime stays offline
};

/// Parses the words after `--` (`[claude-binary] [--claude-cwd DIR]... [--claude-permission-mode M]
/// [--claude-model M] [--claude-list-limit N] [--claude-history N] [--claude-max-processes N]
/// [--claude-idle-timeout S] [--claude-max-failures N] [--claude-failure-window S]
/// [--claude-no-partial] [--claude-debug] [CLI args...]`) on top of the environment
/// (RC_CLAUDE_BIN, RC_CLAUDE_CWD (':'-separated; flags replace it), RC_CLAUDE_PERMISSION_MODE,
/// RC_CLAUDE_MODEL, RC_CLAUDE_DEBUG=1). Workspaces are made absolute (realpath), de-duplicated,
/// at most 16; a missing or non-directory path is a `config_error`.
claude_options parse_claude_options(const std::vector<std::string>& args);

std::unique_ptr<runtime> make_claude_runtime(claude_options opts);
std::unique_ptr<runtime> make_claude_runtime(const std::vector<std::string>& args);

// ---- pure helpers (runtime_claude_sessions.cpp; unit-testable) -------------------------------

/// Claude Code's per-workspace session directory: <config_dir>/projects/<cwd with every
/// non-alphanumeric character as '-'> (cut at 200 + '-' + base-36 hash, as the CLI does).
std::string claude_project_dir(const std::string& config_dir, const std::string& cwd);

struct claude_session_summary {
  std::string session_id;  ///< as on disk (lower-case UUID)
  std::string title;
  int64_t mtime_ms = 0;
  std::vector<message_info> history;  ///< oldest first, `history` set; thread_id left empty
  int64_t history_before = 0;  ///< read_claude_history() offset of the next earlier page (0 = none)
};

/// The newest `limit` sessions of `project_dir` (by mtime), each with its title and the last
/// `history_limit` user/assistant text messages (each ≤ 4 KiB). Reads at most ~1 MiB per file.
std::vector<claude_session_summary> list_claude_sessions(const std::string& project_dir,
                                                         std::size_t limit,
                                                         std::size_t history_limit);

/// One line for a permission prompt: "run `cmd`", "write /path", "use WebFetch (url)".
std::string claude_tool_action(const std::string& tool, const nlohmann::json& input);

/// Write/Edit input as diff lines ('+' new, '-' old), ≤ 800 bytes; "" for other tools.
std::string claude_edit_preview(const std::string& tool, const nlohmann::json& input);

/// The card (system message) for a finished tool call: command + output tail, file change +
/// diff (bounded), or a one-line tool note. `result` = the tool_result block, `detail` = the
/// message's `tool_use_result` (may be null).
std::string claude_tool_card(const std::string& tool, const nlohmann::json& input,
                             const nlohmann::json& result, const nlohmann::json& detail,
                             bool declined);

/// An MCP elicitation the CLI forwards (`control_request` subtype "elicitation": mcp_server_name,
/// message, mode, url, requested_schema, display_name, description) as an `mcpElicitation`
/// runtime request: fills `info`, returns the form to keep for the answer (null in url mode).
nlohmann::json claude_elicitation_request(const nlohmann::json& req, runtime_request_info& info);

/// The `response` of the control_response for the phone's answer (the CLI's schema:
/// `{action: accept|decline|cancel, content?: object}`); nullopt = the answer does not fit.
std::optional<nlohmann::json> claude_elicitation_response(const nlohmann::json& form,
                                                          const runtime_response& r);

/// How the bridge answers a control_request it serves no runtime request for: `response` is the
/// control_response's `response` (hook_callback: success with an empty hook output — the CLI
/// calls back only hooks registered in `initialize`, the bridge registers none, and an empty
/// output means "no decision"; anything else: an error), `note` the system message for the thread.
struct claude_control_answer {
  nlohmann::json response;
  std::string note;
};
claude_control_answer claude_unserved_control(const std::string& request_id,
                                              const nlohmann::json& req);

/// Earlier transcript messages of a session file, for paging ("latest first, earlier on
/// request"): the last `limit` user/assistant text messages that start before byte `before`,
/// read backwards in windows of ≤ ~1 MiB (at most 8 per call; a single line longer than a
/// window is skipped). `before` of the result is where the next page ends (0 = the start of the
/// file was reached, nothing earlier).
struct claude_history_page {
  std::vector<message_info> messages;  ///< oldest first, `history` set, thread_id left empty
  int64_t before = 0;
};
claude_history_page read_claude_history(const std::string& path, int64_t before, std::size_t limit);

}  // namespace rc::bridge
