// Agent runtimes behind one interface: demo (built in), exec (a command per message), codex
// (JSON-RPC to `codex app-server` over stdio, implemented in runtime_codex.{hpp,cpp}).
//
// Threading contract (read this before implementing a runtime):
//  * Every method of `runtime` is called from the bridge actor (one thread at a time, never
//    concurrently). Methods MUST NOT block for long (no waiting on a child process or a socket):
//    start work and return; report progress through the sink.
//  * The runtime reports everything through `event_sink`, a thread-safe, non-blocking callback
//    supplied to start(). It may be called from ANY thread (reader threads, timers, the caller's
//    thread). The bridge implements it as `caf::anon_send(bridge_actor, runtime_event)`: events
//    are queued into the actor's mailbox and applied in the order each calling thread emitted
//    them. A runtime that emits from several threads must serialise its own emissions if their
//    relative order matters (e.g. message delta before turn idle).
//  * Because events are queued, an event emitted *inside* a method call is not yet visible when
//    that method returns. The bridge therefore records the user message of start_turn itself
//    (with the message ID it passes in); a runtime may echo the same message (same ID) — message
//    events are upserts keyed by message ID, so echoes are harmless.
//  * After stop() returns the runtime must not call the sink again (late calls are tolerated but
//    may be dropped).
//
// Identifiers: project/thread/message IDs must satisfy `^[A-Za-z0-9_:-]{1,128}$` (the relay's
// compact-id rule; upper-case UUIDs recommended). Runtime request IDs are unsigned integers
// (sent to phones as decimal strings).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

