//! One authenticated call to the gateway: the access token as a bearer, the answer read up to a bound,
//! and a single retry with a renewed token when the gateway answers `401` (the token was revoked or
//! a clock disagrees); a second `401` is final.

use super::Inner;
use std::time::Duration;

use super::error::ClientError;

/// A call's outcome: status and the (bounded) body.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
}

impl Inner {
    /// `POST {gateway}{path}` with a JSON body, authenticated as this provider.
    pub(crate) async fn post_json(&self, path: &str, body: Vec<u8>) -> Result<Answer, ClientError> {
        let url = format!("{}{path}", self.base);
        let token = self.access_token(None).await?;
        let answer = self.send(&url, &token.value, body.clone()).await?;
        if answer.status != 401 {
            return Ok(answer);
        }
        tracing::debug!(path, "the gateway refused the access token; renewing once");
        let renewed = self.access_token(Some(token.generation)).await?;
        self.send(&url, &renewed.value, body).await
    }

    async fn send(
        &self,
        url: &str,
        token: &super::Secret,
        body: Vec<u8>,
    ) -> Result<Answer, ClientError> {
        let response = self
            .http
            .post(url)
            .bearer_auth(token.expose())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(
                reqwest::header::ACCEPT,
                "application/json, application/problem+json",
            )
            .body(body)
            .send()
            .await
            .map_err(|e| ClientError::transport(&e, self.config.timeout))?;
        let status = response.status().as_u16();
        let body = read_bounded(
            response,
            self.config.max_response_bytes,
            self.config.timeout,
        )
        .await?;
        Ok(Answer { status, body })
    }
}

/// Reads an answer, refusing one larger than `max_response_bytes` without reading it all.
pub(crate) async fn read_bounded(
    mut response: reqwest::Response,
    limit: usize,
    timeout: Duration,
) -> Result<Vec<u8>, ClientError> {
    let too_large = || ClientError::InvalidResponse(format!("answer is larger than {limit} bytes"));
    if response
        .content_length()
        .is_some_and(|len| len > limit as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| ClientError::transport(&e, timeout))?
    {
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
