//! The few S3 operations the durable state needs on AWS — read an object with its ETag, write
//! one conditionally (`If-Match` / `If-None-Match: *`, which S3 honours since 2024) — signed
//! with Signature Version 4 from the credentials Lambda gives a function in its environment
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`).
//! <https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html>
//! <https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html>

use crate::secret::Secret;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    #[error("S3 answered {status} to {operation}: {code}")]
    Status {
        operation: &'static str,
        status: u16,
        code: String,
    },
    #[error("S3 could not be reached for {operation}: {reason}")]
    Unreachable {
        operation: &'static str,
        reason: String,
    },
}

/// AWS credentials (the role's, as Lambda hands them to the function).
#[derive(Clone)]
pub struct AwsCredentials {
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub session_token: Option<Secret>,
}

/// One bucket.
pub struct S3Bucket {
    http: reqwest::Client,
    /// `https://<bucket>.s3.<region>.amazonaws.com`, or `<endpoint>/<bucket>` (path style,
    /// for an emulator or another S3-compatible service).
    base: String,
    bucket: String,
    region: String,
    credentials: AwsCredentials,
}

impl std::fmt::Debug for S3Bucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Bucket")
            .field("base", &self.base)
            .finish()
    }
}

impl S3Bucket {
    /// The bucket in `region`, at AWS or (`endpoint`) elsewhere.
    pub fn new(
        bucket: &str,
        region: &str,
        endpoint: Option<&str>,
        credentials: AwsCredentials,
    ) -> Self {
        let base = match endpoint {
            Some(e) => format!("{}/{bucket}", e.trim_end_matches('/')),
            None => format!("https://{bucket}.s3.{region}.amazonaws.com"),
        };
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .unwrap_or_default();
        Self {
            http,
            base,
            bucket: bucket.to_string(),
            region: region.to_string(),
            credentials,
        }
    }

    pub fn describe(&self) -> String {
        format!("s3://{} ({})", self.bucket, self.region)
    }

    async fn send(
        &self,
        operation: &'static str,
        method: reqwest::Method,
        key: &str,
        extra: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<reqwest::Response, S3Error> {
        let unreachable = |reason: String| S3Error::Unreachable { operation, reason };
        let url = if key.is_empty() {
            self.base.clone()
        } else {
            format!("{}/{}", self.base, encode_path(key))
        };
        let parsed = reqwest::Url::parse(&url).map_err(|e| unreachable(e.to_string()))?;
        let host = match parsed.port() {
            Some(p) => format!("{}:{p}", parsed.host_str().unwrap_or_default()),
            None => parsed.host_str().unwrap_or_default().to_string(),
        };
        let now = chrono::Utc::now();
        let request = Request {
            method: method.as_str(),
            path: parsed.path(),
            host: &host,
            headers: extra,
            payload_hash: &hex(&Sha256::digest(&body)),
            amz_date: &now.format("%Y%m%dT%H%M%SZ").to_string(),
        };
        let (authorization, signed) = request.sign(&self.credentials, &self.region);
        let mut req = self.http.request(method, url).body(body);
        for (name, value) in signed {
            if name != "host" {
                req = req.header(name, value);
            }
        }
        req.header("authorization", authorization)
            .send()
            .await
            .map_err(|e| unreachable(e.without_url().to_string()))
    }

    /// Creates the bucket (the templates do this in a deployment; tests and first runs on an
    /// emulator need it). One that exists and is ours is fine.
    pub async fn create(&self) -> Result<(), S3Error> {
        let body = if self.region == "us-east-1" {
            Vec::new()
        } else {
            format!(
                "<CreateBucketConfiguration><LocationConstraint>{}</LocationConstraint></CreateBucketConfiguration>",
                self.region
            )
            .into_bytes()
        };
        let resp = self
            .send("create bucket", reqwest::Method::PUT, "", &[], body)
            .await?;
        match resp.status().as_u16() {
            200 | 409 => Ok(()),
            status => Err(status_error("create bucket", status, resp).await),
        }
    }

    /// An object's content and ETag, or None when it does not exist.
    pub async fn get(&self, key: &str) -> Result<Option<(Vec<u8>, String)>, S3Error> {
        let resp = self
            .send("get object", reqwest::Method::GET, key, &[], Vec::new())
            .await?;
        match resp.status().as_u16() {
            404 => Ok(None),
            200 => {
                let etag = etag(&resp);
                let body = resp.bytes().await.map_err(|e| S3Error::Unreachable {
                    operation: "get object",
                    reason: e.to_string(),
                })?;
                Ok(Some((body.to_vec(), etag)))
            }
            status => Err(status_error("get object", status, resp).await),
        }
    }

    /// Writes an object only if it is still as last read (`If-Match` its ETag, or
    /// `If-None-Match: *` when it did not exist): its new ETag, or None when another writer
    /// changed it first.
    pub async fn put_if(
        &self,
        key: &str,
        body: Vec<u8>,
        etag_read: Option<&str>,
    ) -> Result<Option<String>, S3Error> {
        let condition = match etag_read {
            Some(e) => ("if-match", e.to_string()),
            None => ("if-none-match", "*".to_string()),
        };
        let resp = self
            .send("put object", reqwest::Method::PUT, key, &[condition], body)
            .await?;
        match resp.status().as_u16() {
            200 => Ok(Some(etag(&resp))),
            // 412: the condition failed; 409: a concurrent conditional write won.
            409 | 412 => Ok(None),
            status => Err(status_error("put object", status, resp).await),
        }
    }
}

/// A request to sign: what Signature Version 4 covers.
struct Request<'a> {
    method: &'a str,
    /// The URI path, already encoded.
    path: &'a str,
    host: &'a str,
    /// Headers to send and sign besides host, x-amz-date and x-amz-content-sha256.
    headers: &'a [(&'a str, String)],
    payload_hash: &'a str,
    amz_date: &'a str,
}

