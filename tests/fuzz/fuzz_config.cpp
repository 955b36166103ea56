// The relay's configuration loader (settings/config.hpp): odd first byte → the input is a --config
// file; even → its lines are --set KEY=VALUE flags. Loading never throws and every failure is
// an "invalid configuration: ..." message.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "fuzz_util.hpp"
#include "settings/config.hpp"

namespace {
std::string config_path() {
  static const std::string p = "/tmp/rc-fuzz-config-" + std::to_string(::getpid()) + ".json";
  return p;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  auto text = rc::fuzz::as_text(data + 1, size - 1);
  std::vector<std::string> args{"relay-node"};
  if (data[0] & 1) {
    std::ofstream(config_path(), std::ios::binary | std::ios::trunc) << text;
    args.push_back("--config");
    args.push_back(config_path());
  } else {
    std::size_t pos = 0;
    for (int n = 0; n < 32 && pos <= text.size(); ++n) {
      auto nl = text.find('\n', pos);
      auto line =
          text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
      args.push_back("--set");
      args.emplace_back(line);
      if (nl == std::string_view::npos) break;
      pos = nl + 1;
    }
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  auto r = rc::settings::load_config(static_cast<int>(args.size()), argv.data(), {});
  RC_FUZZ_CHECK(r.config.has_value() != !r.error.empty());
  if (!r.config) RC_FUZZ_CHECK(r.error.rfind("invalid configuration: ", 0) == 0);
  return 0;
}
