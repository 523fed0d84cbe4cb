// The routes of DESIGN §9 this version serves, on one router. `ctx` must outlive it.
#pragma once

#include <string>

#include "api/api_context.h"
#include "api/router.h"

namespace api {

// api/openapi.json, as built into the binary.
const std::string& OpenApiDocument();

void AddMerchantWriteRoutes(Router& router, const ApiContext& ctx);
void AddAdminRoutes(Router& router, const ApiContext& ctx);
void AddReadRoutes(Router& router, const ApiContext& ctx);
void AddAuditRoutes(Router& router, const ApiContext& ctx);
void AddSubscriberRoutes(Router& router, const ApiContext& ctx);
// POST /v1/webhooks/paypal|ebay/{merchant_id}: providers' signed events (no API key).
void AddWebhookInRoutes(Router& router, const ApiContext& ctx);
// POST /v1/batch runs its items through `router` itself (which must outlive it).
void AddBatchRoute(Router& router, const ApiContext& ctx);

// All of them.
inline void AddRoutes(Router& router, const ApiContext& ctx) {
  AddMerchantWriteRoutes(router, ctx);
  AddAdminRoutes(router, ctx);
  AddReadRoutes(router, ctx);
  AddAuditRoutes(router, ctx);
  AddSubscriberRoutes(router, ctx);
  AddWebhookInRoutes(router, ctx);
  AddBatchRoute(router, ctx);
}

}  // namespace api