impl Request<'_> {
    /// The `Authorization` header, and every signed header (lower-case names, host included).
    fn sign(&self, creds: &AwsCredentials, region: &str) -> (String, Vec<(String, String)>) {
        let mut headers: Vec<(String, String)> = vec![
            ("host".into(), self.host.to_string()),
            ("x-amz-content-sha256".into(), self.payload_hash.to_string()),
            ("x-amz-date".into(), self.amz_date.to_string()),
        ];
        if let Some(token) = &creds.session_token {
            headers.push(("x-amz-security-token".into(), token.expose().to_string()));
        }
        for (k, v) in self.headers {
            headers.push((k.to_ascii_lowercase(), v.trim().to_string()));
        }
        headers.sort();
        let names: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
        let signed_names = names.join(";");
        let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
        let canonical = format!(
            "{}\n{}\n\n{canonical_headers}\n{signed_names}\n{}",
            self.method, self.path, self.payload_hash
        );
        let day = &self.amz_date[..8];
        let scope = format!("{day}/{region}/s3/aws4_request");
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n{}\n{scope}\n{}",
            self.amz_date,
            hex(&Sha256::digest(canonical.as_bytes()))
        );
        let secret = format!("AWS4{}", creds.secret_access_key.expose());
        let mut key = mac(secret.as_bytes(), day.as_bytes());
        for part in [region, "s3", "aws4_request"] {
            key = mac(&key, part.as_bytes());
        }
        let signature = hex(&mac(&key, to_sign.as_bytes()));
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_names}, Signature={signature}",
            creds.access_key_id
        );
        (authorization, headers)
    }
}

fn mac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key");
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A key as a URI path: every byte but the unreserved ones and `/` percent-encoded.
fn encode_path(key: &str) -> String {
    key.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn etag(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

async fn status_error(operation: &'static str, status: u16, resp: reqwest::Response) -> S3Error {
    let body = resp.text().await.unwrap_or_default();
    let code = body
        .split_once("<Code>")
        .and_then(|(_, rest)| rest.split_once("</Code>"))
        .map(|(code, _)| code.to_string())
        .unwrap_or_else(|| "no error code".into());
    S3Error::Status {
        operation,
        status,
        code,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of AWS's Signature Version 4 documentation for S3 ("GET Object",
    /// sig-v4-header-based-auth.html): the same request must give the same signature.
    #[test]
    fn a_request_is_signed_as_in_the_aws_documentation() {
        let creds = AwsCredentials {
            access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_access_key: Secret::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
            session_token: None,
        };
        let range = [("Range", "bytes=0-9".to_string())];
        let request = Request {
            method: "GET",
            path: "/test.txt",
            host: "examplebucket.s3.amazonaws.com",
            headers: &range,
            payload_hash: &hex(&Sha256::digest(b"")),
            amz_date: "20130524T000000Z",
        };
        let (authorization, _) = request.sign(&creds, "us-east-1");
        assert_eq!(
            authorization,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
    }

    #[test]
    fn keys_are_encoded_as_uri_paths() {
        assert_eq!(
            encode_path("bookkeeping/contoso.onmicrosoft.com/Sign In+x"),
            "bookkeeping/contoso.onmicrosoft.com/Sign%20In%2Bx"
        );
    }
}
