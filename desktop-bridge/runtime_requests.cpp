// Runtime-request mapping shared by the agent runtimes (see runtime_requests.hpp).
#include "desktop-bridge/runtime_requests.hpp"
#include "protocol/untrusted_json.hpp"

#include "desktop-bridge/runtime_util.hpp"

namespace rc::bridge::requests {

using namespace util;

namespace {

const json& member_of(const json& j, const char* key) {
  static const json null_value;
  if (!j.is_object()) return null_value;
  auto it = j.find(key);
  return it == j.end() ? null_value : *it;
}

std::string field_label(const std::string& name, const json& prop) {
  auto title = str_of(prop, "title");
  std::string s = title.empty() ? name : title;
  std::vector<std::string> choices;
  if (prop.contains("enum") && prop["enum"].is_array())
    for (auto& c : prop["enum"])
      if (c.is_string()) choices.push_back(c.get<std::string>());
  if (prop.contains("oneOf") && prop["oneOf"].is_array())
    for (auto& c : prop["oneOf"]) {
      auto v = str_of(c, "const");
      if (!v.empty()) choices.push_back(v);
    }
  if (!choices.empty()) {
    s += " (one of";
    for (std::size_t i = 0; i < choices.size() && i < 16; ++i) s += (i ? ", " : " ") + choices[i];
    s += ")";
  } else {
    auto type = str_of(prop, "type");
    if (!type.empty() && type != "string") s += " (" + type + ")";
  }
  return s;
}

// One form value from the phone's text, typed by the property schema; nullopt = does not fit.
std::optional<json> typed_value(const json& prop, const json& v) {
  auto type = str_of(prop, "type");
  if (!v.is_string()) {
    if ((type == "number" && v.is_number()) || (type == "integer" && v.is_number_integer()) ||
        (type == "boolean" && v.is_boolean()) || (type == "array" && v.is_array()))
      return v;
    return std::nullopt;
  }
  auto s = v.get<std::string>();
  if (type == "number" || type == "integer") {
    auto n = rc::proto::parse_untrusted(s);
    if (n.is_discarded() || !n.is_number() || (type == "integer" && !n.is_number_integer()))
      return std::nullopt;
    return n;
  }
  if (type == "boolean") {
    auto l = upper(s);
    if (l == "TRUE" || l == "YES" || l == "Y" || l == "1") return json(true);
    if (l == "FALSE" || l == "NO" || l == "N" || l == "0") return json(false);
    return std::nullopt;
  }
  if (prop.contains("enum") && prop["enum"].is_array()) {
    for (auto& c : prop["enum"])
      if (c == s) return json(s);
    return std::nullopt;
  }
  if (prop.contains("oneOf") && prop["oneOf"].is_array()) {
    for (auto& c : prop["oneOf"])
      if (str_of(c, "const") == s || str_of(c, "title") == s) return json(str_of(c, "const"));
    return std::nullopt;
  }
  return json(s);
}

}  // namespace

std::vector<option_info> approval_options() {
  return {{"approve_once", "Approve once", std::nullopt},
          {"approve_for_session", "Approve for session", std::nullopt},
          {"decline", "Decline", std::nullopt},
          {"cancel", "Cancel", std::nullopt}};
}

std::optional<std::string> option_of(const runtime_response& r) {
  auto it = r.raw.find("optionID");
  if (it != r.raw.end() && it->is_string()) return it->get<std::string>();
  return r.option_id;
}

bool negative_word(const std::string& id) {
  auto u = upper(id);
  for (const char* w : {"DECLINE", "DENY", "REJECT", "CANCEL", "NO", "STOP", "DISMISS"})
    if (u.rfind(w, 0) == 0) return true;
  return false;
}

json describe_elicitation(const elicitation& e, runtime_request_info& info) {
  auto server = one_line(e.server, 100);
  info.kind = "mcpElicitation";
  info.server_name = server;
  info.title = (server.empty() ? std::string("An MCP server") : server) + " asks";
  std::string summary = one_line(e.message, 1200);
  json form;
  if (e.mode == "url") {
    summary += (summary.empty() ? "" : " ") + std::string("Open: ") + one_line(e.url, 600);
    info.response_options = {{"accept", "Done", std::nullopt},
                             {"decline", "Decline", std::nullopt},
                             {"cancel", "Cancel", std::nullopt}};
  } else {
    auto props = e.schema.is_object() ? member_of(e.schema, "properties") : json();
    form = props.is_object() ? e.schema : json::object();
    std::size_t n = props.is_object() ? props.size() : 0;
    if (n == 1) {
      summary += " — answer: " + field_label(props.begin().key(), props.begin().value());
    } else if (n > 1) {
      std::string fields;
      for (auto& [k, v] : props.items()) fields += (fields.empty() ? "" : "; ") + field_label(k, v);
      summary += " — answer with a JSON object: " + fields;
    }
    info.response_options = {{"accept", "Submit", std::nullopt},
                             {"decline", "Decline", std::nullopt},
                             {"cancel", "Cancel", std::nullopt}};
  }
  info.summary = cut_utf8(summary.empty() ? "The MCP server needs input." : summary, 2000);
  info.title = cut_utf8(info.title, 200);
  return form;
}

std::optional<json> form_content(const json& form, const std::string& text) {
  const auto& props = member_of(form, "properties");
  json content = json::object();
  if (!props.is_object() || props.empty()) return content;
  json given;
  if (props.size() == 1) {
    given = {{props.begin().key(), text}};
  } else {
    given = rc::proto::parse_untrusted(text);
    if (given.is_discarded() || !given.is_object()) return std::nullopt;
  }
  for (auto& [k, v] : given.items()) {
    if (!props.contains(k)) return std::nullopt;
    if (v.is_string() && v.get<std::string>().empty()) continue;
    auto tv = typed_value(props[k], v);
    if (!tv) return std::nullopt;
    content[k] = *tv;
  }
  const auto& req = member_of(form, "required");
  if (req.is_array())
    for (auto& k : req)
      if (k.is_string() && !content.contains(k.get<std::string>())) return std::nullopt;
  return content;
}

// Without an optionID (the reference PWA sends only the text) a text means accept and no text
// decline.
std::optional<elicit_result> elicitation_answer(const json& form, const runtime_response& r) {
  auto opt = option_of(r);
  bool accept = opt ? !negative_word(*opt) : r.text.has_value();
  if (!accept) {
    bool cancel = opt && upper(*opt).rfind("CANCEL", 0) == 0;
    return elicit_result{cancel ? "cancel" : "decline", std::nullopt};
  }
  if (form.is_null()) return elicit_result{"accept", std::nullopt};
  auto content = form_content(form, r.text.value_or(""));
  if (!content) return std::nullopt;
  return elicit_result{"accept", std::move(*content)};
}

}  // namespace rc::bridge::requests
