//! One exchange with the Blob service, signed with Shared Key (<https://learn.microsoft.com/en-us/rest/api/storageservices/authorize-with-shared-key>) or carrying
//! a managed identity's bearer token: the few operations the archive and the spool need —
//! create a container, stage a block, read the committed block list, commit a block list
//! conditionally, put, read, list and delete a blob, and take, renew and give up a blob's lease.

use crate::secret::Secret;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The Blob REST version we speak; Azurite runs with `--skipApiVersionCheck` (§6.5).
const VERSION: &str = "2021-12-02";

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("Blob storage answered {status} to {operation}: {code}")]
    Status {
        operation: &'static str,
        status: u16,
        code: String,
    },
    #[error("Blob storage could not be reached for {operation}: {reason}")]
    Unreachable {
        operation: &'static str,
        reason: String,
    },
    #[error(
        "the storage account key is not base64; copy it again from the storage account's access keys"
    )]
    BadKey,
}

/// How requests are authorised.
enum Auth {
    /// The account key, base64-decoded.
    SharedKey(Vec<u8>),
    /// A token for `https://storage.azure.com/.default` (the identity needs Storage Blob Data
    /// Contributor on the account).
    Bearer(std::sync::Arc<crate::source::token::TokenCache>),
}

/// A Blob account client.
pub struct BlobService {
    http: reqwest::Client,
    endpoint: String,
    account: String,
    auth: Auth,
    /// Block-list commits refused because another writer changed the blob first (409/412).
    conflicts: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for BlobService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobService")
            .field("endpoint", &self.endpoint)
            .field("account", &self.account)
            .finish()
    }
}

/// A committed block list and the blob's ETag.
#[derive(Debug, Clone, Default)]
pub struct Committed {
    pub blocks: Vec<String>,
    pub etag: Option<String>,
}

impl BlobService {
    pub fn new(endpoint: &str, account: &str, key: &Secret) -> Result<Self, BlobError> {
        let key = base64::engine::general_purpose::STANDARD
            .decode(key.expose().trim())
            .map_err(|_| BlobError::BadKey)?;
        Ok(Self::with_auth(endpoint, account, Auth::SharedKey(key)))
    }

    /// A client authorised with bearer tokens (a managed identity) instead of the key.
    pub fn with_tokens(
        endpoint: &str,
        account: &str,
        tokens: std::sync::Arc<crate::source::token::TokenCache>,
    ) -> Self {
        Self::with_auth(endpoint, account, Auth::Bearer(tokens))
    }

    fn with_auth(endpoint: &str, account: &str, auth: Auth) -> Self {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .unwrap_or_default();
        Self {
            http,
            endpoint: endpoint.trim_end_matches('/').to_string(),
            account: account.to_string(),
            auth,
            conflicts: Default::default(),
        }
    }