namespace rc::bridge {

struct project_info {
  std::string id;
  std::string name;
};

struct thread_info {
  std::string id;
  std::string project_id;
  std::string title;
  bool pinned = false;
  bool archived = false;  ///< archived threads are not listed in snapshots but stay selectable
};

struct message_info {
  std::string id;
  std::string thread_id;
  std::string role;  ///< "user" | "assistant" | "system"
  std::string text;
  int64_t created_at_ms = 0;  ///< epoch ms; 0 = let the bridge stamp "now"
  /// Stored history (runtime::load_history): placed by created_at_ms among the thread's messages
  /// and carried by snapshots only (no `thread.message.append` event).
  bool history = false;
};

struct option_info {
  std::string id;
  std::string label;
  std::optional<std::string> description;
};

/// A pending runtime request (APP_SCHEMA §3 RuntimeRequest).
struct runtime_request_info {
  uint64_t id = 0;
  std::string
      kind;  ///< approval | permissionsApproval | userInput | mcpElicitation | dynamicToolCall
  std::optional<std::string> thread_id;
  std::string title;
  std::string summary;
  std::vector<option_info>
      response_options;  ///< for approval: approve_once, approve_for_session, decline, cancel
  std::vector<std::string> permissions;
  std::vector<option_info> options;
  std::optional<std::string> scope_hint, tool_name, server_name;
};

/// A response to a runtime request, already interpreted by the bridge (APP_SCHEMA §5.2).
struct runtime_response {
  std::string kind;  ///< same as the request's kind
  /// approval: "approve_once" | "approve_for_session" | "decline" | "cancel"
  std::string decision;
  /// permissionsApproval / dynamicToolCall: granted or not.
  bool approved = false;
  std::vector<std::string> permissions;           ///< permissionsApproval: granted permissions
  std::optional<std::string> scope;               ///< permissionsApproval
  std::optional<std::string> text;                ///< userInput / mcpElicitation
  std::optional<std::string> option_id;           ///< userInput (validated against options)
  nlohmann::json raw = nlohmann::json::object();  ///< the phone's runtimeRequestResponse as sent
};

// ---- events: runtime → bridge (through event_sink) ------------------------------------------

/// Runtime connectivity. While offline, thread.send_message is rejected `desktop_offline`.
struct ev_status {
  bool connected = false;
  std::string detail;
  bool loads_earlier = false;  ///< load_history(earlier=true) works (snapshot capabilities)
};
struct ev_project {  ///< upsert
  project_info project;
};
struct ev_thread {  ///< upsert (title change, archive, ...)
  thread_info thread;
};
struct ev_selection {  ///< the runtime/local UI changed the selection (optional)
  std::optional<std::string> project_id, thread_id;
};
struct ev_message {  ///< upsert keyed by message.id (full text replaces the old text)
  message_info message;
};
struct ev_message_delta {  ///< append `delta` to a message; created (role assistant) if unknown
  std::string thread_id;
  std::string message_id;
  std::string delta;
};
struct ev_turn {  ///< turn status of a thread
  std::string thread_id;
  bool running = false;
};
struct ev_request {  ///< a runtime request became pending
  runtime_request_info request;
};
struct ev_request_resolved {  ///< a runtime request is no longer pending (answered, cancelled)
  uint64_t request_id = 0;
};

using runtime_event = std::variant<ev_status, ev_project, ev_thread, ev_selection, ev_message,
                                   ev_message_delta, ev_turn, ev_request, ev_request_resolved>;

using event_sink = std::function<void(runtime_event)>;

// ---- commands: bridge → runtime ---------------------------------------------------------------

/// Result of a command. `reason` uses the command_ack reasons of APP_SCHEMA §5.2 when !ok:
/// desktop_offline, desktop_busy, unknown_thread, thread_required, unknown_runtime_request,
/// invalid_runtime_request, runtime_request_failed.
struct op_result {
  bool ok = true;
  std::string reason;
  static op_result success() { return {}; }
  static op_result fail(std::string r) { return {false, std::move(r)}; }
};

struct turn_request {
  std::string thread_id;
  std::string text;             ///< trimmed, non-empty, ≤ 16 384 bytes
  std::string user_message_id;  ///< ID the bridge already gave the user message in its model
};

class runtime {
 public:
  virtual ~runtime() = default;
  /// Short name for logs/UI ("demo", "exec", "codex").
  virtual std::string name() const = 0;
  /// Begin: report ev_status, projects, threads (and any history) through `sink`.
  virtual void start(event_sink sink) = 0;
  /// Stop all work (kill children, join threads). Idempotent.
  virtual void stop() = 0;
  /// Start a turn with a user message on an existing thread. Returns at once; the reply streams
  /// as ev_message / ev_message_delta, ev_turn{running} before and ev_turn{!running} after.
  /// Fail with desktop_busy if a turn is already running on the thread.
  virtual op_result start_turn(const turn_request& req) = 0;
  /// Interrupt the running turn of a thread (no-op when idle).
  virtual void interrupt(const std::string& thread_id) = 0;
  /// Answer a pending runtime request; on success the runtime emits ev_request_resolved.
  virtual op_result respond(uint64_t request_id, const runtime_response& response) = 0;
  /// The phone opened a thread (`earlier` false: load the latest stored history once) or asked
  /// for older entries (`earlier` true: the next page). History arrives as ev_message with
  /// `history` set and the original created_at_ms. Optional: runtimes without stored history
  /// ignore it.
  virtual void load_history(const std::string& thread_id, bool earlier) {
    (void)thread_id;
    (void)earlier;
  }
};

/// Built-in runtimes (runtime_demo.cpp, runtime_exec.cpp).
struct demo_options {
  int word_delay_ms = 60;  ///< delay between streamed words (0 = as fast as possible)
};
std::unique_ptr<runtime> make_demo_runtime(demo_options opts = {});

struct exec_options {
  std::vector<std::string> argv;              ///< command and arguments (argv[0] looked up in PATH)
  bool message_as_arg = false;                ///< --exec-arg: pass the message as the last argument
  std::size_t max_output_bytes = 256 * 1024;  ///< stdout beyond this is discarded (noted)
  int timeout_ms = 0;                         ///< 0 = no limit
};
std::unique_ptr<runtime> make_exec_runtime(exec_options opts);

/// codex runtime (runtime_codex.{hpp,cpp}, compiled in when runtime_codex.cpp exists; the
/// program then defines RC_BRIDGE_HAS_CODEX). `args` = the words after `--` on the command line
/// (e.g. the codex binary and extra `app-server` arguments; empty = defaults).
std::unique_ptr<runtime> make_codex_runtime(const std::vector<std::string>& args);

/// Random upper-case UUID string (v4) for IDs.
std::string make_uuid();

}  // namespace rc::bridge
