// The built PWA served from STATIC_DIR (SPA fallback, MIME types, no traversal), and the paths
// that are never static. No Boost, no CAF.
#pragma once
#include <string>

namespace rc::gw {

/// The six POST endpoints of the pairing/management API.
bool is_api_path(const std::string& path);

struct static_file {
  int status = 404;
  std::string body;
  std::string content_type;  ///< empty for a 404
};

/// `GET <path>` under `dir`: the file, else `/index.html` (single-page app), else 404. A path
/// that does not start with `/` or has a `.`/`..` component, NUL or backslash is 404; the file's
/// real path must lie inside the real `dir` (whole components, symlinks resolved); files over
/// 8 MiB are 404.
static_file load_static_file(const std::string& dir, const std::string& path);

/// Content type by file extension.
const char* mime_for(const std::string& path);

}  // namespace rc::gw
