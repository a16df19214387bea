//! `GET /healthz`: for load balancers and the test harness.

use crate::database;
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use parley_protocol::api::Health;

/// 200 when the database answers, 503 otherwise.
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    match database::ping(&state.pool).await {
        Ok(_) => HttpResponse::Ok().json(Health {
            status: "ok".into(),
        }),
        Err(e) => {
            tracing::warn!(error = %e, "health check failed");
            HttpResponse::ServiceUnavailable().json(Health {
                status: "database unavailable".into(),
            })
        }
    }
}
