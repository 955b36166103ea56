// Desktop E2EE hub against a phone composed of the same primitives: pairing proof, pinning only
// after the finish signature, named refusals (substituted key, replayed handshake, unknown
// device, downgrade) and the relay's outer-shape validator (protocol/e2ee_wire).
#define CAF_SUITE bridge_e2ee_hub
#include "caf/test/unit_test.hpp"

#include "desktop-bridge/e2ee_hub.hpp"
#include "protocol/e2ee_wire.hpp"

using namespace rc::bridge;
using namespace rc::bridge::e2ee;
using nlohmann::json;

namespace {
const std::string sid = "session-abcdefghijklmnop", did = "device-abcdefghijklmnop";

struct phone {
  std::shared_ptr<identity_key> idp = std::make_shared<identity_key>();
  const identity_key& id = *idp;
  ecdh_key eph;  // fresh per connection, like the nonce
  bytes n = random_bytes(32);
  phone() = default;
  explicit phone(std::shared_ptr<identity_key> same) : idp(std::move(same)) {}  // reconnect
  json hello(const bytes* ps, const bytes& dk) const {
    json h = {{"v", 1}, {"k", "hello"}, {"eph", b64u(eph.public_point())}, {"n", b64u(n)}};
    if (ps) {
      h["pk"] = b64u(id.public_point());
      h["mac"] = b64u(hmac_sha256(*ps, pair_mac_input(id.public_point(), dk, sid, did)));
    }
    return h;
  }
  // answers an accept: finish + confirm; returns the p2d stream for later records
  std::unique_ptr<record_stream> finish(const json& accept, const bytes& dk,
                                        std::vector<json>& out) const {
    auto eph_d = *unb64u(accept["eph"].get<std::string>());
    auto n_d = *unb64u(accept["n"].get<std::string>());
    auto h = transcript_hash({sid, did, dk, id.public_point(), eph.public_point(), n, eph_d, n_d});
    CAF_CHECK(
        ecdsa_verify(dk, *unb64u(accept["sig"].get<std::string>()), signed_input("accept", h)));
    auto keys = derive_keys(*eph.derive(eph_d), h);
    auto tx = std::make_unique<record_stream>(keys.p2d, record_prefix("p2d", sid, did));
    out.push_back({{"v", 1}, {"k", "finish"}, {"sig", b64u(id.sign(signed_input("finish", h)))}});
    out.push_back(rec(*tx, "{\"t\":\"confirm\"}"));
    return tx;
  }
  static json rec(record_stream& tx, const std::string& text) {
    uint64_t c = 0;
    auto ct = tx.seal(text, c);
    return {{"v", 1}, {"k", "rec"}, {"c", c}, {"ct", b64u(ct)}};
  }
};

bytes ps_of(const std::string& fragment) {
  auto at = fragment.find("&ps=");
  return *unb64u(fragment.substr(at + 4));
}
// A fresh hub for the session with one join link shown: its pairing secret and identity point.
struct desk {
  e2ee_hub hub;
  bytes ps, dk;
  desk() {
    hub.reset();
    hub.set_session(sid);
    ps = ps_of(hub.join_fragment(2'000'000, 1'000'000));
    dk = hub.identity_point();
  }
};
}  // namespace

