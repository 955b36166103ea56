// `desktop-bridge diagnostics`: a redacted bundle for bug reports (issue 15) — versions, the
// configuration and state file summary, the last lines of a log — with no token, join link,
// pairing secret or key in it. The state file is only read (never purged or rewritten).
#pragma once
#include <cstddef>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace rc::bridge {

struct diagnostics_options {
  std::string state_file;  ///< "" = none
  std::string log_file;    ///< "" = none (the bridge writes no log file itself)
  std::size_t log_lines = 200;
};

inline constexpr std::size_t diagnostics_max_log_lines = 2000;
inline constexpr std::size_t diagnostics_max_line = 2000;  ///< longer lines are cut
inline constexpr std::size_t diagnostics_max_read =
    1024 * 1024;  ///< bytes read from each file's end

/// Redacts free text: every `secrets` value (≥ 8 chars), `jt=`/`ps=`/`dk=`/`token=`… parameters,
/// JSON token/secret/key fields, `Bearer …`, and every base64url-like run of 22+ characters.
std::string redact_text(std::string_view text, const std::vector<std::string>& secrets);

/// The state file's JSON with every value that is not known to be harmless replaced (IDs shortened
/// with redact_id, URLs without query/fragment/userinfo); `secrets` receives the removed values.
nlohmann::json redact_state(const nlohmann::json& state, std::vector<std::string>& secrets);

/// The whole bundle.
nlohmann::json build_diagnostics(const diagnostics_options& o);

/// `diagnostics [--state-file P] [--log F] [--lines N] [--out P|-]` (argv[0] = "diagnostics").
int run_diagnostics(int argc, char** argv, std::ostream& out, std::ostream& err);

}  // namespace rc::bridge
