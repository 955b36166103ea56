// `codex` runtime: drives a local Codex CLI through `codex app-server` (JSON-RPC, one JSON object
// per line over the child's stdin/stdout). Tested against @openai/codex 0.169.0 (the protocol is
// marked experimental upstream; pin the version). Full mapping: docs/runtimes/codex.md.
//
//  * one project per workspace (`--codex-cwd`, repeatable; stable IDs derived from the paths);
//  * threads = the codex threads of each workspace (`thread/list`, resumed lazily on the first
//    message) plus one "New conversation" draft per workspace (a `thread/start`ed thread; a new
//    draft appears after its first message); opening a thread loads its stored turns
//    (`thread/turns/list`, newest page first, older pages on `thread.load_earlier`);
//  * user message → `turn/start`; `item/agentMessage/delta` → assistant deltas; `item/completed`
//    → full assistant text / action cards; `turn/completed` → idle (+ a note when failed or
//    interrupted); `thread.interrupt` → `turn/interrupt`;
//  * every server request becomes a runtime request (approvals, user input, permissions, MCP
//    elicitations, dynamic tool calls); auth refresh / attestation are refused with a note;
//  * the child dying → offline with the reason, restarted with exponential backoff, interrupted
//    threads resumed; after too many failures in a window it stays offline and says why.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "desktop-bridge/runtime.hpp"

namespace rc::bridge {

struct codex_options {
  std::string codex_bin = "codex";           ///< looked up in PATH unless it contains '/'
  std::vector<std::string> app_server_args;  ///< extra words after `codex app-server`
  std::vector<std::string> workspaces;       ///< one project each; empty = the bridge's working dir
  std::optional<std::string> approval_policy;  ///< thread/start approvalPolicy (e.g. "untrusted")
  std::optional<std::string> sandbox;          ///< thread/start sandbox (e.g. "workspace-write")
  std::optional<std::string> model;            ///< thread/start model
  std::string dynamic_tools_file;  ///< --codex-dynamic-tools FILE (JSON array of tool specs)
  nlohmann::json dynamic_tools;    ///< validated thread/start `dynamicTools`; null = none
  int list_limit = 30;             ///< codex threads listed per workspace at start (0 = none)
  int history_page_turns = 10;     ///< turns per `thread/turns/list` page (history on the phone)
  int restart_max = 4;  ///< restarts within `restart_window_s`; one more failure = give up
  int restart_window_s = 300;
  int restart_base_ms = 1000;  ///< first restart delay; doubled per failure in the window, ≤ 30 s
  std::size_t max_line_bytes = 8 * 1024 * 1024;      ///< longer JSON-RPC lines are dropped
  std::size_t max_message_bytes = 256 * 1024;        ///< assistant text kept per message
  std::size_t max_outbound_bytes = 4 * 1024 * 1024;  ///< queued stdin bytes before giving up
  std::size_t max_pending_requests = 32;             ///< more concurrent approvals are declined
  int init_timeout_ms = 30000;  ///< `initialize` must be answered within this time
  bool debug = false;           ///< log JSON-RPC traffic and stderr to our stderr
  std::string config_error;     ///< non-empty: bad arguments; runtime stays offline
};

/// Parses the words after `--` (`[codex-binary] [--codex-cwd DIR]... [--codex-approval-policy P]
/// [--codex-sandbox S] [--codex-model M] [--codex-list-limit N] [--codex-history-turns N]
/// [--codex-restart-max N] [--codex-restart-window S] [--codex-debug] [app-server args...]`) on
/// top of the environment (RC_CODEX_BIN, RC_CODEX_CWD (':'-separated), RC_CODEX_APPROVAL_POLICY,
/// RC_CODEX_SANDBOX, RC_CODEX_MODEL, RC_CODEX_DEBUG=1). Workspaces are made absolute
/// (realpath); at most 16. `--codex-dynamic-tools FILE` [RC_CODEX_DYNAMIC_TOOLS] is loaded with
/// load_codex_dynamic_tools(). Errors go to `config_error`.
codex_options parse_codex_options(const std::vector<std::string>& args);

/// Reads and strictly validates a dynamic-tools file: ≤ 256 KiB, a JSON array of 1..32 objects
/// `{name, description, inputSchema}` (optionally `"type": "function"`, no other keys); name
/// [A-Za-z0-9_-]{1,64} and unique, description a non-empty string ≤ 1024 bytes, inputSchema a JSON
/// Schema object with `"type": "object"`. Fills `out` with the thread/start `dynamicTools` specs
/// (`{type: "function", name, description, inputSchema}`); returns "" or the error.
std::string load_codex_dynamic_tools(const std::string& path, nlohmann::json& out);

std::unique_ptr<runtime> make_codex_runtime(codex_options opts);

}  // namespace rc::bridge
