// HTTP routing of the main listener: the pairing/management API (framework checks, schema,
// origin, then the per-IP limiter actor), health and metrics; the admin listener's requests go
// to admin.cpp. Also assembles the gateway (make_gateway). Runs on Asio threads and never
// blocks: everything stateful is an asynchronous send to an actor.
#include "gateway/routes.hpp"

#include "actors/common.hpp"
#include "actors/messages.hpp"
#include "gateway/admin.hpp"
#include "gateway/metrics.hpp"
#include "gateway/ws_bridge.hpp"
#include "protocol/http_schema.hpp"
#include "protocol/url.hpp"

namespace rc::gw {

using namespace actors;

namespace {

std::optional<proto::route> api_route(const std::string& path) {
  if (path == "/pair/start") return proto::route::pair_start;
  if (path == "/pair/join") return proto::route::pair_join;
  if (path == "/pair/refresh") return proto::route::pair_refresh;
  if (path == "/pair/stop") return proto::route::pair_stop;
  if (path == "/devices/list") return proto::route::devices_list;
  if (path == "/devices/revoke") return proto::route::devices_revoke;
  return std::nullopt;
}

bool origin_allowed(const relay_context& ctx, const http_request& r) {
  if (!r.has_origin) return true;
  for (const auto& o : ctx.cfg.allowed_origins)
    if (o == "*") return true;
  auto n = proto::normalize_origin(r.origin);
  if (!n) return false;
  for (const auto& o : ctx.cfg.allowed_origins)
    if (o == *n) return true;
  return false;
}

void api(const context_ptr& ctx, const actor_refs& refs, http_request& r, proto::route route,
         const std::shared_ptr<http_responder>& resp) {
  proto::framework_error fe{};
  auto req = proto::parse_api_request(route, r.body, fe);
  if (!req) return resp->respond(fe.status, fe.text, "text/plain; charset=utf-8");
  auto& m = ctx->metrics;
  if (route == proto::route::pair_start) m.pair_start_requests.fetch_add(1);
  if (route == proto::route::pair_join) m.pair_join_requests.fetch_add(1);
  if (route == proto::route::pair_refresh) m.pair_refresh_requests.fetch_add(1);
  if (!proto::schema_version_ok(*req))
    return reply_error(resp, 400, "unsupported_schema_version",
                       "Only schemaVersion 2 is supported.");
  if (!origin_allowed(*ctx, r))
    return reply_error(resp, 403, "origin_not_allowed", "Origin is not allowed.");
  caf::anon_send(refs.ip_limiter, api_atom::value, api_call{std::move(*req), r.client_ip, resp});
}

}  // namespace

http_handler make_http_handler(context_ptr ctx, actor_refs refs) {
  return [ctx, refs](http_request&& r, std::shared_ptr<http_responder> resp) {
    if (r.admin) return admin_route(ctx, refs, r, resp);
    if (auto route = api_route(r.path)) return api(ctx, refs, r, *route, resp);
    bool get = r.method == "GET" || r.method == "HEAD";
    if (r.path == "/healthz")
      return get ? resp->respond(health_status(*ctx), health_json(*ctx)) : resp->respond(405, "");
    if (r.path == "/metricsz")
      return get ? resp->respond(200, metricsz_json(*ctx)) : resp->respond(405, "");
    if (r.path == "/metrics")
      return get ? resp->respond(200, prometheus_text(*ctx), "text/plain; version=0.0.4")
                 : resp->respond(405, "");
    if (r.path == "/ws") return resp->respond(get ? 400 : 405, "");
    resp->respond(404, "");
  };
}

std::unique_ptr<listener> make_gateway(context_ptr ctx, actor_refs refs) {
  auto log = [ctx](const std::string& line) { ctx->log.raw(line); };
  return std::make_unique<listener>(ctx->cfg, ctx->io, make_http_handler(ctx, refs), log,
                                    make_ws_bridge(ctx, refs.broker));
}

}  // namespace rc::gw
