// Broker: web push (docs/PUSH.md). The push commands of E2EE devices, `push.state`, the
// triggers (runtime approval requests, turn ends, pairing requests) and the delivery pump.
#include "desktop-bridge/broker_state.hpp"
#include "protocol/time.hpp"

namespace rc::bridge::detail {

void broker_state::on_push_command(const json& env, const std::string& conn,
                                   const std::string& device) {
  const json& body = env["payload"]["payload"];
  uint64_t seq = env["seq"].get<uint64_t>();
  auto& tr = trackers.get(conn);
  auto res = tr.ingest(seq);
  if (res.r == rc::proto::sequence_tracker::result::stale) return;
  if (res.r == rc::proto::sequence_tracker::result::gap) tr.force(seq);
  const std::string name = body.value("name", "");
  const std::string cid = body.value("commandID", "");
  std::string reason;
  if (device.empty()) {
    reason = "e2ee_required";  // push travels inside the encrypted channel only
  } else if (name == "push.subscribe") {
    reason =
        pushes.subscribe(device, body.value("subscription", json()), body.value("kinds", json()));
    if (reason.empty())
      emit({{"event", "push_subscribed"},
            {"deviceID", device},
            {"kinds", body.value("kinds", json::object())}});
  } else if (name == "push.unsubscribe") {
    if (pushes.unsubscribe(device)) emit({{"event", "push_unsubscribed"}, {"deviceID", device}});
  } else if (name == "push.visibility") {
    bool v = body.value("visible", false);
    pushes.set_visible(device, v);
    emit({{"event", "push_visibility"}, {"deviceID", device}, {"visible", v}});
  } else {
    reason = "unsupported_command";
  }
  emit({{"event", "command_received"},
        {"name", name},
        {"commandID", cid},
        {"status", reason.empty() ? "accepted" : "rejected"},
        {"seq", seq}});
  json ack = {{"commandSeq", seq},
              {"commandID", cid},
              {"commandName", name},
              {"status", reason.empty() ? "accepted" : "rejected"}};
  if (!reason.empty()) ack["reason"] = reason;
  if (pushes.take_changed()) save();
  send_envelope("command_ack", ack);
  if (!device.empty()) send_push_state();
  push_pump();
}

void broker_state::send_push_state() {
  if (!ws || !authed || hub.open_channels() == 0) return;
  pushes.vapid_public();  // created on first use
  if (pushes.take_changed()) save();
  send_envelope("event", json::object(),
                [this](const std::string& dev, json& b) { b = pushes.state(dev); });
}

void broker_state::push_on_runtime(const runtime_event& ev) {
  auto title_of = [this](const std::string& tid) {
    auto* t = m.find_thread(tid);
    return t && !t->title.empty() ? t->title : std::string("Your agent");
  };
  if (auto* t = std::get_if<ev_turn>(&ev)) {
    if (t->running) {
      if (running_threads.size() >= 4096) running_threads.clear();  // bounded
      running_threads.insert(t->thread_id);
    } else if (running_threads.erase(t->thread_id) != 0) {
      push_notify(push::kind::turn, t->thread_id, "Turn finished", title_of(t->thread_id));
    }
  } else if (auto* r = std::get_if<ev_request>(&ev)) {
    if (!approvals) return;  // the phone could not answer it anyway
    auto tid = r->request.thread_id.value_or("");
    push_notify(push::kind::approval, tid,
                r->request.kind == "approval" ? "Approval needed" : "Your agent asks you",
                tid.empty() ? std::string("Your agent") : title_of(tid));
  }
}

void broker_state::push_notify(push::kind k, const std::string& thread_id, const std::string& title,
                               const std::string& text) {
  for (auto& dev : pushes.notify(k, thread_id, title, text, rc::proto::now_ms()))
    emit({{"event", "push_skipped"},
          {"deviceID", dev},
          {"kind", push::kind_name(k)},
          {"reason", "visible"}});
  push_pump();
}

void broker_state::push_pump() {
  const int64_t now = rc::proto::now_ms();
  int64_t wake = 0;
  auto hdl = caf::actor_cast<caf::actor>(self);
  for (std::size_t i = 0; i < push::hub::max_pending; ++i) {
    auto a = pushes.next(now, &wake);
    if (!a) break;
    emit({{"event", "push_sending"}, {"deviceID", a->device_id}, {"kind", push::kind_name(a->k)}});
    uint64_t id = a->id;
    net->push_post(std::move(a->req), [hdl, id](net::http_response r) {
      caf::anon_send(hdl, push_answer_atom::value, id, r.status, std::move(r.retry_after));
    });
  }
  if (wake > now && (!push_wake_pending || wake < push_wake_at)) {
    push_wake_pending = true;
    push_wake_at = wake;
    self->delayed_send(self, std::chrono::milliseconds(wake - now), push_wake_atom::value);
  }
}

void broker_state::on_push_answer(uint64_t id, int status, const std::string& retry_after) {
  using what = push::hub::answer::what;
  auto a = pushes.on_response(id, status, retry_after, rc::proto::now_ms());
  if (!a.device_id.empty()) {
    static const char* names[] = {"delivered", "retry", "dropped", "gone"};
    json ev = {{"event", "push_result"},
               {"deviceID", a.device_id},
               {"status", status},
               {"outcome", names[static_cast<int>(a.w)]}};
    if (a.w == what::retry) ev["retryInMs"] = a.retry_at_ms - rc::proto::now_ms();
    emit(ev);
    if (a.w == what::gone) {  // 404/410: the subscription is dead; the phone learns it
      emit({{"event", "push_unsubscribed"}, {"deviceID", a.device_id}, {"reason", status}});
      if (pushes.take_changed()) save();
      send_push_state();
    }
  }
  push_pump();
}

}  // namespace rc::bridge::detail
