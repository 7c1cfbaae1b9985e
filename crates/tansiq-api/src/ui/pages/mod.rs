//! One module per screen; each handler reads its viewer (set by the
//! session middleware), calls the node's services as that user and
//! renders a template.

mod incident;
mod messages;
mod network;
mod records;
mod screening;
mod status;
mod workflow;

use axum::routing::{get, post};
use axum::Router;

use super::view::UiState;

pub fn routes() -> Router<UiState> {
    Router::new()
        .route("/ui/inbox", get(messages::inbox))
        .route("/ui/messages/{id}/ack", post(messages::ack))
        .route("/ui/records", get(records::list))
        .route("/ui/records/{id}", get(records::dossier))
        .route("/ui/records/{id}/network", get(network::network))
        .route("/ui/records/{id}/share", post(records::share))
        .route("/ui/records/{id}/release", post(records::request_release))
        .route("/ui/screen", get(screening::form).post(screening::run))
        .route("/ui/screen.csv", get(screening::csv))
        .route("/ui/incident", get(incident::form).post(incident::declare))
        .route("/ui/alerts", get(workflow::alerts))
        .route("/ui/releases", get(workflow::releases))
        .route("/ui/releases/{id}/grant", post(workflow::grant))
        .route("/ui/releases/{id}/refuse", post(workflow::refuse))
        .route("/ui/channels", get(status::channels))
        .route("/ui/sync", get(status::sync))
        .route("/ui/audit", get(status::audit))
        .route("/ui/audit/checkpoint", post(status::checkpoint))
        .route("/ui/audit/verify", post(status::verify))
}