CAF_TEST(pairing_pins_after_finish_and_records_flow) {
  e2ee_hub hub;
  hub.reset();
  hub.set_session(sid);
  auto frag = hub.join_fragment(2'000'000, 1'000'000);
  auto ps = ps_of(frag);
  auto dk = hub.identity_point();
  phone p;
  auto o = hub.on_frame(did, p.hello(&ps, dk), 1'000'000);
  CAF_REQUIRE(o.refused.empty() && o.to_phone.size() == 1);
  CAF_CHECK(!hub.is_pinned(did));  // not before the finish signature
  std::vector<json> msgs;
  auto tx = p.finish(o.to_phone[0], dk, msgs);
  auto f = hub.on_frame(did, msgs[0], 1'000'000);
  CAF_CHECK(f.changed && hub.is_pinned(did));
  auto c = hub.on_frame(did, msgs[1], 1'000'000);
  CAF_CHECK(c.established);
  CAF_CHECK_EQUAL(c.safety, safety_code(dk, p.id.public_point()));
  CAF_CHECK_EQUAL(hub.open_channels(), 1u);
  auto app = hub.on_frame(did, phone::rec(*tx, "{\"x\":1}"), 1'000'000);
  CAF_REQUIRE(app.app);
  CAF_CHECK_EQUAL(*app.app, "{\"x\":1}");
  CAF_CHECK_EQUAL(hub.seal_all("{\"y\":2}").size(), 1u);
  // the largest app envelope the broker seals still fits the relay's 64 KiB frame limit
  auto big = hub.seal_all(std::string(e2ee_hub::max_sealed_app_bytes, 'x'));
  CAF_REQUIRE_EQUAL(big.size(), 1u);
  CAF_CHECK_LESS(big[0].size() + 2 * 64, 65536u);  // + room for 64 more chars of each id
  CAF_CHECK_GREATER(big[0].size(), 64000u);
  CAF_CHECK(!hub.plaintext_needed(1));  // required: never plaintext
  CAF_CHECK_EQUAL(hub.plaintext_refusal(did), "e2ee_required");
  // the secret was single use: a second pairing with it fails
  phone q;
  auto again = hub.on_frame("device-other-abcdefghij", q.hello(&ps, dk), 1'000'000);
  CAF_CHECK_EQUAL(again.refused, "pair_mac_mismatch");
  CAF_CHECK(again.revoke);
  // replayed record → named, channel gone
  auto replay = hub.on_frame(did, phone::rec(*tx, "{\"x\":1}"), 1'000'000);
  CAF_CHECK(replay.app);
  json old = phone::rec(*tx, "z");
  hub.on_frame(did, old, 1'000'000);
  auto r = hub.on_frame(did, old, 1'000'000);
  CAF_CHECK_EQUAL(r.refused, "replayed_record");
  CAF_CHECK_EQUAL(r.to_phone.at(0)["k"], "resync");
  CAF_CHECK_EQUAL(hub.open_channels(), 0u);
  // persisted state round-trips; revoke forgets the pin
  std::string idb;
  std::map<std::string, std::string> pins;
  std::vector<std::pair<std::string, int64_t>> secrets;
  hub.store(idb, pins, secrets);
  e2ee_hub restored;
  CAF_CHECK(restored.load(idb, pins, secrets));
  CAF_CHECK(restored.is_pinned(did) && restored.identity_point() == dk);
  CAF_CHECK(restored.forget_device(did) && !restored.is_pinned(did));
}

CAF_TEST(substituted_keys_replayed_handshake_unknown_device) {
  desk d;
  auto& hub = d.hub;
  auto &ps = d.ps, &dk = d.dk;
  phone p, mitm;
  json h = p.hello(&ps, dk);
  h["pk"] = b64u(mitm.id.public_point());  // relay substitutes the phone's key
  CAF_CHECK_EQUAL(hub.on_frame(did, h, 1'000'000).refused, "pair_mac_mismatch");
  // pair properly, then replay that connection's finish on a new connection
  auto o = hub.on_frame(did, p.hello(&ps, dk), 1'000'000);
  std::vector<json> msgs;
  p.finish(o.to_phone[0], dk, msgs);
  hub.on_frame(did, msgs[0], 1'000'000);
  hub.on_frame(did, msgs[1], 1'000'000);
  CAF_REQUIRE(hub.is_pinned(did));
  // the hello of the open channel replayed: named, unanswered (its tag is the live channel's)
  auto o2 = hub.on_frame(did, p.hello(nullptr, dk), 1'000'000);
  CAF_CHECK_EQUAL(o2.refused, "replayed_handshake");
  CAF_CHECK(o2.to_phone.empty());
  auto f2 = hub.on_frame(did, msgs[0], 1'000'000);  // and its finish: named, channel kept
  CAF_CHECK_EQUAL(f2.refused, "unexpected_message");
  CAF_CHECK(f2.to_phone.empty());
  CAF_CHECK_EQUAL(hub.open_channels(), 1u);
  // an older handshake replayed after a newer one: fresh desktop nonce → new H → bad signature
  phone p2(p.idp);
  auto o3 = hub.on_frame(did, p2.hello(nullptr, dk), 1'000'000);
  CAF_REQUIRE_EQUAL(o3.to_phone.size(), 1u);
  std::vector<json> msgs2;
  p2.finish(o3.to_phone[0], dk, msgs2);
  hub.on_frame(did, msgs2[0], 1'000'000);
  CAF_CHECK(hub.on_frame(did, msgs2[1], 1'000'000).established);
  auto o4 = hub.on_frame(did, p.hello(nullptr, dk), 1'000'000);
  CAF_REQUIRE_EQUAL(o4.to_phone.size(), 1u);
  CAF_CHECK(o4.to_phone[0]["n"] != o.to_phone[0]["n"]);
  CAF_CHECK_EQUAL(hub.on_frame(did, msgs[0], 1'000'000).refused, "bad_finish_signature");
  CAF_CHECK_EQUAL(hub.on_frame("device-unknown-abcdefgh", p.hello(nullptr, dk), 1'000'000).refused,
                  "unknown_device_key");
  hub.set_policy(e2ee_policy::preferred);
  CAF_CHECK_EQUAL(hub.plaintext_refusal(did), "downgrade_refused");
  CAF_CHECK_EQUAL(hub.plaintext_refusal("device-unknown-abcdefgh"), "");
  CAF_CHECK(!hub.plaintext_needed(1));  // the one connected phone has its channel
  CAF_CHECK(hub.plaintext_needed(2));   // a second, plaintext phone gets copies
  hub.set_policy(e2ee_policy::off);
  CAF_CHECK(hub.join_fragment(2'000'000, 1'000'000).empty());
  CAF_CHECK_EQUAL(hub.on_frame(did, p.hello(nullptr, dk), 1'000'000).refused, "e2ee_disabled");
}

