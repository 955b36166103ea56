#include "gateway/static_files.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

namespace rc::gw {

namespace fs = std::filesystem;

namespace {

/// `rel` ("/a/b", whole components, no "." or "..") under `dir`, as a regular file whose real
/// path (symlinks resolved) lies inside the real `dir`, compared component by component, so
/// that a sibling such as `dist-private/` or `dist.env` never matches `dist`.
std::optional<std::string> resolve(const std::string& dir, const std::string& rel) {
  std::error_code ec;
  fs::path base = fs::canonical(dir, ec);
  if (ec) return std::nullopt;
  fs::path file = fs::canonical(base / fs::path(rel.substr(1)), ec);
  if (ec || !fs::is_regular_file(file, ec) || ec) return std::nullopt;
  auto [b, f] = std::mismatch(base.begin(), base.end(), file.begin(), file.end());
  if (b != base.end() || f == file.end()) return std::nullopt;
  return file.string();
}

/// The path's components joined with '/', or nullopt for a path that is not origin-form or
/// names "." / ".." / NUL / backslash. Empty components (`//`) are skipped.
std::optional<std::string> clean_path(const std::string& path) {
  if (path.empty() || path[0] != '/') return std::nullopt;
  if (path.find('\0') != std::string::npos || path.find('\\') != std::string::npos)
    return std::nullopt;
  std::string rel;
  std::size_t pos = 1;
  while (pos <= path.size()) {
    auto slash = path.find('/', pos);
    auto end = slash == std::string::npos ? path.size() : slash;
    std::string comp = path.substr(pos, end - pos);
    if (comp == "." || comp == "..") return std::nullopt;
    if (!comp.empty()) rel += "/" + comp;
    pos = end + 1;
  }
  if (rel.empty() || path.back() == '/') rel += "/index.html";
  return rel;
}

}  // namespace

bool is_api_path(const std::string& p) {
  return p == "/pair/start" || p == "/pair/join" || p == "/pair/refresh" || p == "/pair/stop" ||
         p == "/devices/list" || p == "/devices/revoke";
}

const char* mime_for(const std::string& path) {
  auto dot = path.rfind('.');
  std::string ext = dot == std::string::npos ? "" : path.substr(dot + 1);
  if (ext == "html") return "text/html; charset=utf-8";
  if (ext == "js" || ext == "mjs") return "text/javascript";
  if (ext == "css") return "text/css";
  if (ext == "json" || ext == "webmanifest") return "application/manifest+json";
  if (ext == "svg") return "image/svg+xml";
  if (ext == "png") return "image/png";
  if (ext == "ico") return "image/x-icon";
  if (ext == "txt") return "text/plain";
  return "application/octet-stream";
}

static_file load_static_file(const std::string& dir, const std::string& path) {
  static_file out;
  auto rel = clean_path(path);
  if (!rel) return out;
  auto file = resolve(dir, *rel);
  if (!file) {
    rel = "/index.html";  // single-page app fallback
    file = resolve(dir, *rel);
    if (!file) return out;
  }
  std::ifstream in(*file, std::ios::binary);
  if (!in) return out;
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string body = ss.str();
  if (body.size() > 8 * 1024 * 1024) return out;
  out.status = 200;
  out.body = std::move(body);
  out.content_type = mime_for(*rel);
  return out;
}

}  // namespace rc::gw
