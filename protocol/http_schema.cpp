#include "protocol/http_schema.hpp"

#include <cctype>

#include <nlohmann/json.hpp>

#include "protocol/untrusted_json.hpp"

namespace rc::proto {

using json = nlohmann::json;

bool is_json_content_type(std::string_view ct) {
  auto semi = ct.find(';');
  std::string t(ct.substr(0, semi));
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.pop_back();
  std::size_t b = 0;
  while (b < t.size() && std::isspace(static_cast<unsigned char>(t[b]))) ++b;
  t = t.substr(b);
  for (auto& c : t) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (t == "application/json") return true;
  return t.rfind("application/", 0) == 0 && t.size() > 17 &&
         t.compare(t.size() - 5, 5, "+json") == 0;
}

namespace {
enum class kind { str, str_or_null, uint_or_null, int_or_null };
struct spec {
  const char* name;
  kind k;
  bool required;
};

bool fail(framework_error& err, int status, std::string text) {
  err = {status, std::move(text)};
  return false;
}

bool check(const json& body, const spec* specs, std::size_t n, framework_error& err) {
  if (!body.is_object())
    return fail(err, 422, "Failed to deserialize the JSON body: expected an object.");
  for (auto it = body.begin(); it != body.end(); ++it) {
    bool known = false;
    for (std::size_t i = 0; i < n; ++i) known = known || it.key() == specs[i].name;
    if (!known)
      return fail(err, 422,
                  "Failed to deserialize the JSON body: unknown field `" + it.key() + "`.");
  }
  for (std::size_t i = 0; i < n; ++i) {
    auto it = body.find(specs[i].name);
    if (it == body.end()) {
      if (specs[i].required)
        return fail(err, 422,
                    std::string("Failed to deserialize the JSON body: missing field `") +
                        specs[i].name + "`.");
      continue;
    }
    bool ok = false;
    switch (specs[i].k) {
      case kind::str:
        ok = it->is_string();
        break;
      case kind::str_or_null:
        ok = it->is_string() || it->is_null();
        break;
      case kind::uint_or_null:
        ok = it->is_null() || it->is_number_unsigned() ||
             (it->is_number_integer() && it->get<int64_t>() >= 0);
        break;
      case kind::int_or_null:
        ok = it->is_null() || it->is_number_integer();
        break;
    }
    if (!ok)
      return fail(err, 422,
                  std::string("Failed to deserialize the JSON body: invalid type for `") +
                      specs[i].name + "`.");
  }
  return true;
}

std::string str(const json& b, const char* k) {
  auto it = b.find(k);
  return it != b.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

std::optional<std::string> opt_str(const json& b, const char* k) {
  auto it = b.find(k);
  if (it == b.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}
}  // namespace

std::optional<api_request> parse_api_request(route r, std::string_view text, framework_error& err) {
  json body = parse_untrusted(text);
  if (body.is_discarded()) {
    err = {400, "Failed to parse the request body as JSON."};
    return std::nullopt;
  }
  static const spec start[] = {{"schemaVersion", kind::int_or_null, false},
                               {"sessionID", kind::str, true},
                               {"joinToken", kind::str, true},
                               {"desktopSessionToken", kind::str, true},
                               {"joinTokenExpiresAt", kind::str, true},
                               {"relayWebSocketURL", kind::str_or_null, false},
                               {"idleTimeoutSeconds", kind::uint_or_null, false}};
  static const spec join[] = {{"sessionID", kind::str, true},
                              {"joinToken", kind::str, true},
                              {"deviceName", kind::str_or_null, false}};
  static const spec refresh[] = {{"schemaVersion", kind::int_or_null, false},
                                 {"sessionID", kind::str, true},
                                 {"joinToken", kind::str, true},
                                 {"desktopSessionToken", kind::str, true},
                                 {"joinTokenExpiresAt", kind::str, true},
                                 {"relayWebSocketURL", kind::str_or_null, false}};
  static const spec stop[] = {{"schemaVersion", kind::int_or_null, false},
                              {"sessionID", kind::str, true},
                              {"desktopSessionToken", kind::str, true},
                              {"relayWebSocketURL", kind::str_or_null, false}};
  static const spec revoke[] = {{"schemaVersion", kind::int_or_null, false},
                                {"sessionID", kind::str, true},
                                {"desktopSessionToken", kind::str, true},
                                {"deviceID", kind::str, true},
                                {"relayWebSocketURL", kind::str_or_null, false}};
  bool ok = false;
  switch (r) {
    case route::pair_start:
      ok = check(body, start, std::size(start), err);
      break;
    case route::pair_join:
      ok = check(body, join, std::size(join), err);
      break;
    case route::pair_refresh:
      ok = check(body, refresh, std::size(refresh), err);
      break;
    case route::pair_stop:
    case route::devices_list:
      ok = check(body, stop, std::size(stop), err);
      break;
    case route::devices_revoke:
      ok = check(body, revoke, std::size(revoke), err);
      break;
  }
  if (!ok) return std::nullopt;
  api_request q;
  q.r = r;
  if (auto it = body.find("schemaVersion"); it != body.end()) {
    if (!it->is_null()) {
      if (it->is_number_unsigned() && it->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
        q.schema_version = INT64_MAX;
      else
        q.schema_version = it->get<int64_t>();
    }
  }
  q.session_id = str(body, "sessionID");
  q.join_token = str(body, "joinToken");
  q.desktop_token = str(body, "desktopSessionToken");
  q.join_expires_at = str(body, "joinTokenExpiresAt");
  q.relay_ws_url = opt_str(body, "relayWebSocketURL");
  if (auto it = body.find("idleTimeoutSeconds"); it != body.end() && !it->is_null())
    q.idle_timeout_seconds = it->get<uint64_t>();
  q.device_name = opt_str(body, "deviceName");
  q.device_id = str(body, "deviceID");
  return q;
}

}  // namespace rc::proto
