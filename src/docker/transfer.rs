//! Pushing and pulling through the engine. bollard's typed progress streams
//! drop the layer id and the final digest (`id` and `aux`), which per-layer
//! progress and digest checks need, so these requests are made here, on the
//! engine's socket.

use base64::Engine as _;
use bytes::{Buf, Bytes, BytesMut};
use futures::Stream;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde::Deserialize;

use super::{DockerError, Engine};

/// Who to push or pull as. The password goes to the engine in a header and nowhere else.
#[derive(Clone)]
pub struct RegistryLogin {
    pub username: String,
    pub password: String,
    /// The registry host, `host[:port]`.
    pub server: String,
}

/// One line of the engine's push or pull progress.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransferEvent {
    /// The layer this line is about, when it is about one.
    pub layer: Option<String>,
    /// Push: `Preparing`, `Waiting`, `Pushing`, `Pushed`, `Layer already exists`, `Mounted from …`;
    /// pull: `Pulling fs layer`, `Downloading`, `Extracting`, `Pull complete`, `Already exists`.
    pub status: String,
    pub current: Option<u64>,
    pub total: Option<u64>,
    /// The manifest digest, reported once the push (or pull) is complete.
    pub digest: Option<String>,
    /// The registry's or engine's error, which ends the push.
    pub error: Option<String>,
}

#[derive(Deserialize)]
struct Line {
    status: Option<String>,
    id: Option<String>,
    #[serde(rename = "progressDetail")]
    progress: Option<Detail>,
    aux: Option<Aux>,
    error: Option<String>,
    #[serde(rename = "errorDetail")]
    error_detail: Option<ErrorDetail>,
}

#[derive(Deserialize)]
struct Detail {
    current: Option<u64>,
    total: Option<u64>,
}

#[derive(Deserialize)]
struct Aux {
    #[serde(rename = "Digest")]
    digest: Option<String>,
}

#[derive(Deserialize)]
struct ErrorDetail {
    message: Option<String>,
}

impl Engine {
    /// Pushes `repository:tag` (already tagged locally) and streams the engine's progress.
    pub async fn push(
        &self,
        repository: &str,
        tag: &str,
        login: &RegistryLogin,
    ) -> Result<impl Stream<Item = Result<TransferEvent, DockerError>> + use<>, DockerError> {
        self.progress_request(format!("/images/{repository}/push?tag={tag}"), login).await
    }

    /// Pulls `repository@digest` (`host/path@sha256:…`) and streams the
    /// engine's progress. The image is named by its digest only: tagging it is
    /// the caller's, once the pull is complete and checked.
    pub async fn pull(
        &self,
        repository: &str,
        digest: &str,
        login: &RegistryLogin,
    ) -> Result<impl Stream<Item = Result<TransferEvent, DockerError>> + use<>, DockerError> {
        self.progress_request(format!("/images/create?fromImage={repository}&tag={digest}"), login).await
    }

    async fn progress_request(
        &self,
        path: String,
        login: &RegistryLogin,
    ) -> Result<impl Stream<Item = Result<TransferEvent, DockerError>> + use<>, DockerError> {
        let unreachable =
            |m: String| DockerError::Unreachable { endpoint: self.endpoint.clone(), message: m };
        let auth = serde_json::json!({
            "username": login.username,
            "password": login.password,
            "serveraddress": login.server,
        });
        let auth = base64::engine::general_purpose::URL_SAFE.encode(auth.to_string());
        let request = hyper::Request::post(format!("/v{}{path}", self.api_version()))
            .header(hyper::header::HOST, "docker")
            .header("X-Registry-Auth", auth)
            .body(Empty::<Bytes>::new())
            .map_err(|e| DockerError::Engine(e.to_string()))?;
        let response = if let Some(path) = self.endpoint.strip_prefix("unix://") {
            let io = tokio::net::UnixStream::connect(path).await.map_err(|e| unreachable(e.to_string()))?;
            send(io, request).await
        } else {
            let address = self.endpoint.trim_start_matches("tcp://").trim_start_matches("http://");
            let io = tokio::net::TcpStream::connect(address).await.map_err(|e| unreachable(e.to_string()))?;
            send(io, request).await
        }
        .map_err(|e| unreachable(e.to_string()))?;
        if !response.status().is_success() {
            let status = response.status();
            let body = response.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
            let message = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["message"].as_str().map(str::to_string))
                .unwrap_or_else(|| String::from_utf8_lossy(&body).trim().to_string());
            return Err(DockerError::Engine(format!("{status}: {message}")));
        }
        Ok(lines(response.into_body()))
    }
}

async fn send<T>(
    io: T,
    request: hyper::Request<Empty<Bytes>>,
) -> Result<hyper::Response<Incoming>, hyper::Error>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await?;
    tokio::spawn(connection);
    sender.send_request(request).await
}

/// Splits the body into JSON lines and reads each as a [`TransferEvent`].
fn lines(body: Incoming) -> impl Stream<Item = Result<TransferEvent, DockerError>> {
    futures::stream::unfold((body, BytesMut::new(), false), |(mut body, mut buffer, mut ended)| async move {
        loop {
            let end = buffer.iter().position(|b| *b == b'\n');
            if end.is_some() || (ended && buffer.has_remaining()) {
                let line = buffer.split_to(end.map_or(buffer.len(), |e| e + 1));
                let text = String::from_utf8_lossy(&line).trim().to_string();
                if !text.is_empty() {
                    return Some((parse(&text), (body, buffer, ended)));
                }
                continue;
            }
            if ended {
                return None;
            }
            match body.frame().await {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        buffer.extend_from_slice(&data);
                    }
                }
                Some(Err(e)) => {
                    let error = DockerError::Engine(format!("the progress stream broke: {e}"));
                    return Some((Err(error), (body, BytesMut::new(), true)));
                }
                None => ended = true,
            }
        }
    })
}

fn parse(text: &str) -> Result<TransferEvent, DockerError> {
    let line: Line = serde_json::from_str(text)
        .map_err(|e| DockerError::Engine(format!("unreadable progress `{text}`: {e}")))?;
    let status = line.status.unwrap_or_default();
    // The digest comes in `aux`, and in a status line `TAG: digest: sha256:… size: N`.
    let digest = line.aux.and_then(|a| a.digest).or_else(|| {
        status.split_once("digest: ").and_then(|(_, rest)| rest.split_whitespace().next()).map(str::to_string)
    });
    Ok(TransferEvent {
        layer: line.id,
        current: line.progress.as_ref().and_then(|p| p.current),
        total: line.progress.as_ref().and_then(|p| p.total),
        digest,
        error: line.error_detail.and_then(|d| d.message).or(line.error),
        status,
    })
}
