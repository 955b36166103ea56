#include "desktop-bridge/e2ee_hub.hpp"
#include "protocol/untrusted_json.hpp"

#include <algorithm>

namespace rc::bridge {

using nlohmann::json;
using namespace e2ee;

namespace {
constexpr const char* confirm_text = "{\"t\":\"confirm\"}";
constexpr std::size_t max_record_plaintext = 1 << 20;

std::optional<bytes> b64_field(const json& body, const char* key, std::size_t len) {
  auto it = body.find(key);
  if (it == body.end() || !it->is_string()) return std::nullopt;
  auto b = unb64u(it->get_ref<const std::string&>());
  if (!b || (len != 0 && b->size() != len)) return std::nullopt;
  return b;
}
}  // namespace

std::optional<e2ee_policy> parse_e2ee_policy(std::string_view s) {
  if (s == "required") return e2ee_policy::required;
  if (s == "preferred") return e2ee_policy::preferred;
  if (s == "off") return e2ee_policy::off;
  return std::nullopt;
}

const char* e2ee_policy_name(e2ee_policy p) {
  switch (p) {
    case e2ee_policy::required:
      return "required";
    case e2ee_policy::preferred:
      return "preferred";
    case e2ee_policy::off:
      return "off";
  }
  return "required";
}

std::string e2ee_reason_text(const std::string& r) {
  if (r == "pair_mac_mismatch")
    return "the phone could not prove it scanned this desktop's QR code (pairing key substituted?)";
  if (r == "bad_finish_signature")
    return "the phone's signature does not match its pinned key (replayed or forged handshake)";
  if (r == "unknown_device_key")
    return "no pinned key for this device; it must pair again with a fresh QR code";
  if (r == "e2ee_required") return "this desktop requires end-to-end encryption; plaintext refused";
  if (r == "downgrade_refused")
    return "an encrypted device sent plaintext (downgrade attempt) — refused";
  if (r == "e2ee_disabled") return "end-to-end encryption is off on this desktop";
  if (r == "replayed_record") return "a replayed encrypted record was rejected";
  if (r == "record_gap") return "an encrypted record is missing or out of order";
  if (r == "bad_record_tag") return "an encrypted record was modified in transit";
  if (r == "malformed_record" || r == "malformed_handshake")
    return "a malformed encrypted frame was rejected";
  if (r == "missing_confirm") return "key confirmation failed";
  if (r == "bad_accept_signature")
    return "the phone could not verify this desktop's signature (desktop key substituted?)";
  if (r == "too_many_channels") return "too many encrypted devices at once";
  if (r == "replayed_handshake") return "a replayed handshake was ignored";
  if (r == "unexpected_message") return "an encrypted frame arrived out of order";
  return "end-to-end encryption error";
}

struct e2ee_hub::channel {
  enum class st { awaiting_finish, awaiting_confirm, open } state = st::awaiting_finish;
  std::string ch;
  bytes n_p, pk_p, h;
  std::optional<bytes> pairing_secret;  // burned once the finish signature verified
  std::unique_ptr<record_stream> tx, rx;
};

void e2ee_hub::reset() {
  identity_ = std::make_unique<identity_key>();
  pinned_.clear();
  secrets_.clear();
  drop_channels();
}

void e2ee_hub::drop_channels() {
  channels_.clear();
  pending_.clear();
  resyncing_.clear();
}

bool e2ee_hub::load(const std::string& identity_b64,
                    const std::map<std::string, std::string>& pinned,
                    const std::vector<std::pair<std::string, int64_t>>& secrets) {
  auto der = unb64u(identity_b64);
  auto id = der ? identity_key::from_pkcs8(*der) : nullptr;
  if (!id || !id->ok()) {
    reset();
    return false;
  }
  identity_ = std::move(id);
  pinned_.clear();
  for (auto& [dev, pk] : pinned)
    if (auto b = unb64u(pk); b && b->size() == 65) pinned_[dev] = *b;
  secrets_.clear();
  for (auto& [ps, exp] : secrets)
    if (auto b = unb64u(ps); b && b->size() == 32 && secrets_.size() < max_secrets)
      secrets_.emplace_back(*b, exp);
  drop_channels();
  return true;
}

void e2ee_hub::store(std::string& identity_b64, std::map<std::string, std::string>& pinned,
                     std::vector<std::pair<std::string, int64_t>>& secrets) const {
  identity_b64 = identity_ ? b64u(identity_->pkcs8()) : std::string();
  pinned.clear();
  for (auto& [dev, pk] : pinned_) pinned[dev] = b64u(pk);
  secrets.clear();
  for (auto& [ps, exp] : secrets_) secrets.emplace_back(b64u(ps), exp);
}

const bytes& e2ee_hub::identity_point() const {
  static const bytes none;
  return identity_ ? identity_->public_point() : none;
}

std::string e2ee_hub::join_fragment(int64_t expires_ms, int64_t now_ms) {
  if (policy_ == e2ee_policy::off) return {};
  if (!identity_ || !identity_->ok()) reset();
  secrets_.erase(
      std::remove_if(secrets_.begin(), secrets_.end(), [&](auto& s) { return s.second <= now_ms; }),
      secrets_.end());
  if (secrets_.size() >= max_secrets) secrets_.erase(secrets_.begin());
  bytes ps = random_bytes(32);
  // The secret outlives the join token a little: the phone proves it right after /pair/join.
  secrets_.emplace_back(ps, expires_ms + 10 * 60 * 1000);
  return "&dk=" + b64u(identity_->public_point()) + "&ps=" + b64u(ps);
}

json e2ee_hub::frame(const std::string& device_id, const channel* ch, const char* kind) const {
  json f = {{"type", "e2ee"}, {"sessionID", sid_}, {"to", device_id}, {"v", 1}, {"k", kind}};
  if (ch) f["ch"] = ch->ch;
  return f;
}

json e2ee_hub::refusal(const std::string& device_id, const std::string& reason) const {
  auto it = channels_.find(device_id);
  json f = frame(device_id, it == channels_.end() ? nullptr : it->second.get(), "refused");
  f["reason"] = reason;
  return f;
}

e2ee_hub::outcome e2ee_hub::fail(const std::string& device_id, const std::string& reason,
                                 bool resync, const channel* ch, bool whole_device) {
  outcome o;
  o.refused = reason;
  o.resync = resync;
  json f = frame(device_id, ch, resync ? "resync" : "refused");
  f["reason"] = reason;
  o.to_phone.push_back(std::move(f));
  if (auto p = pending_.find(device_id);
      p != pending_.end() && (whole_device || p->second.get() == ch))
    pending_.erase(p);
  if (whole_device) channels_.erase(device_id);
  // The phone learns it from this one frame; whatever it sent before (records in flight,
  // a confirm) is stale and must not trigger a resync of the handshake it starts next.
  if (resyncing_.size() >= max_resyncing) resyncing_.erase(resyncing_.begin());
  resyncing_.insert(device_id);
  return o;
}

e2ee_hub::outcome e2ee_hub::stale_or_fail(const std::string& device_id) {
  if (resyncing_.count(device_id) == 0) return fail(device_id, "unexpected_message", true);
  outcome o;
  o.dropped = true;
  return o;
}

e2ee_hub::outcome e2ee_hub::on_frame(const std::string& device_id, const json& body,
                                     int64_t now_ms) {
  if (policy_ == e2ee_policy::off) return fail(device_id, "e2ee_disabled", false);
  if (!body.is_object() || body.value("v", 0) != 1 || !body.contains("k") || !body["k"].is_string())
    return fail(device_id, "malformed_handshake", false);
  const auto& k = body["k"].get_ref<const std::string&>();
  if (k == "hello") return on_hello(device_id, body, now_ms);
  if (k == "finish") return on_finish(device_id, body);
  if (k == "rec") return on_record(device_id, body);
  if (k == "resync") {  // the phone saw a bad record from us and starts a new handshake
    outcome o;
    o.resync = true;
    auto r = body.find("reason");
    o.refused = r != body.end() && r->is_string() ? r->get<std::string>() : "resync";
    if (o.refused.empty() || o.refused.size() > 64 ||
        o.refused.find_first_not_of("abcdefghijklmnopqrstuvwxyz_") != std::string::npos)
      o.refused = "resync";
    channels_.erase(device_id);
    pending_.erase(device_id);
    return o;
  }
  return fail(device_id, "malformed_handshake", false);
}

e2ee_hub::outcome e2ee_hub::on_hello(const std::string& device_id, const json& body,
                                     int64_t now_ms) {
  // A new handshake replaces any earlier one; the open channel stays until this one completes.
  auto eph_p = b64_field(body, "eph", 65);
  auto n_p = b64_field(body, "n", 32);
  if (!eph_p || !n_p || (*eph_p)[0] != 0x04)
    return fail(device_id, "malformed_handshake", false, nullptr, false);
  // A replay of the hello that opened (or is opening) this device's channel: answering it would
  // carry that channel's tag and disturb the phone, so it is named here and dropped.
  for (auto* m : {&channels_, &pending_})
    if (auto c = m->find(device_id); c != m->end() && c->second->n_p == *n_p) {
      outcome o;
      o.refused = "replayed_handshake";
      return o;
    }
  pending_.erase(device_id);
  resyncing_.erase(device_id);
  auto ch = std::make_shared<channel>();
  ch->n_p = *n_p;
  ch->ch = b64u(*n_p).substr(0, 12);
  if (body.contains("pk") || body.contains("mac")) {
    auto pk = b64_field(body, "pk", 65);
    auto mac = b64_field(body, "mac", 32);
    if (!pk || !mac) return fail(device_id, "malformed_handshake", false, ch.get(), false);
    auto input = pair_mac_input(*pk, identity_point(), sid_, device_id);
    bool ok = false;
    for (auto& [ps, exp] : secrets_) {
      bool match = exp > now_ms && hmac_verify(ps, *mac, input);  // constant-time compare
      if (match && !ok) ch->pairing_secret = ps;
      ok = ok || match;
    }
    if (!ok) {
      // Tagged with this hello's channel: a phone ignores refusals of hellos it did not send.
      auto o = fail(device_id, "pair_mac_mismatch", false, ch.get(), false);
      o.revoke = !is_pinned(device_id);
      return o;
    }
    ch->pk_p = *pk;
  } else {
    auto it = pinned_.find(device_id);
    if (it == pinned_.end()) return fail(device_id, "unknown_device_key", false, ch.get(), false);
    ch->pk_p = it->second;
  }
  if (pending_.size() >= max_channels ||
      (channels_.size() >= max_channels && !channels_.count(device_id)))
    return fail(device_id, "too_many_channels", false, ch.get(), false);
  ecdh_key eph;
  bytes n_d = random_bytes(32);
  auto secret = eph.derive(*eph_p);
  if (!eph.ok() || !secret) return fail(device_id, "malformed_handshake", false, ch.get(), false);
  ch->h = transcript_hash(
      {sid_, device_id, identity_point(), ch->pk_p, *eph_p, *n_p, eph.public_point(), n_d});
  auto keys = derive_keys(*secret, ch->h);
  ch->tx = std::make_unique<record_stream>(keys.d2p, record_prefix("d2p", sid_, device_id));
  ch->rx = std::make_unique<record_stream>(keys.p2d, record_prefix("p2d", sid_, device_id));
  auto sig = identity_->sign(signed_input("accept", ch->h));
  if (sig.size() != 64) return fail(device_id, "malformed_handshake", false, ch.get(), false);
  outcome o;
  json f = frame(device_id, ch.get(), "accept");
  f["eph"] = b64u(eph.public_point());
  f["n"] = b64u(n_d);
  f["sig"] = b64u(sig);
  o.to_phone.push_back(std::move(f));
  pending_[device_id] = std::move(ch);
  return o;  // `eph` and the ECDH secret die here (forward secrecy)
}

e2ee_hub::outcome e2ee_hub::on_finish(const std::string& device_id, const json& body) {
  auto it = pending_.find(device_id);
  if (it == pending_.end() || it->second->state != channel::st::awaiting_finish) {
    // The phone only finishes a handshake it started; with its channel open this finish is
    // injected (a replay): named, and the working channel is left alone.
    if (channels_.count(device_id) == 0) return stale_or_fail(device_id);
    outcome o;
    o.refused = "unexpected_message";
    return o;
  }
  auto& ch = *it->second;
  auto sig = b64_field(body, "sig", 64);
  if (!sig) return fail(device_id, "malformed_handshake", false, &ch, false);
  // A failed (e.g. replayed) handshake ends only itself: the open channel keeps working.
  if (!ecdsa_verify(ch.pk_p, *sig, signed_input("finish", ch.h)))
    return fail(device_id, "bad_finish_signature", false, &ch, false);
  outcome o;
  if (ch.pairing_secret) {  // QR proof + key possession: pin, burn the single-use secret
    pinned_[device_id] = ch.pk_p;
    secrets_.erase(std::remove_if(secrets_.begin(), secrets_.end(),
                                  [&](auto& s) { return s.first == *ch.pairing_secret; }),
                   secrets_.end());
    ch.pairing_secret.reset();
    o.changed = true;
  }
  ch.state = channel::st::awaiting_confirm;
  return o;
}

std::string e2ee_hub::rec_frame(const std::string& device_id, channel& ch,
                                const std::string& plaintext) {
  uint64_t c = 0;
  auto ct = ch.tx->seal(plaintext, c);
  json f = frame(device_id, &ch, "rec");
  f["c"] = c;
  // The ciphertext is spliced in: base64url needs no JSON escaping, and letting the serializer
  // scan up to ~1.4 MB per record cost more than the AEAD itself (bench/e2ee_bench.sh).
  std::string out = f.dump();
  out.pop_back();  // the closing '}'
  out += ",\"ct\":\"";
  out += b64u(ct);
  out += "\"}";
  return out;
}

e2ee_hub::outcome e2ee_hub::on_record(const std::string& device_id, const json& body) {
  // The confirm goes to the handshake awaiting it; every other record to the open channel.
  std::shared_ptr<channel> target;
  if (auto p = pending_.find(device_id);
      p != pending_.end() && p->second->state == channel::st::awaiting_confirm)
    target = p->second;
  else if (auto it = channels_.find(device_id); it != channels_.end())
    target = it->second;
  if (!target) return stale_or_fail(device_id);
  auto& ch = *target;
  auto c = body.find("c");
  auto ct = b64_field(body, "ct", 0);
  if (c == body.end() || !c->is_number_unsigned() || !ct)
    return fail(device_id, "malformed_record", true, &ch);
  reject why = reject::none;
  auto text = ch.rx->open(c->get<uint64_t>(), *ct, why, max_record_plaintext);
  if (!text) return fail(device_id, reject_name(why), true, &ch);
  outcome o;
  if (ch.state == channel::st::awaiting_confirm) {
    if (*text != confirm_text) return fail(device_id, "missing_confirm", true, &ch);
    ch.state = channel::st::open;
    o.to_phone.push_back(rc::proto::parse_untrusted(rec_frame(device_id, ch, confirm_text), 1024));
    o.established = true;
    o.safety = safety_code(identity_point(), ch.pk_p);
    channels_[device_id] = std::move(target);
    pending_.erase(device_id);
    return o;
  }
  o.app = std::move(*text);
  return o;
}

std::string e2ee_hub::plaintext_refusal(const std::string& device_id) const {
  if (policy_ == e2ee_policy::off) return {};
  if (policy_ == e2ee_policy::required) return "e2ee_required";
  return is_pinned(device_id) ? "downgrade_refused" : std::string();
}

std::vector<std::string> e2ee_hub::seal_all(const std::string& plaintext) {
  std::vector<std::string> out;
  for (auto& [dev, ch] : channels_) out.push_back(rec_frame(dev, *ch, plaintext));
  return out;
}

std::vector<std::string> e2ee_hub::seal_each(
    const std::function<std::string(const std::string&)>& plaintext_for) {
  std::vector<std::string> out;
  for (auto& [dev, ch] : channels_) out.push_back(rec_frame(dev, *ch, plaintext_for(dev)));
  return out;
}

std::size_t e2ee_hub::open_channels() const {
  return channels_.size();
}

bool e2ee_hub::plaintext_needed(std::size_t connected_devices) const {
  if (policy_ == e2ee_policy::off) return true;
  if (policy_ == e2ee_policy::required) return false;
  return connected_devices > open_channels();
}

bool e2ee_hub::forget_device(const std::string& device_id) {
  channels_.erase(device_id);
  pending_.erase(device_id);
  resyncing_.erase(device_id);
  return pinned_.erase(device_id) != 0;
}

}  // namespace rc::bridge
