// Terminal QR code (libqrencode) drawn with half-block characters and a quiet zone.
#pragma once
#include <string>

namespace rc::bridge {

/// Renders `text` as a QR code (ECC level M) with half-block characters (two modules per
/// cell), light modules as blocks so it reads dark-on-light on dark terminals, with a
/// 2-module quiet zone. Empty string on failure.
std::string render_qr(const std::string& text);

}  // namespace rc::bridge