// The malicious-relay test's record attacks (tests/bridge/mitm.mjs): after a named resync the
// phone's records still in flight are dropped without a second resync (which would tear down the
// handshake the phone starts next), and an injected old handshake ends only itself.
CAF_TEST(resync_drops_stale_frames_and_injected_handshake_keeps_channel) {
  desk d;
  auto& hub = d.hub;
  auto &ps = d.ps, &dk = d.dk;
  auto connect = [&](const phone& p, const bytes* proof) {
    auto acc = hub.on_frame(did, p.hello(proof, dk), 1'000'000);
    CAF_REQUIRE_EQUAL(acc.to_phone.size(), 1u);
    std::vector<json> msgs;
    auto tx = p.finish(acc.to_phone[0], dk, msgs);
    CAF_CHECK(hub.on_frame(did, msgs[0], 1'000'000).refused.empty());
    CAF_CHECK(hub.on_frame(did, msgs[1], 1'000'000).established);
    return std::make_pair(std::move(tx), msgs);
  };
  phone p1;
  auto [tx1, hs1] = connect(p1, &ps);
  json a = phone::rec(*tx1, "{\"a\":1}"), b = phone::rec(*tx1, "{\"b\":2}");
  CAF_CHECK(hub.on_frame(did, a, 1'000'000).app);
  auto r = hub.on_frame(did, a, 1'000'000);  // replayed by the relay
  CAF_CHECK_EQUAL(r.refused, "replayed_record");
  CAF_REQUIRE_EQUAL(r.to_phone.size(), 1u);
  CAF_CHECK_EQUAL(r.to_phone[0]["k"], "resync");
  CAF_CHECK(r.to_phone[0].contains("ch"));       // names the handshake it ends
  auto stale = hub.on_frame(did, b, 1'000'000);  // sent before the phone saw the resync
  CAF_CHECK(stale.dropped && stale.refused.empty() && stale.to_phone.empty() && !stale.app);
  // the phone's next handshake completes and carries records again
  phone p2(p1.idp);
  auto [tx2, hs2] = connect(p2, nullptr);
  CAF_CHECK_EQUAL(hub.open_channels(), 1u);
  // the open channel's own handshake replayed: named, unanswered, channel kept
  auto cur = hub.on_frame(did, p2.hello(nullptr, dk), 1'000'000);
  CAF_CHECK_EQUAL(cur.refused, "replayed_handshake");
  CAF_CHECK(cur.to_phone.empty());
  CAF_CHECK(hub.on_frame(did, hs2[0], 1'000'000).to_phone.empty());
  // the pairing hello replayed: its secret is burned; named, tagged, the pin is kept
  auto pair_again = hub.on_frame(did, p1.hello(&ps, dk), 1'000'000);
  CAF_CHECK_EQUAL(pair_again.refused, "pair_mac_mismatch");
  CAF_CHECK(!pair_again.revoke && pair_again.to_phone.at(0).contains("ch"));
  CAF_CHECK_EQUAL(hub.open_channels(), 1u);
  auto [tx3, hs3] = connect(phone(p1.idp), nullptr);
  // an older handshake replayed: answered with a fresh nonce, so its finish cannot verify
  auto inj = hub.on_frame(did, p2.hello(nullptr, dk), 1'000'000);
  CAF_REQUIRE_EQUAL(inj.to_phone.size(), 1u);
  CAF_CHECK_EQUAL(inj.to_phone[0]["k"], "accept");
  auto bad = hub.on_frame(did, hs2[0], 1'000'000);
  CAF_CHECK_EQUAL(bad.refused, "bad_finish_signature");
  CAF_CHECK_EQUAL(bad.to_phone.at(0)["ch"], inj.to_phone[0]["ch"]);
  CAF_CHECK_EQUAL(hub.open_channels(), 1u);
  auto still = hub.on_frame(did, phone::rec(*tx3, "{\"c\":3}"), 1'000'000);
  CAF_REQUIRE(still.app);
  CAF_CHECK_EQUAL(*still.app, "{\"c\":3}");
  // with no channel and no resync pending, a record is answered with a named resync
  hub.drop_channels();
  CAF_CHECK_EQUAL(hub.on_frame(did, phone::rec(*tx3, "{}"), 1'000'000).refused,
                  "unexpected_message");
  CAF_CHECK(hub.on_frame(did, phone::rec(*tx3, "{}"), 1'000'000).dropped);
}

