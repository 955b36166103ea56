// E2EE cost on the bridge (docs/E2EE.md): CPU per encrypted message (seal as the desktop sends,
// open as it receives), handshake cost, and bytes added per frame. Not a test; run
// bench/e2ee_bench.sh. Loops are bounded in count.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "desktop-bridge/e2ee_hub.hpp"

using namespace rc::bridge;
using namespace rc::bridge::e2ee;
using nlohmann::json;
using clk = std::chrono::steady_clock;

static const std::string sid = "S_8c1f0e2d4b6a49c3a1b2c3d4e5f60718",
                         did = "D_0f1e2d3c4b5a69788796a5b4c3d2e1f0";

int main() {
  e2ee_hub hub;
  hub.reset();
  hub.set_session(sid);
  auto frag = hub.join_fragment(4'000'000'000'000, 1);
  auto ps = *unb64u(frag.substr(frag.find("&ps=") + 4));
  auto dk = hub.identity_point();
  // handshake (phone side composed of the same primitives), timed end to end on this core
  auto t0 = clk::now();
  identity_key id;
  ecdh_key eph;
  bytes n = random_bytes(32);
  json hello = {{"v", 1},
                {"k", "hello"},
                {"eph", b64u(eph.public_point())},
                {"n", b64u(n)},
                {"pk", b64u(id.public_point())},
                {"mac", b64u(hmac_sha256(ps, pair_mac_input(id.public_point(), dk, sid, did)))}};
  auto acc = hub.on_frame(did, hello, 2).to_phone.at(0);
  auto eph_d = *unb64u(acc["eph"].get<std::string>());
  auto n_d = *unb64u(acc["n"].get<std::string>());
  auto h = transcript_hash({sid, did, dk, id.public_point(), eph.public_point(), n, eph_d, n_d});
  if (!ecdsa_verify(dk, *unb64u(acc["sig"].get<std::string>()), signed_input("accept", h)))
    return 1;
  auto keys = derive_keys(*eph.derive(eph_d), h);
  record_stream tx(keys.p2d, record_prefix("p2d", sid, did));
  hub.on_frame(did, {{"v", 1}, {"k", "finish"}, {"sig", b64u(id.sign(signed_input("finish", h)))}},
               2);
  uint64_t c = 0;
  auto ct = tx.seal("{\"t\":\"confirm\"}", c);
  if (!hub.on_frame(did, {{"v", 1}, {"k", "rec"}, {"c", c}, {"ct", b64u(ct)}}, 2).established)
    return 1;
  double hs_ms = std::chrono::duration<double, std::milli>(clk::now() - t0).count();
  std::printf("handshake (both sides, one core): %.2f ms\n", hs_ms);

  // Per message: AEAD only (record_stream, OpenSSL AES-256-GCM), then the whole record as the
  // desktop sends (seal_all: AEAD + base64url + JSON frame) and receives it (on_frame: base64url
  // decode + AEAD). `added` = bytes the E2EE frame carries beyond the plaintext envelope.
  std::printf("%8s %11s %11s %11s %11s %9s  (us per message)\n", "payload", "aead seal",
              "aead open", "frame seal", "frame open", "added B");
  record_stream ptx(keys.p2d, record_prefix("p2d", sid, did));  // fresh pair for the AEAD-only rows
  record_stream prx(keys.p2d, record_prefix("p2d", sid, did));
  for (std::size_t size : {200u, 2000u, 16000u, 60000u}) {
    std::string pt =
        "{\"schemaVersion\":2,\"seq\":1,\"payload\":{\"type\":\"event\",\"payload\":{\"text\":\"";
    pt += std::string(size > pt.size() + 8 ? size - pt.size() - 4 : 1, 'x') + "\"}}}";
    const int iters = size >= 16000 ? 2000 : 20000;
    auto per = [&](auto&& fn) {
      auto a = clk::now();
      for (int i = 0; i < iters; ++i) fn(i);
      return std::chrono::duration<double, std::micro>(clk::now() - a).count() / iters;
    };
    std::vector<bytes> raw(iters);
    std::vector<uint64_t> ctrs(iters);
    double aead_seal = per([&](int i) { raw[i] = ptx.seal(pt, ctrs[i]); });
    double aead_open = per([&](int i) {
      reject why = reject::none;
      if (!prx.open(ctrs[i], raw[i], why, 1 << 20)) std::abort();
    });
    std::size_t frame_bytes = 0;
    double seal_us =
        per([&](int) { frame_bytes = hub.seal_all(pt).at(0).size(); });  // desktop → phone
    std::vector<json> recs;  // phone → desktop: what the desktop pays to open one record
    recs.reserve(iters);
    for (int i = 0; i < iters; ++i) {
      auto r = tx.seal(pt, c);
      recs.push_back({{"v", 1}, {"k", "rec"}, {"c", c}, {"ct", b64u(r)}});
    }
    double open_us = per([&](int i) {
      if (!hub.on_frame(did, recs[i], 2).app) std::abort();
    });
    std::printf("%8zu %11.1f %11.1f %11.1f %11.1f %9zd\n", pt.size(), aead_seal, aead_open, seal_us,
                open_us,
                static_cast<std::ptrdiff_t>(frame_bytes) - static_cast<std::ptrdiff_t>(pt.size()));
  }
  return 0;
}
