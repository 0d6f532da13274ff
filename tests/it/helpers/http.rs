//! A minimal HTTP/1.0 client over `std::net::TcpStream`, for talking to a
//! TensorBoard server on the loopback interface. HTTP/1.0 keeps it simple:
//! the server closes the connection after one response, so the body is
//! everything after the headers (no chunked encoding, no keep-alive).

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

/// A response: status code and body.
pub struct Response {
    pub status: u16,
    pub body: String,
}

pub fn get(port: u16, path: &str) -> Result<Response, String> {
    request(port, "GET", path, None)
}

/// POSTs `json` with `Content-Type: application/json`, as TensorBoard's
/// frontend does for the HParams plugin.
pub fn post_json(port: u16, path: &str, json: &str) -> Result<Response, String> {
    request(port, "POST", path, Some(json))
}

/// PUTs an empty body, as S3's CreateBucket takes it (moto's server asks for
/// no signature).
#[cfg(feature = "object-store")]
pub fn put(port: u16, path: &str) -> Result<Response, String> {
    request(port, "PUT", path, Some(""))
}

fn request(port: u16, method: &str, path: &str, json: Option<&str>) -> Result<Response, String> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let fail = |what: &str, e: std::io::Error| format!("{method} {path} on {addr}: {what}: {e}");
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| fail("connect", e))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .map_err(|e| fail("set timeout", e))?;
    let mut head = format!("{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n");
    if let Some(json) = json {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            json.len()
        ));
    }
    head.push_str("\r\n");
    stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(json.unwrap_or("").as_bytes()))
        .map_err(|e| fail("send", e))?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).map_err(|e| fail("read", e))?;
    let raw = String::from_utf8_lossy(&raw);
    let (headers, body) = raw
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("{method} {path}: no end of headers in {raw:?}"))?;
    let status = headers
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("{method} {path}: no status in {headers:?}"))?;
    Ok(Response {
        status,
        body: body.to_string(),
    })
}

/// `s` as a URL query value: every byte but letters, digits and `-_.`
/// percent-encoded.
pub fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
