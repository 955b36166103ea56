// The supervision tree: the README's table equals supervision_tree(); the node supervisor
// monitors every long-lived actor and applies the stated policy (restart with a bound, or fail
// the node); a session's children escalate to the session, which the broker restarts.
#define CAF_SUITE relay_supervisor
#define FAIL(msg) CAF_FAIL(msg)  // CAF 0.17.6 DSL bug workaround (before dsl.hpp)
#include "caf/test/dsl.hpp"

#include <fstream>
#include <sstream>

#include "actors/session_ops.hpp"
#include "actors/supervisor.hpp"
#include "relay_fixture.hpp"

using namespace rc_test;
using rc::proto::route;

namespace {

std::string trim(std::string s) {
  auto b = s.find_first_not_of(" `");
  auto e = s.find_last_not_of(" `");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

/// Rows of the table under "### Supervision tree" in README.md (header and rule skipped).
std::vector<std::vector<std::string>> readme_rows() {
  std::ifstream in(std::string(RC_SOURCE_DIR) + "/README.md");
  std::string line;
  bool section = false;
  std::vector<std::vector<std::string>> rows;
  while (std::getline(in, line)) {
    if (line.rfind("### ", 0) == 0 || line.rfind("## ", 0) == 0) {
      if (section) break;
      section = line == "### Supervision tree";
      continue;
    }
    if (!section || line.rfind("|", 0) != 0) continue;
    std::vector<std::string> cells;
    std::stringstream ss(line.substr(1));
    std::string cell;
    while (std::getline(ss, cell, '|')) cells.push_back(trim(cell));
    if (!cells.empty() && cells.back().empty()) cells.pop_back();
    rows.push_back(cells);
  }
  if (rows.size() >= 2) rows.erase(rows.begin(), rows.begin() + 2);  // header, |---|
  return rows;
}

struct tree_fixture : base_fixture {
  std::shared_ptr<persistence::memory_store> loader_mem =
      std::make_shared<persistence::memory_store>();
  std::shared_ptr<std::vector<std::string>> fatal = std::make_shared<std::vector<std::string>>();
  relay_actors tree;

  tree_fixture() {
    relay_options o;
    o.store = mem;
    o.loader_store = loader_mem;
    o.loader_detached = false;
    auto f = fatal;
    o.on_fatal = [f](const std::string& child) { f->push_back(child); };
    tree = spawn_relay(sys, ctx, o);
    drain();
  }
  ~tree_fixture() override {
    self->send_exit(tree.supervisor, caf::exit_reason::user_shutdown);
    drain();
  }
  /// The supervisor's current handles (a restart replaces them).
  relay_actors& current() {
    return deref<caf::stateful_actor<supervisor_state, supervisor_actor::base>>(tree.supervisor)
        .state.handles;
  }
  json children() {
    auto h = self->request(tree.supervisor, caf::infinite, children_atom::value);
    drain();
    json out;
    h.receive([&](std::string& s) { out = json::parse(s); },
              [&](caf::error& e) { CAF_FAIL("supervisor request failed: " << sys.render(e)); });
    return out.at("children");
  }
  json child(const std::string& name) {
    for (auto& c : children())
      if (c.at("name") == name) return c;
    CAF_FAIL("no child " << name);
    return {};
  }
};

}  // namespace

CAF_TEST(readme supervision table matches the code) {
  auto rows = readme_rows();
  const auto& tree = supervision_tree();
  CAF_REQUIRE_EQUAL(rows.size(), tree.size());
  for (std::size_t i = 0; i < tree.size(); ++i) {
    CAF_REQUIRE_EQUAL(rows[i].size(), 4u);
    CAF_CHECK_EQUAL(rows[i][0], tree[i].parent);
    CAF_CHECK_EQUAL(rows[i][1], tree[i].child);
    CAF_CHECK_EQUAL(rows[i][2], to_string(tree[i].policy));
    CAF_CHECK_EQUAL(rows[i][3], tree[i].restart);
  }
}

CAF_TEST_FIXTURE_SCOPE(node_supervisor, tree_fixture)

CAF_TEST(the supervisor monitors every node level actor of the table) {
  std::vector<std::string> expected;
  for (auto& e : supervision_tree())
    if (std::string(e.parent) == "node" && std::string(e.child) != "cluster")  // no NATS here
      expected.push_back(e.child);
  auto kids = children();
  CAF_REQUIRE_EQUAL(kids.size(), expected.size());
  for (std::size_t i = 0; i < kids.size(); ++i) {
    CAF_CHECK_EQUAL(kids[i].at("name").get<std::string>(), expected[i]);
    CAF_CHECK(kids[i].at("alive").get<bool>());
    for (auto& e : supervision_tree())
      if (expected[i] == e.child)
        CAF_CHECK_EQUAL(kids[i].at("policy").get<std::string>(), to_string(e.policy));
  }
}

CAF_TEST(a failed loader is restarted and reattached within a bound) {
  auto first = child("loader").at("actorID").get<uint64_t>();
  self->send_exit(tree.loader, caf::exit_reason::kill);
  drain();
  auto c = child("loader");
  CAF_CHECK(c.at("alive").get<bool>());
  CAF_CHECK_EQUAL(c.at("restarts").get<int>(), 1);
  CAF_CHECK_NOT_EQUAL(c.at("actorID").get<uint64_t>(), first);
  CAF_CHECK(fatal->empty());
  // The broker uses the new loader: a session only the store knows is found by pair/stop's
  // lazy load (unknown sessions answer 200 too, so ask devices/list: 403 vs 404).
  session_ids ids;
  persistence::session_record rec;
  rec.session_id = ids.sid;
  rec.desktop_session_token = ids.desk;
  rec.join_token = ids.join;
  rec.created_at_ms = rec.last_activity_at_ms = now();
  CAF_REQUIRE(loader_mem->save(rec, 1).ok());
  proto::framework_error fe{0, ""};
  json body{{"schemaVersion", 2}, {"sessionID", ids.sid}, {"desktopSessionToken", ids.desk}};
  auto req = proto::parse_api_request(route::devices_list, body.dump(), fe);
  CAF_REQUIRE(req.has_value());
  auto resp = std::make_shared<fake_responder>();
  self->send(tree.broker, api_atom::value, api_call{std::move(*req), "198.51.100.1", resp});
  drain();
  CAF_CHECK_EQUAL(resp->status, 200);
  // Past the bound (max_restarts within the window) the loader's failure fails the node.
  for (int i = 0; i < max_restarts; ++i) {
    self->send_exit(current().loader, caf::exit_reason::kill);
    drain();
  }
  CAF_REQUIRE_EQUAL(fatal->size(), 1u);
  CAF_CHECK_EQUAL(fatal->front(), "loader");
}

CAF_TEST(a failed ip limiter fails the node) {
  self->send_exit(tree.ip_limiter, caf::exit_reason::kill);
  drain();
  CAF_REQUIRE_EQUAL(fatal->size(), 1u);
  CAF_CHECK_EQUAL(fatal->front(), "ip_limiter");
  CAF_CHECK(!child("ip_limiter").at("alive").get<bool>());
}

CAF_TEST(an orderly stop is not a failure) {
  self->send_exit(tree.loader, caf::exit_reason::user_shutdown);
  drain();
  CAF_CHECK(fatal->empty());
  CAF_CHECK_EQUAL(child("loader").at("restarts").get<int>(), 0);
}

CAF_TEST_FIXTURE_SCOPE_END()

CAF_TEST_FIXTURE_SCOPE(session_children, relay_fixture)

CAF_TEST(a failed device escalates to its session which the broker restarts) {
  session_ids ids;
  auto session = start_session(ids);
  auto d = connect(ids.desk);
  auto dev = pair_device(ids, d);
  auto m = connect(dev.token);
  CAF_REQUIRE_EQUAL(ctx->metrics.device_actors.load(), 1);
  auto& devices =
      deref<caf::stateful_actor<session_state, session_actor::base>>(session).state.device_actors;
  CAF_REQUIRE_EQUAL(devices.size(), 1u);
  auto device = devices.begin()->second;
  self->send_exit(device, caf::exit_reason::kill);
  drain();
  // The session went down with it: its sockets were told to reconnect, gauges released ...
  CAF_CHECK_EQUAL(d.peer->last_disconnect(), "server_shutdown");
  CAF_CHECK_EQUAL(m.peer->last_disconnect(), "server_shutdown");
  CAF_CHECK_EQUAL(ctx->metrics.active_websockets.load(), 0);
  // ... and the broker restarted it from the store: the paired device can come back.
  CAF_CHECK_EQUAL(ctx->metrics.sessions.load(), 1);
  auto again = connect(ids.desk);
  CAF_CHECK_EQUAL(again.peer->count("auth_ok"), 1u);
  auto list = api(route::devices_list, desk_body(ids));
  CAF_CHECK_EQUAL(list->j().at("devices").size(), 1u);
}

CAF_TEST_FIXTURE_SCOPE_END()