    /// How many commits another writer got in first (each then retried on the new list).
    pub fn conflicts(&self) -> u64 {
        self.conflicts.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Sends one signed request; `path` is `container` or `container/blob`.
    async fn send(
        &self,
        operation: &'static str,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, &str)],
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<reqwest::Response, BlobError> {
        let url = format!("{}/{path}", self.endpoint);
        let url_path = url
            .split_once("://")
            .and_then(|(_, rest)| rest.find('/').map(|i| rest[i..].to_string()))
            .unwrap_or_default();
        let date = httpdate::fmt_http_date(std::time::SystemTime::now());
        let mut ms_headers: Vec<(String, String)> = vec![
            ("x-ms-date".into(), date),
            ("x-ms-version".into(), VERSION.into()),
        ];
        let mut plain: std::collections::BTreeMap<String, String> = Default::default();
        for (k, v) in headers {
            let k = k.to_ascii_lowercase();
            if k.starts_with("x-ms-") {
                ms_headers.push((k, v.clone()));
            } else {
                plain.insert(k, v.clone());
            }
        }
        ms_headers.sort();
        let length = if body.is_empty() {
            String::new()
        } else {
            body.len().to_string()
        };
        let get = |name: &str| plain.get(name).cloned().unwrap_or_default();
        let mut to_sign = format!(
            "{}\n{}\n{}\n{}\n{}\n{}\n\n{}\n{}\n{}\n{}\n{}\n",
            method.as_str(),
            get("content-encoding"),
            get("content-language"),
            length,
            get("content-md5"),
            get("content-type"),
            get("if-modified-since"),
            get("if-match"),
            get("if-none-match"),
            get("if-unmodified-since"),
            get("range"),
        );
        for (k, v) in &ms_headers {
            to_sign.push_str(&format!("{k}:{}\n", v.trim()));
        }
        // Azurite builds the resource from the whole path, so with path-style URLs the account
        // name appears twice (§6.1).
        to_sign.push_str(&format!("/{}{}", self.account, url_path));
        let mut sorted: Vec<(String, &str)> = query
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), *v))
            .collect();
        sorted.sort();
        for (k, v) in &sorted {
            to_sign.push_str(&format!("\n{k}:{v}"));
        }
        let authorization = match &self.auth {
            Auth::SharedKey(key) => {
                let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
                    .map_err(|_| BlobError::BadKey)?;
                mac.update(to_sign.as_bytes());
                let signature =
                    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
                format!("SharedKey {}:{signature}", self.account)
            }
            Auth::Bearer(tokens) => {
                let token = tokens.token().await.map_err(|e| BlobError::Unreachable {
                    operation,
                    reason: format!("no token for Storage: {e}"),
                })?;
                format!("Bearer {}", token.expose())
            }
        };
        let mut req = self
            .http
            .request(method, &url)
            .query(query)
            .header("Authorization", authorization);
        for (k, v) in ms_headers.iter().chain(
            plain
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<Vec<_>>()
                .iter(),
        ) {
            req = req.header(k.as_str(), v.as_str());
        }
        if body.is_empty() {
            // Put Blob and the lease calls need the length said, even when it is 0.
            req = req.header("Content-Length", "0");
        } else {
            req = req.body(body);
        }
        req.send().await.map_err(|e| BlobError::Unreachable {
            operation,
            reason: e.without_url().to_string(),
        })
    }

    /// Creates a container; one that exists already is fine.
    pub async fn create_container(&self, container: &str) -> Result<(), BlobError> {
        let resp = self
            .send(
                "create container",
                reqwest::Method::PUT,
                container,
                &[("restype", "container")],
                &[],
                Vec::new(),
            )
            .await?;
        match resp.status().as_u16() {
            201 | 409 => Ok(()),
            status => Err(status_error("create container", status, resp).await),
        }
    }

    /// The committed blocks of a blob (empty, with no ETag, when the blob does not exist).
    pub async fn committed_blocks(&self, path: &str) -> Result<Committed, BlobError> {
        let resp = self
            .send(
                "get block list",
                reqwest::Method::GET,
                path,
                &[("comp", "blocklist"), ("blocklisttype", "committed")],
                &[],
                Vec::new(),
            )
            .await?;
        match resp.status().as_u16() {
            404 => Ok(Committed::default()),
            200 => {
                let etag = resp
                    .headers()
                    .get("etag")
                    .and_then(|v| v.to_str().ok())
                    .map(String::from);
                let xml = resp.text().await.map_err(|e| BlobError::Unreachable {
                    operation: "get block list",
                    reason: e.to_string(),
                })?;
                Ok(Committed {
                    blocks: names(&xml),
                    etag,
                })
            }
            status => Err(status_error("get block list", status, resp).await),
        }
    }

    /// Stages one block (not visible until committed; staging the same id again replaces it).
    pub async fn put_block(
        &self,
        path: &str,
        block_id: &str,
        body: Vec<u8>,
    ) -> Result<(), BlobError> {
        let resp = self
            .send(
                "put block",
                reqwest::Method::PUT,
                path,
                &[("comp", "block"), ("blockid", block_id)],
                &[],
                body,
            )
            .await?;
        match resp.status().as_u16() {
            201 => Ok(()),
            status => Err(status_error("put block", status, resp).await),
        }
    }

    /// Commits `blocks` as the blob's content, only if the blob is still as last read
    /// (`If-Match` its ETag, or `If-None-Match: *` when it did not exist). Returns false when
    /// another writer got there first.
    pub async fn commit(
        &self,
        path: &str,
        blocks: &[String],
        etag: Option<&str>,
    ) -> Result<bool, BlobError> {
        let mut xml = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
        for b in blocks {
            xml.push_str(&format!("<Latest>{b}</Latest>"));
        }
        xml.push_str("</BlockList>");
        let condition = match etag {
            Some(e) => ("If-Match", e.to_string()),
            None => ("If-None-Match", "*".to_string()),
        };
        let headers = [
            condition,
            ("Content-Type", "application/xml".to_string()),
            ("x-ms-blob-content-type", "application/json".to_string()),
        ];
        let resp = self
            .send(
                "put block list",
                reqwest::Method::PUT,
                path,
                &[("comp", "blocklist")],
                &headers,
                xml.into_bytes(),
            )
            .await?;
        match resp.status().as_u16() {
            201 => Ok(true),
            409 | 412 => {
                self.conflicts
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Ok(false)
            }
            status => Err(status_error("put block list", status, resp).await),
        }
    }

    /// A blob's content, or None when it does not exist.
    pub async fn get(&self, path: &str) -> Result<Option<Vec<u8>>, BlobError> {
        Ok(self.get_tagged(path).await?.map(|(body, _)| body))
    }
}

