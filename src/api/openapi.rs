//! The OpenAPI 3.1 description of `/api/v1`, generated from the handlers' own annotations and types (so it
//! cannot drift from them), served at `GET /api/v1/openapi.json` (with a token, like every call).

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{cases, privacy, reports};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "wa-onboard agent API",
        description = "What the agent console does, for companies that run their own agent desk. Every call needs \
                       `Authorization: Bearer <token>` (`wa-onboard api-tokens add NAME`). See docs/console.md."
    ),
    paths(cases::list, cases::one, cases::claim, cases::assign, cases::message, cases::decision, cases::photo,
        privacy::erase, privacy::export, privacy::audit, reports::funnel),
    modifiers(&BearerToken),
    tags((name = "cases", description = "People waiting for, or handled by, a person"),
        (name = "privacy", description = "A person's rights: erasure, access, the audit trail (docs/privacy.md)"),
        (name = "reports", description = "The onboarding funnel (docs/metrics.md)"))
)]
pub struct ApiDoc;

struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

/// `GET /api/v1/openapi.json`.
pub async fn serve() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(ApiDoc::openapi())
}
