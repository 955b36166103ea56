// Relay-side outer-shape validator of E2EE frames from phones (docs/E2EE.md "On the wire").
// The relay cannot read the ciphertext; it checks the envelope as strictly as a command's:
// keys, types, base64url, exact key/nonce/signature sizes, counter range, ciphertext bounds.
#pragma once
#include <cstdint>

#include "protocol/wire.hpp"

namespace rc::proto {

/// True when `v` is a command-style envelope whose payload.type is "e2ee" (routing decision).
bool is_e2ee_envelope(const json& v);

/// §9.3 step 4 for an E2EE envelope (replaces validate_command_envelope + rules). On success
/// `seq_out` is set; the relay then applies seq monotonicity and both command budgets as usual.
/// Ciphertext is bounded by 2·max_text_bytes + 4096 bytes (a command with max text, JSON-escaped).
verdict validate_e2ee_envelope(const json& v, uint64_t& seq_out, std::size_t max_text_bytes);

}  // namespace rc::proto
