// Pure bridge logic: security primitives, trackers, snapshot bounds, ack cache, state file.
#define CAF_SUITE bridge_model
#include "caf/test/unit_test.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "desktop-bridge/model.hpp"
#include "desktop-bridge/state_file.hpp"
#include "protocol/time.hpp"

using namespace rc::bridge;
using rc::proto::sequence_tracker;

namespace {

/// Runtime double: records calls, answers from configurable results.
struct fake_runtime : runtime {
  int turns = 0;
  int responds = 0;
  op_result turn_result = op_result::success();
  op_result respond_result = op_result::success();
  std::vector<turn_request> seen;
  std::string name() const override { return "fake"; }
  void start(event_sink) override {}
  void stop() override {}
  op_result start_turn(const turn_request& r) override {
    ++turns;
    seen.push_back(r);
    return turn_result;
  }
  void interrupt(const std::string&) override {}
  op_result respond(uint64_t, const runtime_response&) override {
    ++responds;
    return respond_result;
  }
};

const std::string P1 = "11111111-1111-4111-8111-111111111111";
const std::string T1 = "22222222-2222-4222-8222-222222222221";
const std::string T2 = "22222222-2222-4222-8222-222222222222";

model make_model() {
  model m;
  m.apply(ev_status{true, ""});
  m.apply(ev_project{{P1, "General"}});
  m.apply(ev_thread{{T1, P1, "One", false, false}});
  m.apply(ev_thread{{T2, P1, "Two", false, false}});
  return m;
}

json send_cmd(const std::string& id, const std::string& thread, const std::string& text) {
  return {{"name", "thread.send_message"}, {"commandID", id}, {"threadID", thread}, {"text", text}};
}

}  // namespace

CAF_TEST(tracker accepts consecutive and reports gaps and stale) {  // SCENARIOS 92-94
  sequence_tracker t;
  CAF_CHECK(t.ingest(10).r == sequence_tracker::result::accepted);
  CAF_CHECK(t.ingest(11).r == sequence_tracker::result::accepted);
  CAF_CHECK_EQUAL(t.last().value_or(0), 11u);
  sequence_tracker g;
  g.ingest(20);
  auto o = g.ingest(24);
  CAF_CHECK(o.r == sequence_tracker::result::gap);
  CAF_CHECK_EQUAL(o.expected, 21u);
  CAF_CHECK_EQUAL(g.last().value_or(0), 20u);
  sequence_tracker s;
  s.ingest(100);
  CAF_CHECK(s.ingest(99).r == sequence_tracker::result::stale);
  auto st = s.ingest(100);
  CAF_CHECK(st.r == sequence_tracker::result::stale);
  CAF_CHECK_EQUAL(st.expected, 101u);
}

CAF_TEST(tracker set keeps at most 24 connections and evicts the oldest) {
  tracker_set ts;
  for (int i = 0; i < 30; ++i) ts.get("conn-" + std::to_string(i)).ingest(1);
  CAF_CHECK_EQUAL(ts.size(), 24u);
  CAF_CHECK(!ts.contains("conn-0"));
  CAF_CHECK(!ts.contains("conn-5"));
  CAF_CHECK(ts.contains("conn-6"));
  CAF_CHECK(ts.contains("conn-29"));
  ts.clear();
  CAF_CHECK_EQUAL(ts.size(), 0u);
}