CAF_TEST(relay_outer_shape_validator) {
  using rc::proto::validate_e2ee_envelope;
  phone p;
  json env = {{"schemaVersion", 2},
              {"sessionID", sid},
              {"seq", 5},
              {"timestamp", "t"},
              {"payload", {{"type", "e2ee"}, {"payload", p.hello(nullptr, p.id.public_point())}}}};
  uint64_t seq = 0;
  CAF_CHECK(rc::proto::is_e2ee_envelope(env));
  CAF_CHECK(validate_e2ee_envelope(env, seq, 16384).ok());
  CAF_CHECK_EQUAL(seq, 5u);
  auto bad = [&](auto mutate) {
    json e = env;
    mutate(e);
    uint64_t s = 0;
    return !validate_e2ee_envelope(e, s, 16384).ok();
  };
  CAF_CHECK(bad([](json& e) { e["extra"] = 1; }));
  CAF_CHECK(bad([](json& e) { e["payload"]["payload"]["name"] = "thread.send_message"; }));
  CAF_CHECK(bad([](json& e) { e["payload"]["payload"]["eph"] = "short"; }));
  CAF_CHECK(bad([](json& e) { e["payload"]["payload"]["n"] = std::string(43, '+'); }));
  CAF_CHECK(bad([](json& e) { e["payload"]["payload"]["v"] = 2; }));
  CAF_CHECK(bad([](json& e) { e["payload"]["payload"]["k"] = "accept"; }));
  CAF_CHECK(bad([](json& e) { e["payload"]["payload"]["pk"] = std::string(87, 'A'); }));  // no mac
  CAF_CHECK(bad([](json& e) { e.erase("seq"); }));
  CAF_CHECK(bad([](json& e) { e["seq"] = -1; }));
  CAF_CHECK(bad([](json& e) {
    e["payload"]["payload"] = {{"v", 1}, {"k", "rec"}, {"c", -1}, {"ct", std::string(24, 'A')}};
  }));
  CAF_CHECK(bad([](json& e) {
    e["payload"]["payload"] = {{"v", 1}, {"k", "rec"}, {"c", 0}, {"ct", std::string(60000, 'A')}};
  }));
  CAF_CHECK(bad([](json& e) {
    e["payload"]["payload"] = {{"v", 1}, {"k", "resync"}, {"reason", "Bad Reason!"}};
  }));
  CAF_CHECK(!bad([](json& e) {
    e["payload"]["payload"] = {{"v", 1}, {"k", "rec"}, {"c", 3}, {"ct", std::string(24, 'A')}};
  }));
  CAF_CHECK(!bad([](json& e) {
    e["payload"]["payload"] = {{"v", 1}, {"k", "resync"}, {"reason", "record_gap"}};
  }));
}