/// Whole blobs read and written conditionally on their ETag: the durable state's documents.
impl BlobService {
    /// A blob's content and ETag, or None when it does not exist.
    pub async fn get_tagged(&self, path: &str) -> Result<Option<(Vec<u8>, String)>, BlobError> {
        let resp = self
            .send("get blob", reqwest::Method::GET, path, &[], &[], Vec::new())
            .await?;
        match resp.status().as_u16() {
            404 => Ok(None),
            200 => {
                let etag = header(&resp, "etag");
                let body = resp.bytes().await.map_err(|e| BlobError::Unreachable {
                    operation: "get blob",
                    reason: e.to_string(),
                })?;
                Ok(Some((body.to_vec(), etag)))
            }
            status => Err(status_error("get blob", status, resp).await),
        }
    }

    /// Writes a whole blob only if it is still as last read (`If-Match` its ETag, or
    /// `If-None-Match: *` when it did not exist): its new ETag, or None when another writer
    /// changed it first.
    pub async fn put_if(
        &self,
        path: &str,
        body: Vec<u8>,
        etag: Option<&str>,
    ) -> Result<Option<String>, BlobError> {
        let condition = match etag {
            Some(e) => ("If-Match", e.to_string()),
            None => ("If-None-Match", "*".to_string()),
        };
        let headers = [
            condition,
            ("x-ms-blob-type", "BlockBlob".to_string()),
            ("Content-Type", "application/octet-stream".to_string()),
        ];
        let resp = self
            .send("put blob", reqwest::Method::PUT, path, &[], &headers, body)
            .await?;
        match resp.status().as_u16() {
            201 => Ok(Some(header(&resp, "etag"))),
            409 | 412 => Ok(None),
            status => Err(status_error("put blob", status, resp).await),
        }
    }
}

