// `codex` runtime: drives a local Codex CLI through `codex app-server` (JSON-RPC, one JSON object
// per line over the child's stdin/stdout). Tested against @openai/codex 0.169.0 (the protocol is
// marked experimental upstream; pin the version).
//
// Mapping:
//  * one project = the working directory (stable ID derived from its path);
//  * threads = the codex threads recorded for that directory (`thread/list`, resumed lazily on the
//    first message) plus one "New conversation" draft that becomes a codex thread (`thread/start`)
//    on its first message (a new draft then appears);
//  * user message → `turn/start`; `item/agentMessage/delta` → assistant message deltas;
//    `item/completed` → full assistant text / action cards (commands, file changes) as system
//    messages; `turn/completed` → turn idle (+ a system message when failed/interrupted);
//  * command / file-change approvals (v2 and legacy) → `approval` runtime requests; tool
//    user-input questions → `userInput` requests; other server requests are refused with a
//    JSON-RPC error (and a system message);
//  * process exit → runtime offline with the exit status and the stderr tail.
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
  std::string cwd;                           ///< workspace; empty = the bridge's working directory
  std::optional<std::string> approval_policy;    ///< thread/start approvalPolicy (e.g. "untrusted")
  std::optional<std::string> sandbox;            ///< thread/start sandbox (e.g. "workspace-write")
  std::optional<std::string> model;              ///< thread/start model
  int list_limit = 30;                           ///< codex threads listed at start (0 = none)
  std::size_t max_line_bytes = 8 * 1024 * 1024;  ///< longer JSON-RPC lines are dropped
  std::size_t max_message_bytes = 256 * 1024;    ///< assistant text kept per message
  std::size_t max_outbound_bytes = 4 * 1024 * 1024;  ///< queued stdin bytes before giving up
  std::size_t max_pending_requests = 32;             ///< more concurrent approvals are declined
  int init_timeout_ms = 30000;  ///< `initialize` must be answered within this time
  bool debug = false;           ///< log JSON-RPC traffic and stderr to our stderr
  std::string config_error;     ///< non-empty: bad arguments; runtime stays offline
};

/// Parses the words after `--` (`[codex-binary] [--codex-cwd DIR] [--codex-approval-policy P]
/// [--codex-sandbox S] [--codex-model M] [--codex-list-limit N] [--codex-debug] [app-server
/// args...]`) on top of the environment (RC_CODEX_BIN, RC_CODEX_CWD, RC_CODEX_APPROVAL_POLICY,
/// RC_CODEX_SANDBOX, RC_CODEX_MODEL, RC_CODEX_DEBUG=1). Errors go to `config_error`.
codex_options parse_codex_options(const std::vector<std::string>& args);

std::unique_ptr<runtime> make_codex_runtime(codex_options opts);

}  // namespace rc::bridge
