// desktop-bridge: one line of `codex app-server` JSON-RPC output through the bridge's line parser
// (bounded proto::parse_untrusted, as runtime_codex.cpp::handle_line) and the pure mapping in
// runtime_codex_map: server requests → phone runtime requests, a phone answer (second input after
// a NUL) → JSON-RPC result, item cards and stored-turn history. Nothing may throw or crash.
#include <string>

#include "desktop-bridge/runtime_codex_map.hpp"
#include "fuzz_util.hpp"
#include "protocol/untrusted_json.hpp"

using rc::bridge::codex::json;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  auto [line, answer] = rc::fuzz::split2(rc::fuzz::as_text(data, size));
  auto j = rc::proto::parse_untrusted(line, 512);
  if (!j.is_object()) return 0;
  const auto method = rc::proto::string_member(j, "method");
  const json params = j.contains("params") ? j["params"] : json::object();
  auto lookup = [](const std::string& id) { return id.size() < 8 ? "`ls`" : std::string(); };
  try {
    if (!method.empty()) {
      auto m = rc::bridge::codex::map_server_request(method, params, lookup);
      if (m) {
        rc::bridge::runtime_response r;
        r.kind = m->pending.kind;
        auto a = rc::proto::parse_untrusted(answer);
        if (a.is_object()) {
          r.decision = rc::proto::string_member(a, "decision");
          r.approved = rc::proto::bool_member(a, "approved", false);
          if (a.contains("text") && a["text"].is_string()) r.text = a["text"].get<std::string>();
          if (a.contains("optionID") && a["optionID"].is_string())
            r.option_id = a["optionID"].get<std::string>();
          r.raw = a;
        }
        auto res = rc::bridge::codex::response_result(m->pending, r);
        if (res) RC_FUZZ_CHECK(!res->dump().empty());
        (void)rc::bridge::codex::refusal_result(m->pending);
      } else {
        RC_FUZZ_CHECK(rc::bridge::codex::refusal_error(method).is_object());
      }
      if (params.is_object() && params.contains("item")) {
        (void)rc::bridge::codex::item_description(params["item"]);
        (void)rc::bridge::codex::item_card(params["item"]);
      }
    }
    if (j.contains("result") && j["result"].is_object() && j["result"].contains("data")) {
      auto msgs = rc::bridge::codex::history_messages(j["result"]["data"], "T1", "c1", {}, 4096);
      for (auto& msg : msgs) RC_FUZZ_CHECK(msg.text.size() <= 4096);
    }
  } catch (const nlohmann::json::exception&) {
    // A type mismatch in the agent's output must be handled inside the mapping, not thrown out.
    rc::fuzz::fail("json exception escaped the codex mapping");
  }
  return 0;
}
