// Pure mapping between `codex app-server` (v2 protocol, @openai/codex 0.169.0) and the bridge's
// runtime interface: server requests → runtime requests, phone answers → JSON-RPC results,
// thread items → transcript entries. No I/O, no state: unit-tested in tests/bridge.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "desktop-bridge/runtime.hpp"

namespace rc::bridge::codex {

using json = nlohmann::json;

/// What the runtime keeps of a server request while the phone decides.
struct pending_request {
  json server_id;            ///< JSON-RPC id of the server's request (answered with it)
  std::string method;        ///< e.g. "item/commandExecution/requestApproval"
  std::string kind;          ///< runtime request kind (runtime.hpp)
  std::string codex_thread;  ///< codex thread ID of the request ("" = none)
  std::string thread_id;     ///< bridge thread ID ("" = unknown), filled by the runtime
  bool legacy = false;       ///< execCommandApproval / applyPatchApproval (ReviewDecision)
  std::vector<option_info> options;
  std::vector<std::string> question_ids;  ///< userInput: question IDs in order
  /// permissionsApproval: each permission offered to the phone with the profile fragment it
  /// grants (merged into GrantedPermissionProfile).
  std::vector<std::pair<std::string, json>> grants;
  /// mcpElicitation: the form (`requestedSchema`) or null for URL / confirmation requests.
  json form;
};

struct mapped_request {
  runtime_request_info info;  ///< id and thread_id are filled by the runtime
  pending_request pending;
};

/// Description of a thread item seen in `item/started` (approvals do not repeat it), "" = none.
using item_lookup = std::function<std::string(const std::string& item_id)>;

/// A server request as a runtime request; nullopt when the method cannot be answered from a
/// phone (the runtime then refuses it with `refusal_error` and notes it in the thread).
std::optional<mapped_request> map_server_request(const std::string& method, const json& params,
                                                 const item_lookup& items);

/// JSON-RPC `result` for the phone's answer; nullopt when the answer does not fit the request.
std::optional<json> response_result(const pending_request& p, const runtime_response& r);

/// `result` that declines a request the bridge cannot queue (too many pending, turn ended).
json refusal_result(const pending_request& p);

/// JSON-RPC `error` for a method the bridge does not support.
json refusal_error(const std::string& method);

/// Short description of an item for later approvals (`command` in backticks / changed paths).
std::string item_description(const json& item);

/// Action card (system message text) of a completed command/file-change item, "" = none.
std::string item_card(const json& item);

/// Transcript entries of stored turns (`thread/turns/list` data, newest first, items "full"):
/// chronological user / assistant messages, action cards and failed/interrupted notes, IDs
/// stable per codex item, `history` set. Turns in `skip_turns` (seen live) are left out.
std::vector<message_info> history_messages(const json& turns, const std::string& thread_id,
                                           const std::string& codex_thread,
                                           const std::vector<std::string>& skip_turns,
                                           std::size_t max_message_bytes);

}  // namespace rc::bridge::codex
