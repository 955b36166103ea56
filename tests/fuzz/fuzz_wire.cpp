// protocol/wire: a mobile text frame through the relay's pipeline (classify, §9.3 validators,
// metadata injection + re-serialisation), and a desktop frame through the sessionID pre-check.
#include <string>

#include "fuzz_util.hpp"
#include "protocol/wire.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  auto text = rc::fuzz::as_text(data, size);
  const std::string sid = "S0000000000000000000aa";
  auto f = rc::proto::classify_mobile(text, sid);
  if (f.parsed && f.is_object && !f.session_mismatch) {
    if (f.kind == rc::proto::mobile_kind::snapshot_request) {
      (void)rc::proto::validate_snapshot_request(f.value);
    } else if (f.kind == rc::proto::mobile_kind::command) {
      uint64_t seq = 0;
      auto v = rc::proto::validate_command_envelope(f.value, seq);
      if (v.ok()) v = rc::proto::validate_command_rules(f.value, 16384);
      RC_FUZZ_CHECK(v.ok() || !v.message.empty());
    }
    auto out = rc::proto::inject_metadata(f.value, "conn-0000000001", "dev-00000001");
    // Re-serialised frames must parse again and carry the relay's metadata.
    auto again = rc::proto::classify_mobile(out, sid);
    RC_FUZZ_CHECK(again.parsed && again.is_object);
    RC_FUZZ_CHECK(again.value.value("relayDeviceID", "") == "dev-00000001");
  }
  (void)rc::proto::is_blank(text);
  auto name = rc::proto::sanitize_device_name(std::string(text));
  if (name) RC_FUZZ_CHECK(!name->empty() && name->size() <= text.size());
  return 0;
}
