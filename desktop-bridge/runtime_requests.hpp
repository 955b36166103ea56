// Runtime-request mapping shared by the agent runtimes (codex, claude): the approval options,
// and MCP elicitations (an MCP server asking the user for input through the agent) as
// `mcpElicitation` runtime requests — the card the phone shows and how its answer becomes the
// MCP `ElicitResult` ({action, content}). Pure functions, no I/O: unit-tested in tests/bridge.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "desktop-bridge/runtime.hpp"

namespace rc::bridge::requests {

using json = nlohmann::json;

/// approve_once / approve_for_session / decline / cancel (APP_SCHEMA approval options).
std::vector<option_info> approval_options();

/// The phone's chosen option: `optionID` of the raw response, else the interpreted one.
std::optional<std::string> option_of(const runtime_response& r);

/// An option ID that says no (decline, deny, reject, cancel, no, stop, dismiss...).
bool negative_word(const std::string& id);

/// An MCP elicitation as the agent reports it (field names differ per agent).
struct elicitation {
  std::string server;   ///< MCP server name
  std::string message;  ///< what the server asks
  std::string mode;     ///< "url" or "form" / empty (form)
  std::string url;      ///< url mode: the page to open
  json schema;          ///< form mode: `requestedSchema` (object with `properties`), else null
};

/// Fills `info` (kind mcpElicitation, server_name, title, summary, response_options) and
/// returns the form to keep for the answer (the schema, or null in url mode).
json describe_elicitation(const elicitation& e, runtime_request_info& info);

/// The phone's answer as an MCP ElicitResult: `action` accept|decline|cancel and, for an
/// accepted form, `content` (the typed form values). nullopt = the text does not fit the form
/// (the command is then rejected `invalid_runtime_request`).
struct elicit_result {
  std::string action;
  std::optional<json> content;
};
std::optional<elicit_result> elicitation_answer(const json& form, const runtime_response& r);

/// `content` of an accepted form from the phone's text: one field takes the text as its value
/// (typed by the property schema), several fields take a JSON object; required fields enforced.
std::optional<json> form_content(const json& form, const std::string& text);

}  // namespace rc::bridge::requests
