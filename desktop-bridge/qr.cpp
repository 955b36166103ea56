#include "desktop-bridge/qr.hpp"

#include <qrencode.h>

#include <memory>

namespace rc::bridge {

std::string render_qr(const std::string& text) {
  std::unique_ptr<QRcode, decltype(&QRcode_free)> qr(
      QRcode_encodeString8bit(text.c_str(), 0, QR_ECLEVEL_M), &QRcode_free);
  if (!qr) return {};
  const int w = qr->width, quiet = 2, size = w + 2 * quiet;
  // Terminals usually draw light text on a dark background, so a "set" module is printed as a
  // blank cell and a light module as a block: the code appears dark-on-light as scanners expect.
  auto light = [&](int x, int y) {
    x -= quiet;
    y -= quiet;
    if (x < 0 || y < 0 || x >= w || y >= w) return true;
    return (qr->data[y * w + x] & 1) == 0;
  };
  std::string out;
  for (int y = 0; y < size; y += 2) {
    for (int x = 0; x < size; ++x) {
      bool top = light(x, y), bottom = y + 1 < size ? light(x, y + 1) : true;
      if (top && bottom) out += "\u2588";
      else if (top) out += "\u2580";
      else if (bottom) out += "\u2584";
      else out += " ";
    }
    out += "\n";
  }
  return out;
}

}  // namespace rc::bridge