CAF_TEST(join lease usable until expiry and single use) {  // SCENARIOS 89
  int64_t t0 = 1'700'000'000'000;
  auto l = join_lease::make(t0, 120);
  CAF_CHECK(l.usable(t0 + 119'000));
  CAF_CHECK(!l.usable(t0 + 120'000));
  CAF_CHECK(l.expired(t0 + 120'000));
  auto tok = l.token.reveal();
  CAF_CHECK(!l.consume(tok + "x", t0));
  CAF_CHECK(l.consume(tok, t0 + 1000));
  CAF_CHECK(!l.usable(t0 + 2000));
  CAF_CHECK(!l.consume(tok, t0 + 2000));
  auto short_ttl = join_lease::make(t0, 1);  // minimum 10 s
  CAF_CHECK(short_ttl.usable(t0 + 9'999));
  CAF_CHECK(!short_ttl.usable(t0 + 10'000));
}

CAF_TEST(descriptor join url carries sid jt and relay origin) {  // SCENARIOS 90
  auto d = session_descriptor::make("https://remote.example/rc?x=1#frag", "wss://relay.codexchat.example/ws",
                                    rc::proto::now_ms());
  CAF_CHECK_EQUAL(d.join_url.rfind("https://remote.example/rc#sid=" + d.session_id + "&jt=", 0), 0u);
  CAF_CHECK(d.join_url.find("&relay=https://relay.codexchat.example") != std::string::npos);
  CAF_CHECK(d.join_url.find('?') == std::string::npos);
  CAF_CHECK_EQUAL(d.session_id.size(), 22u);
  CAF_CHECK_EQUAL(d.lease.token.reveal().size(), 43u);
  CAF_CHECK_EQUAL(d.desktop_token.reveal().size(), 43u);
  CAF_CHECK(d.desktop_token.reveal() != d.lease.token.reveal());
  auto sid = d.session_id;
  auto dt = d.desktop_token.reveal();
  auto old = d.join_url;
  d.rotate_join_token("https://remote.example/rc", rc::proto::now_ms());  // SCENARIOS 98
  CAF_CHECK_EQUAL(d.session_id, sid);
  CAF_CHECK_EQUAL(d.desktop_token.reveal(), dt);
  CAF_CHECK(d.join_url != old);
  CAF_CHECK_EQUAL(build_join_url("http://localhost:4173", "S", "J", "ws://127.0.0.1:8787/ws"),
                  "http://localhost:4173/#sid=S&jt=J&relay=http://127.0.0.1:8787");
  CAF_CHECK_EQUAL(strip_token_query("ws://h/ws?token=abc&x=1"), "ws://h/ws?x=1");
  CAF_CHECK_EQUAL(relay_http_url("wss://relay.example/ws", "/pair/start"), "https://relay.example/pair/start");
}

CAF_TEST(constant time equality) {  // SCENARIOS 91
  CAF_CHECK(rc::proto::constant_time_equal("abcdef", "abcdef"));
  CAF_CHECK(!rc::proto::constant_time_equal("abcdef", "abcdeg"));
  CAF_CHECK(!rc::proto::constant_time_equal("abcdef", "abcde"));
}

CAF_TEST(session invalidation rules) {
  CAF_CHECK(http_invalidates_session(404, "{\"error\":\"session_not_found\"}"));
  CAF_CHECK(http_invalidates_session(403, ""));
  CAF_CHECK(http_invalidates_session(410, ""));
  CAF_CHECK(http_invalidates_session(409, "session_already_active"));
  CAF_CHECK(!http_invalidates_session(409, "pair_request_in_progress"));
  CAF_CHECK(!http_invalidates_session(500, "oops"));
  CAF_CHECK(!http_invalidates_session(429, "rate_limited"));
  CAF_CHECK(disconnect_invalidates_session("session_expired"));
  CAF_CHECK(disconnect_invalidates_session("stopped_by_desktop"));
  CAF_CHECK(!disconnect_invalidates_session("desktop_reconnected"));
  CAF_CHECK(!disconnect_invalidates_session("heartbeat_timeout"));
}

CAF_TEST(snapshot truncates text at 2000 bytes with an ellipsis at a character boundary) {
  auto m = make_model();
  std::string big;
  for (int i = 0; i < 1500; ++i) big += "\xC3\xA9";  // 3000 bytes of 2-byte characters
  m.apply(ev_message{{"M1", T1, "assistant", big, 1000}});
  auto s = m.snapshot(false);
  auto text = s["messages"][0]["text"].get<std::string>();
  CAF_CHECK_LESS_OR_EQUAL(text.size(), 2000u);
  CAF_CHECK_EQUAL(text.substr(text.size() - 3), "...");
  CAF_CHECK_EQUAL((text.size() - 3) % 2, 0u);  // no split character
}

CAF_TEST(snapshot bounds messages budget windows and sync threads) {
  model m;
  m.apply(ev_status{true, ""});
  m.apply(ev_project{{P1, "General"}});
  for (int t = 0; t < 15; ++t)
    m.apply(ev_thread{{"T" + std::to_string(100 + t), P1, "thread", false, false}});
  // selected thread T100: 200 messages; others 30 each
  for (int t = 0; t < 15; ++t)
    for (int i = 0; i < (t == 0 ? 200 : 30); ++i)
      m.apply(ev_message{{"M" + std::to_string(t) + "-" + std::to_string(i), "T" + std::to_string(100 + t), "user", "x", 1}});
  auto sync = m.sync_threads();
  CAF_CHECK_EQUAL(sync.size(), 12u);
  CAF_CHECK_EQUAL(sync.front(), "T100");
  auto s = m.snapshot(false);
  CAF_CHECK_EQUAL(s["messages"].size(), 120u);  // 160 window capped at 120 total
  CAF_CHECK_EQUAL(s["messages"][0]["id"], "M0-40");  // last 160 of 200
  CAF_CHECK_EQUAL(s["threads"].size(), 15u);    // lists are not bounded

  // a running thread and a thread with a pending request come right after the selected one
  m.apply(ev_turn{"T113", true});
  runtime_request_info r;
  r.id = 7;
  r.kind = "approval";
  r.thread_id = "T110";
  m.apply(ev_request{r});
  sync = m.sync_threads();
  CAF_CHECK_EQUAL(sync[1], "T113");
  CAF_CHECK_EQUAL(sync[2], "T110");

  // text budget: 25 messages of 2000 bytes → 40 000 bytes stop the snapshot at 20
  model b;
  b.apply(ev_thread{{T1, P1, "One", false, false}});
  for (int i = 0; i < 25; ++i) b.apply(ev_message{{"B" + std::to_string(i), T1, "assistant", std::string(2000, 'a'), 1}});
  auto sb = b.snapshot(false);
  CAF_CHECK_EQUAL(sb["messages"].size(), 20u);
  // other threads: window of 24
  model c;
  c.apply(ev_thread{{T1, P1, "One", false, false}});
  c.apply(ev_thread{{T2, P1, "Two", false, false}});
  for (int i = 0; i < 40; ++i) c.apply(ev_message{{"C" + std::to_string(i), T2, "user", "y", 1}});
  CAF_CHECK_EQUAL(c.snapshot(false)["messages"].size(), 24u);
}

CAF_TEST(runtime requests hidden from snapshots while approvals are off) {
  auto m = make_model();
  runtime_request_info r;
  r.id = 3;
  r.kind = "approval";
  r.thread_id = T1;
  m.apply(ev_request{r});
  CAF_CHECK_EQUAL(m.snapshot(false)["pendingRuntimeRequests"].size(), 0u);
  auto on = m.snapshot(true);
  CAF_CHECK_EQUAL(on["pendingRuntimeRequests"].size(), 1u);
  CAF_CHECK_EQUAL(on["pendingRuntimeRequests"][0]["requestID"], "3");
}

CAF_TEST(delta events append once and report turn status) {
  auto m = make_model();
  m.record_baselines();
  m.apply(ev_turn{T1, true});
  m.apply(ev_message_delta{T1, "A1", "Hel"});
  auto ev = m.collect_events(false);
  CAF_REQUIRE_EQUAL(ev.size(), 2u);
  CAF_CHECK_EQUAL(ev[0]["name"], "thread.message.append");
  CAF_CHECK_EQUAL(ev[0]["messageID"], "A1");
  CAF_CHECK_EQUAL(ev[1]["name"], "turn.status.update");
  CAF_CHECK_EQUAL(ev[1]["body"], "running");
  m.apply(ev_message_delta{T1, "A1", "lo"});
  m.apply(ev_turn{T1, false});
  ev = m.collect_events(false);
  CAF_REQUIRE_EQUAL(ev.size(), 1u);  // streaming growth arrives only via snapshots
  CAF_CHECK_EQUAL(ev[0]["body"], "idle");
}

CAF_TEST(accepted command is executed once and replayed from the ack cache) {  // SCENARIOS 100 104
  auto m = make_model();
  fake_runtime rt;
  command_processor cp;
  auto a = cp.process(send_cmd("cmd-1", T1, " Ship it "), 11, false, m, &rt, false);
  CAF_REQUIRE(a.ack);
  CAF_CHECK(a.accepted && a.applied);
  CAF_CHECK_EQUAL((*a.ack)["commandSeq"], 11u);
  CAF_CHECK_EQUAL((*a.ack)["threadID"], T1);
  CAF_CHECK_EQUAL(rt.turns, 1);
  CAF_CHECK_EQUAL(rt.seen[0].text, "Ship it");
  // user message already in the snapshot that follows the ack
  auto s = m.snapshot(false);
  bool found = false;
  for (auto& x : s["messages"]) found |= x["text"] == "Ship it" && x["role"] == "user";
  CAF_CHECK(found);
  // same command via another connection with seq 42 → identical ack, not re-applied
  auto b = cp.process(send_cmd("cmd-1", T1, " Ship it "), 42, false, m, &rt, false);
  CAF_CHECK(b.replay && !b.applied);
  CAF_CHECK_EQUAL(*b.ack, *a.ack);
  CAF_CHECK_EQUAL(rt.turns, 1);
  // trimmed commandID is the same identity
  auto c = cp.process(send_cmd(" cmd-1 ", T1, " Ship it "), 43, true, m, &rt, false);
  CAF_CHECK(c.replay);
  CAF_CHECK_EQUAL(rt.turns, 1);
}

CAF_TEST(reused command id with another shape is evaluated afresh) {  // SCENARIOS 105
  auto m = make_model();
  fake_runtime rt;
  command_processor cp;
  cp.process(send_cmd("cmd-2", T1, "hi"), 17, false, m, &rt, false);
  auto r = cp.process(send_cmd("cmd-2", "UNKNOWN-THREAD", "hi"), 18, false, m, &rt, false);
  CAF_CHECK(!r.replay);
  CAF_CHECK_EQUAL((*r.ack)["status"], "rejected");
  CAF_CHECK_EQUAL((*r.ack)["reason"], "unknown_thread");
  CAF_CHECK_EQUAL((*r.ack)["commandSeq"], 18u);
}

CAF_TEST(blank command id and stale commands are never applied) {  // SCENARIOS 106 107
  auto m = make_model();
  fake_runtime rt;
  command_processor cp;
  auto a = cp.process(send_cmd("   ", T1, "hi"), 5, false, m, &rt, false);
  CAF_CHECK_EQUAL((*a.ack)["reason"], "command_id_required");
  auto b = cp.process(send_cmd("   ", T1, "hi"), 5, true, m, &rt, false);
  CAF_CHECK_EQUAL(*a.ack, *b.ack);
  CAF_CHECK_EQUAL(rt.turns, 0);
  auto s = cp.process(send_cmd("never-seen", T1, "hi"), 3, true, m, &rt, false);
  CAF_CHECK(!s.ack);  // stale and unknown: dropped, not applied
  CAF_CHECK_EQUAL(rt.turns, 0);
  // malformed twice with the same seq → identical rejections
  auto x = cp.process(send_cmd("cmd-x", T1, "   "), 9, false, m, &rt, false);
  auto y = cp.process(send_cmd("cmd-x", T1, "   "), 9, true, m, &rt, false);
  CAF_CHECK_EQUAL((*x.ack)["reason"], "empty_message");
  CAF_CHECK_EQUAL(*x.ack, *y.ack);
  CAF_CHECK(!x.accepted);
}

CAF_TEST(ack cache keeps the last 256 identities) {
  ack_cache c;
  for (int i = 0; i < 300; ++i) c.put("id" + std::to_string(i), json{{"n", i}});
  CAF_CHECK_EQUAL(c.size(), 256u);
  CAF_CHECK(c.find("id0") == nullptr);
  CAF_CHECK(c.find("id43") == nullptr);
  CAF_CHECK(c.find("id44") != nullptr);
}

CAF_TEST(send message rejections) {  // SCENARIOS 103 and §5.2
  auto m = make_model();
  fake_runtime rt;
  command_processor cp;
  m.set_running(T1, true);
  auto busy = cp.process(send_cmd("b1", T1, "hi"), 1, false, m, &rt, false);
  CAF_CHECK_EQUAL((*busy.ack)["reason"], "desktop_busy");
  CAF_CHECK_EQUAL((*busy.ack)["threadID"], T1);
  CAF_CHECK_EQUAL(rt.turns, 0);
  auto empty = cp.process(send_cmd("b2", T2, "  "), 2, false, m, &rt, false);
  CAF_CHECK_EQUAL((*empty.ack)["reason"], "empty_message");
  m.apply(ev_status{false, ""});
  auto off = cp.process(send_cmd("b3", T2, "hi"), 3, false, m, &rt, false);
  CAF_CHECK_EQUAL((*off.ack)["reason"], "desktop_offline");
  auto sel = cp.process(json{{"name", "project.select"}, {"commandID", "p1"}, {"projectID", "NOPE"}}, 4, false, m, &rt, false);
  CAF_CHECK_EQUAL((*sel.ack)["reason"], "unknown_project");
  auto ts = cp.process(json{{"name", "thread.select"}, {"commandID", "t1"}, {"threadID", "bad id!"}}, 5, false, m, &rt, false);
  CAF_CHECK_EQUAL((*ts.ack)["reason"], "invalid_thread");
}

CAF_TEST(runtime request responses) {  // SCENARIOS 108 and approvals OFF
  auto m = make_model();
  fake_runtime rt;
  command_processor cp;
  runtime_request_info r;
  r.id = 42;
  r.kind = "approval";
  r.thread_id = T1;
  r.title = "Run";
  r.summary = "ls";
  m.apply(ev_request{r});
  auto respond = [&](const std::string& id, json extra) {
    json c = {{"name", "runtime_request.respond"}, {"commandID", id}, {"runtimeRequestKind", "approval"}};
    for (auto& [k, v] : extra.items()) c[k] = v;
    return c;
  };
  json accept = {{"runtimeRequestID", "42"}, {"runtimeRequestResponse", {{"decision", "accept"}, {"optionID", "accept"}}}};
  auto off = cp.process(respond("r0", accept), 1, false, m, &rt, false);
  CAF_CHECK_EQUAL((*off.ack)["reason"], "remote_runtime_requests_disabled");
  CAF_CHECK_EQUAL(rt.responds, 0);
  auto missing = cp.process(respond("r1", json::object()), 2, false, m, &rt, true);
  CAF_CHECK_EQUAL((*missing.ack)["reason"], "runtime_request_required");
  auto unknown = cp.process(respond("r2", {{"runtimeRequestID", "7"}, {"runtimeRequestResponse", {{"decision", "decline"}}}}), 3, false, m, &rt, true);
  CAF_CHECK_EQUAL((*unknown.ack)["reason"], "unknown_runtime_request");
  auto nonint = cp.process(respond("r3", {{"runtimeRequestID", "abc"}}), 4, false, m, &rt, true);
  CAF_CHECK_EQUAL((*nonint.ack)["reason"], "invalid_runtime_request");
  for (auto alias : {"approve", "approve-once", "approve-session", "approveforsession", "reject", "acceptForSession"}) {
    auto interp = interpret_response(r, json{{"decision", alias}});
    CAF_CHECK(interp.has_value());
  }
  CAF_CHECK(!interpret_response(r, json{{"decision", "maybe"}}).has_value());
  runtime_request_info dyn;
  dyn.id = 1;
  dyn.kind = "dynamicToolCall";
  CAF_CHECK(!interpret_response(dyn, json::object()).has_value());
  auto typed = interpret_response(dyn, json{{"optionID", "approve"}, {"text", " 42 "}});
  CAF_REQUIRE(typed.has_value());
  CAF_CHECK(typed->approved);
  CAF_CHECK_EQUAL(typed->text.value_or(""), "42");
  auto declined = interpret_response(dyn, json{{"optionID", "decline"}, {"text", "x"}});
  CAF_REQUIRE(declined.has_value());
  CAF_CHECK(!declined->approved);
  rt.respond_result = op_result::fail("runtime_request_failed");
  auto failed = cp.process(respond("r4", accept), 5, false, m, &rt, true);
  CAF_CHECK_EQUAL((*failed.ack)["reason"], "runtime_request_failed");
  rt.respond_result = op_result::success();
  auto ok = cp.process(respond("r5", accept), 6, false, m, &rt, true);
  CAF_CHECK_EQUAL((*ok.ack)["status"], "accepted");
  CAF_CHECK_EQUAL(ok.before_ack.size(), 1u);
  CAF_CHECK_EQUAL(ok.before_ack[0]["name"], "runtime_request.responded");
  CAF_CHECK(m.find_request(42) == nullptr);
}

CAF_TEST(state file round trips with mode 0600 and an invalid file is purged) {  // SCENARIOS 114
  char dir[] = "/tmp/rc-bridge-test-XXXXXX";
  CAF_REQUIRE(::mkdtemp(dir) != nullptr);
  std::string path = std::string(dir) + "/sub/state.json";
  saved_state s;
  s.descriptor = session_descriptor::make("http://localhost:4173/", "ws://127.0.0.1:8787/ws", rc::proto::now_ms());
  s.devices.push_back({"DEVICE-123456", "Phone", false, "", ""});
  s.approvals_enabled = true;
  CAF_REQUIRE(save_state(path, s));
  struct stat st{};
  CAF_REQUIRE_EQUAL(::stat(path.c_str(), &st), 0);
  CAF_CHECK_EQUAL(st.st_mode & 0777, 0600u);
  bool purged = true;
  auto back = load_state(path, &purged);
  CAF_REQUIRE(back.has_value());
  CAF_CHECK(!purged);
  CAF_CHECK_EQUAL(back->descriptor.session_id, s.descriptor.session_id);
  CAF_CHECK_EQUAL(back->descriptor.desktop_token.reveal(), s.descriptor.desktop_token.reveal());
  CAF_CHECK_EQUAL(back->descriptor.join_url, s.descriptor.join_url);
  CAF_CHECK_EQUAL(back->devices.size(), 1u);
  CAF_CHECK(back->approvals_enabled);
  {
    std::ofstream out(path);
    out << "{not json";
  }
  auto bad = load_state(path, &purged);
  CAF_CHECK(!bad.has_value());
  CAF_CHECK(purged);
  CAF_CHECK(::access(path.c_str(), F_OK) != 0);
  ::rmdir((std::string(dir) + "/sub").c_str());
  ::rmdir(dir);
}
