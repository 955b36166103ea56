// persistence/bus_envelope: NATS envelopes from other nodes (decode, encode round trip, the
// receiver checks of §5.3 with and without a secret, signature verification).
#include <string>

#include "fuzz_util.hpp"
#include "persistence/bus_envelope.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  namespace p = rc::persistence;
  auto wire = rc::fuzz::as_text(data, size);
  const std::int64_t now = 1'700'000'000'000;
  static p::replay_guard guard(p::replay_limits{120'000, 30'000, 1'000});
  (void)p::accept_inbound(wire, "", "own-instance-id", guard, now);
  auto in = p::accept_inbound(wire, "fuzz-secret", "own-instance-id", guard, now);
  RC_FUZZ_CHECK(guard.size() <= 1'000);
  if (in.verdict == p::envelope_verdict::accepted)
    RC_FUZZ_CHECK(p::verify(in.envelope, "fuzz-secret"));
  (void)p::to_string(in.verdict);
  auto d = p::decode(wire);
  if (!d) return 0;
  (void)p::verify(*d.value, "fuzz-secret");
  auto enc = p::encode(*d.value);
  if (!enc) return 0;  // invalid UTF-8 is refused on the way out
  auto again = p::decode(*enc.value);
  RC_FUZZ_CHECK(again.ok());
  auto enc2 = p::encode(*again.value);
  RC_FUZZ_CHECK(enc2.ok() && *enc2.value == *enc.value);
  auto s = p::encode_signed(*again.value, "fuzz-secret");
  if (s) {
    auto signed_env = p::decode(*s.value);
    RC_FUZZ_CHECK(signed_env.ok() && p::verify(*signed_env.value, "fuzz-secret"));
  }
  return 0;
}
