//! `GET /api/history/export`: the filtered history as JSON lines or CSV.

use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::types::{ExportFormat, HistoryQuery};
use airlock_gate::Gate;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::Response;

use super::history::filter;
use super::internal;

pub(super) async fn export(
    State(gate): State<Gate>,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> Result<Response, ApiError> {
    let format = q.format.unwrap_or_default();
    let (store_format, mime, ext) = match format {
        ExportFormat::Jsonl => (
            airlock_store::ExportFormat::JsonLines,
            "application/x-ndjson",
            "jsonl",
        ),
        ExportFormat::Csv => (
            airlock_store::ExportFormat::Csv,
            "text/csv; charset=utf-8",
            "csv",
        ),
    };
    let (bytes, _rows) = gate
        .store()
        .export(filter(&q), store_format, Vec::new())
        .await
        .map_err(internal)?;
    let mut response = Response::new(Body::from(bytes));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"airlock-history.{ext}\""))
    {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}
