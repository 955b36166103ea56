// Private to the session actor's units: its state and the operations its handlers call.
//   session.cpp          behavior, sockets, routing, presence, close
//   session_pairing.cpp  HTTP API: pair/start, pair/join + approval, refresh, stop, devices
//   session_auth.cpp     websocket auth, token rotation (session_tokens), presence probes
//   session_cluster.cpp  bus glue: publish, socket census, envelopes from peers, merge/restore
#pragma once
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "actors/actors.hpp"
#include "actors/common.hpp"
#include "actors/token_index.hpp"

namespace rc::actors {

inline constexpr const char* desktop_gone_msg =
    "Desktop disconnected before pairing could be approved.";

struct mobile_slot {
  std::string device_id;
  std::shared_ptr<gw::ws_peer> peer;
};

struct pending_join {
  uint64_t id = 0;
  std::string request_id;
  std::string join_token;
  std::shared_ptr<gw::http_responder> responder;
  std::optional<std::string> device_name;
  int64_t expires_at = 0;
};

/// A mobile auth waiting for the cross-node presence probe (§6.3 step 5).
struct pending_probe {
  uint64_t id = 0;
  std::shared_ptr<auth_request> req;
  std::string device_id, next;
  std::vector<index_op> ops;
};

struct session_state {
  bool initialized = false;
  bool closed = false;
  persistence::session_record rec;
  uint64_t version = 0;  ///< write counter: highest version written, being written or seen
  /// The copy last read from or written to the store, at base_version: the base of the
  /// three-way merge when another node's write is adopted or a write conflicts.
  persistence::session_record base;
  uint64_t base_version = 0;
  int writes_inflight = 0;       ///< store writes not answered yet
  int64_t last_store_io_ms = 0;  ///< last read from / write answered by the store
  std::string reread_conn;       ///< the auth (conn id) for which the record was read back
  std::string desktop_conn;
  std::shared_ptr<gw::ws_peer> desktop;
  std::weak_ptr<gw::ws_link> desktop_handler;         ///< receives the zero-hop mobile route table
  std::map<std::string, mobile_slot> mobiles;         // conn id → slot
  std::map<std::string, device_actor> device_actors;  // device id → actor
  std::map<std::string, std::string> device_conn;     // device id → conn id
  std::optional<pending_join> pending;
  uint64_t join_seq = 0;
  session_limiter_actor limiter;
  int64_t spawned_at = 0;
  uint64_t to_mobiles = 0, to_desktop = 0;
  // ---- multi-node ----
  cluster_actor cluster;                ///< empty without NATS
  bool remote_desktop = false;          ///< a peer holds the desktop socket (learned via bus)
  std::string remote_desktop_instance;  ///< ... and which peer
  std::vector<pending_probe> probes;
  uint64_t probe_seq = 0;
  int64_t last_gate_probe_ms = 0;
  static constexpr int64_t gate_probe_interval_ms = 500;
  /// Phones connected on other nodes (source instance → count), for the desktop held here.
  /// Bounded: at most max_remote_counts nodes.
  std::map<std::string, uint64_t> remote_mobiles;
  static constexpr std::size_t max_remote_counts = 64;
  context_ptr ctx;  ///< for the emergency cleanup below
  static inline const char* name = "session";

  /// Runs however the actor ends. After a normal close() there is nothing left; after an
  /// abnormal end (exception, kill, a child's failure) the sockets are told to reconnect and
  /// every gauge the session held is released, so admission counts never leak. The broker
  /// restarts the session from the store.
  ~session_state();
};

using session_ptr = session_actor::stateful_pointer<session_state>;

struct session_ops {
  session_ptr self;
  context_ptr ctx;
  broker_actor broker;
  store_actor store;

  session_state& st() { return self->state; }
  const std::string& sid() { return st().rec.session_id; }
  int64_t now() { return now_of(ctx); }
  session_tokens tokens() { return session_tokens(st().rec); }
  void touch() { st().rec.last_activity_at_ms = now(); }
  bool bus() { return static_cast<bool>(st().cluster); }
  bool desktop_present() { return st().desktop || st().remote_desktop; }

