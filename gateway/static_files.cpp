#include "gateway/static_files.hpp"

#include <fstream>
#include <sstream>

namespace rc::gw {

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
  std::string p = path;
  if (p.find("..") != std::string::npos || p.find('\0') != std::string::npos) return out;
  if (p.empty() || p.back() == '/') p += "index.html";
  std::ifstream in(dir + p, std::ios::binary);
  if (!in) {
    p = "/index.html";  // single-page app fallback
    in.open(dir + p, std::ios::binary);
    if (!in) return out;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string body = ss.str();
  if (body.size() > 8 * 1024 * 1024) return out;
  out.status = 200;
  out.body = std::move(body);
  out.content_type = mime_for(p);
  return out;
}

}  // namespace rc::gw