fn header(resp: &reqwest::Response, name: &str) -> String {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

impl BlobService {
    /// Writes a whole blob (replacing one of the same name).
    pub async fn put_blob(&self, path: &str, body: Vec<u8>) -> Result<(), BlobError> {
        let headers = [
            ("x-ms-blob-type", "BlockBlob".to_string()),
            ("Content-Type", "application/json".to_string()),
        ];
        let resp = self
            .send("put blob", reqwest::Method::PUT, path, &[], &headers, body)
            .await?;
        match resp.status().as_u16() {
            201 => Ok(()),
            status => Err(status_error("put blob", status, resp).await),
        }
    }

    /// Deletes a blob; one already gone is fine.
    pub async fn delete_blob(&self, path: &str) -> Result<(), BlobError> {
        let resp = self
            .send(
                "delete blob",
                reqwest::Method::DELETE,
                path,
                &[],
                &[],
                Vec::new(),
            )
            .await?;
        match resp.status().as_u16() {
            202 | 404 => Ok(()),
            status => Err(status_error("delete blob", status, resp).await),
        }
    }

    /// The names of the blobs in `container` starting with `prefix`, in name order (empty
    /// when the container does not exist).
    pub async fn list_blobs(
        &self,
        container: &str,
        prefix: &str,
    ) -> Result<Vec<String>, BlobError> {
        let mut out = Vec::new();
        let mut marker = String::new();
        loop {
            let mut query = vec![
                ("restype", "container"),
                ("comp", "list"),
                ("prefix", prefix),
            ];
            if !marker.is_empty() {
                query.push(("marker", marker.as_str()));
            }
            let resp = self
                .send(
                    "list blobs",
                    reqwest::Method::GET,
                    container,
                    &query,
                    &[],
                    Vec::new(),
                )
                .await?;
            let xml = match resp.status().as_u16() {
                404 => return Ok(out),
                200 => resp.text().await.map_err(|e| BlobError::Unreachable {
                    operation: "list blobs",
                    reason: e.to_string(),
                })?,
                status => return Err(status_error("list blobs", status, resp).await),
            };
            out.extend(names(&xml));
            match between(&xml, "<NextMarker>", "</NextMarker>") {
                Some(m) if !m.is_empty() => marker = m.to_string(),
                _ => break,
            }
        }
        out.sort();
        Ok(out)
    }
}

/// Blob leases (<https://learn.microsoft.com/en-us/rest/api/storageservices/lease-blob>): one
/// holder at a time, for 15 to 60 seconds, renewed by its holder.
impl BlobService {
    /// Creates an empty blob unless one exists (a lease needs a blob to hold).
    pub async fn create_if_absent(&self, path: &str) -> Result<(), BlobError> {
        let headers = [
            ("x-ms-blob-type", "BlockBlob".to_string()),
            ("If-None-Match", "*".to_string()),
        ];
        let resp = self
            .send(
                "create blob",
                reqwest::Method::PUT,
                path,
                &[],
                &headers,
                Vec::new(),
            )
            .await?;
        match resp.status().as_u16() {
            // 409: it exists; 412: it exists and is leased.
            201 | 409 | 412 => Ok(()),
            status => Err(status_error("create blob", status, resp).await),
        }
    }

    async fn lease(
        &self,
        operation: &'static str,
        path: &str,
        headers: &[(&str, String)],
    ) -> Result<reqwest::Response, BlobError> {
        self.send(
            operation,
            reqwest::Method::PUT,
            path,
            &[("comp", "lease")],
            headers,
            Vec::new(),
        )
        .await
    }

    /// Takes the blob's lease for `seconds` (15 to 60) under the id `proposed` (a GUID):
    /// true, or false while someone else holds it.
    pub async fn acquire_lease(
        &self,
        path: &str,
        seconds: u32,
        proposed: &str,
    ) -> Result<bool, BlobError> {
        let headers = [
            ("x-ms-lease-action", "acquire".to_string()),
            ("x-ms-lease-duration", seconds.to_string()),
            ("x-ms-proposed-lease-id", proposed.to_string()),
        ];
        let resp = self.lease("acquire lease", path, &headers).await?;
        match resp.status().as_u16() {
            201 => Ok(true),
            409 => Ok(false),
            status => Err(status_error("acquire lease", status, resp).await),
        }
    }

    /// Extends a lease we hold: false when it is no longer ours (it lapsed and another took it).
    pub async fn renew_lease(&self, path: &str, id: &str) -> Result<bool, BlobError> {
        let headers = [
            ("x-ms-lease-action", "renew".to_string()),
            ("x-ms-lease-id", id.to_string()),
        ];
        let resp = self.lease("renew lease", path, &headers).await?;
        match resp.status().as_u16() {
            200 => Ok(true),
            409 => Ok(false),
            status => Err(status_error("renew lease", status, resp).await),
        }
    }

    /// Gives a lease up before it lapses; one no longer ours is left alone.
    pub async fn release_lease(&self, path: &str, id: &str) -> Result<(), BlobError> {
        let headers = [
            ("x-ms-lease-action", "release".to_string()),
            ("x-ms-lease-id", id.to_string()),
        ];
        let resp = self.lease("release lease", path, &headers).await?;
        match resp.status().as_u16() {
            200 | 409 => Ok(()),
            status => Err(status_error("release lease", status, resp).await),
        }
    }
}

async fn status_error(operation: &'static str, status: u16, resp: reqwest::Response) -> BlobError {
    let body = resp.text().await.unwrap_or_default();
    let code = between(&body, "<Code>", "</Code>")
        .unwrap_or("no error code")
        .to_string();
    BlobError::Status {
        operation,
        status,
        code,
    }
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)? + open.len();
    let end = text[start..].find(close)? + start;
    Some(&text[start..end])
}

/// Every `<Name>` in a block list or blob list answer.
fn names(xml: &str) -> Vec<String> {
    xml.split("<Name>")
        .skip(1)
        .filter_map(|part| part.split("</Name>").next())
        .map(String::from)
        .collect()
}