  // ---- session.cpp: sockets, routing, presence, lifecycle ----
  void index(std::vector<index_op> ops);
  void presence_to(const device_actor& device, bool connected);
  void tell_presence(bool connected);
  void persist();
  /// Persists (compare-and-set), then tells peers to reload and runs `then` with the outcome.
  void persist_then(std::function<void(store_status)> then);
  /// A write of `written` came back: adopt the written version (and the merged record).
  void written(const persistence::session_record& rec, write_reply& r);
  void send_text(const std::shared_ptr<gw::ws_peer>& p, std::string text);
  /// Queues `text` on each of `to` once `first`'s frames sent so far are queued on it (ack first,
  /// then what it causes, across sockets). Each socket has its own strand and strands keep no
  /// order between each other: a frame posted to `first` and then one posted to another socket
  /// can be written in the other order (an io thread still inside a handler of `first`'s strand
  /// re-queues that strand behind the other). Posted from `first`'s strand, they cannot.
  static void send_after(const std::shared_ptr<gw::ws_peer>& first,
                         std::vector<std::shared_ptr<gw::ws_peer>> to, text_ptr text);
  void spawn_device(const std::string& device_id);
  void kill_device(const std::string& device_id);
  void update_mobile_gauge(std::size_t before);
  void push_routes();
  /// Tells a desktop connection to stop its zero-hop forwarding.
  static void clear_routes(const std::shared_ptr<gw::ws_peer>& peer, std::weak_ptr<gw::ws_link> h);
  /// Phones connected to this session on all nodes (local sockets + counts reported by peers).
  std::size_t device_count();
  /// relay.device_count to the desktop; with `after`, queued behind `after`'s frames (send_after).
  void device_count_to_desktop(const std::shared_ptr<gw::ws_peer>& after = nullptr);
  void remove_mobile(std::string conn_id, std::optional<close_reason> reason);
  void remove_desktop(std::optional<close_reason> reason);
  void desktop_lost();
  void slow_consumer(const std::shared_ptr<gw::ws_peer>& peer);
  /// A phone's socket refused a frame: it is dropped as a slow consumer.
  void slow_mobile(const std::string& conn_id);
  /// The desktop's socket refused a frame: it is dropped as a slow consumer.
  void slow_desktop();
  /// Fan-out of one desktop frame to the local phones.
  void to_mobiles(const text_ptr& text);
  void close(close_reason reason, bool delete_record);
  /// Absent from a complete forced reload begun at `started` (store marker unchanged): closes
  /// with removed_from_persistence unless sockets are here or the store was used since.
  void vanished(int64_t started);
  void sweep();
  caf::result<std::string> describe();

  // ---- session_pairing.cpp ----
  void api(api_call& c);
  void pair_start(api_call& c);
  /// `reread`: the stored record was just read back (a refused join token on a stale copy).
  void pair_join(api_call& c, bool reread = false);
  void approve();
  void decide(const std::string& request_id, bool approved);
  void finish_join(int status, const proto::json& body);
  void fail_join(int status, const char* code, const std::string& msg);
  void reset_for_replacement();
  proto::json device_list();

  // ---- session_auth.cpp ----
  void reject(auth_request& a, auth_failure why, bool policy);
  void accepted(auth_request& a, bool desktop, device_actor device, const std::string& device_id);
  bool over_capacity();
  bool origin_allowed(const gw::ws_peer& p);
  void auth_desktop(auth_request& a);
  void auth_mobile(auth_request& a, const std::string& device_id);
  void after_rotation(std::shared_ptr<auth_request> req, const std::string& device_id,
                      const std::string& next, std::vector<index_op> ops);
  void finish_probes(std::optional<uint64_t> id);
  void finish_mobile_auth(auth_request& a, const std::string& device_id, const std::string& next,
                          std::vector<index_op>& ops);
  /// With a bus, `then` runs once the cluster subscribed the session's subject (or failed).
  void when_subscribed(std::function<void()> then);

  // ---- session_cluster.cpp ----
  void publish(const char* tgt, std::string payload, std::optional<std::string> device = {});
  void publish_control(const char* tgt, std::string payload);
  std::string refresh_payload();
  void report_sockets();
  /// A member (re)appeared: re-publish our desktop presence and our phone count.
  void announce();
  void set_remote_desktop(bool v, const std::string& instance, bool tell_mobiles);
  /// Asks the peers whether one of them holds our desktop (the answer tells the phones).
  void probe_presence();
  /// A phone here was refused desktop_offline: if no desktop is known, probe the cluster (at
  /// most once per gate_probe_interval_ms). Heals a missed desktop_status true while the
  /// desktop stays idle (nothing else would prove its presence).
  void gate_probe();
  /// A phone's command for the desktop on a peer; the cluster awaits the peer's delivery notice.
  void publish_command(std::string text, const std::string& device_id);
  /// A command of `device_id` did not reach the desktop: relay.error desktop_offline to the
  /// phone; a peer that did not answer is no longer trusted to hold the desktop (probe).
  void undelivered(const std::string& device_id);
  void from_bus(const persistence::bus_envelope& e);
  void revoke_local(const std::string& device_id);
  void merge(persistence::session_record& rec, uint64_t version);
  /// Makes `next` the session's record: token index, device actors (devices with a live
  /// local socket are kept).
  void apply_record(persistence::session_record next);
  /// The stored copy, read back on purpose: merged three-way whatever its version.
  void adopt_stored(persistence::session_record& rec, uint64_t version);
  void restore(persistence::session_record& rec, uint64_t version);
};

}  // namespace rc::actors
