//! Parsing HTTP/1.1 message heads with `httparse`: the exporter server's requests and the PBS
//! client's responses. Only the fields the two sides act on are kept.

use super::accept_encoding::AcceptEncoding;

/// Most header lines a head may have; more is refused rather than allocated.
const MAX_HEADERS: usize = 48;

/// Why a head could not be parsed.
#[derive(Debug, PartialEq, Eq)]
pub enum ParseError {
    /// `httparse` rejected the syntax.
    Syntax(&'static str),
    /// The head did not end where the caller said it did.
    Incomplete,
    /// A header the framing depends on is malformed or contradictory.
    Framing(&'static str),
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParseError::Syntax(s) => write!(f, "malformed HTTP head: {s}"),
            ParseError::Incomplete => f.write_str("incomplete HTTP head"),
            ParseError::Framing(s) => write!(f, "bad HTTP framing: {s}"),
        }
    }
}

/// A request head, borrowing from the connection's read buffer.
#[derive(Debug, PartialEq)]
pub struct RequestHead<'a> {
    /// `GET`, `HEAD`, ...
    pub method: &'a str,
    /// The path without the query string.
    pub path: &'a str,
    /// The query string without `?`, empty when absent.
    pub query: &'a str,
    /// Whether the client allows the connection to stay open after the response.
    pub keep_alive: bool,
    /// HTTP/1.1 (or later) rather than 1.0.
    pub http11: bool,
    /// The request announced a body (which this server does not read).
    pub has_body: bool,
    /// Prometheus' `X-Prometheus-Scrape-Timeout-Seconds`, raw (see `budget::scrape_budget`).
    pub scrape_timeout: Option<&'a [u8]>,
    /// The `Authorization` header's value (the first, if repeated).
    pub authorization: Option<&'a [u8]>,
    /// What the `Accept-Encoding` headers allow.
    pub accept_encoding: AcceptEncoding,
}

/// Parses a complete request head (as returned by `Conn::read_head`).
pub fn parse_request(head: &[u8]) -> Result<RequestHead<'_>, ParseError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(ParseError::Incomplete),
        Err(e) => return Err(ParseError::Syntax(syntax_error(e))),
    }
    let version = req.version.unwrap_or(1);
    let target = req.path.unwrap_or("/");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut keep_alive = version >= 1;
    let mut has_body = false;
    let mut scrape_timeout = None;
    let mut authorization = None;
    let mut accept_encoding = AcceptEncoding::default();
    for h in req.headers.iter() {
        if h.name.eq_ignore_ascii_case("connection") {
            keep_alive = connection_keep_alive(h.value, keep_alive);
        } else if h.name.eq_ignore_ascii_case("content-length") {
            has_body |= h.value != b"0";
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            has_body = true;
        } else if h
            .name
            .eq_ignore_ascii_case("x-prometheus-scrape-timeout-seconds")
        {
            scrape_timeout = Some(h.value);
        } else if h.name.eq_ignore_ascii_case("authorization") {
            authorization = authorization.or(Some(h.value));
        } else if h.name.eq_ignore_ascii_case("accept-encoding") {
            accept_encoding.add(h.value);
        }
    }
    Ok(RequestHead {
        method: req.method.unwrap_or(""),
        path,
        query,
        keep_alive,
        http11: version >= 1,
        has_body,
        scrape_timeout,
        authorization,
        accept_encoding,
    })
}

/// How a response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `Content-Length` bytes follow.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// The body runs until the server closes the connection.
    UntilClose,
}

/// The parts of a response head the client acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseHead {
    /// The status code.
    pub status: u16,
    /// How the body is delimited.
    pub framing: Framing,
    /// Whether the server keeps the connection open after the body.
    pub keep_alive: bool,
}

/// Parses a complete response head to a request with the given method.
pub fn parse_response(head: &[u8], head_request: bool) -> Result<ResponseHead, ParseError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    match resp.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(ParseError::Incomplete),
        Err(e) => return Err(ParseError::Syntax(syntax_error(e))),
    }
    let status = resp.code.unwrap_or(0);
    let mut keep_alive = resp.version == Some(1);
    let mut length: Option<u64> = None;
    let mut chunked = false;
    for h in resp.headers.iter() {
        if h.name.eq_ignore_ascii_case("connection") {
            keep_alive = connection_keep_alive(h.value, keep_alive);
        } else if h.name.eq_ignore_ascii_case("content-length") {
            let n = content_length(h.value).ok_or(ParseError::Framing("invalid Content-Length"))?;
            if length.is_some_and(|l| l != n) {
                return Err(ParseError::Framing("conflicting Content-Length"));
            }
            length = Some(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            let last = h.value.rsplit(|&b| b == b',').next().unwrap_or(b"");
            if last.trim_ascii().eq_ignore_ascii_case(b"chunked") {
                chunked = true;
            } else {
                return Err(ParseError::Framing("unsupported Transfer-Encoding"));
            }
        }
    }
    let framing = if head_request || status == 204 || status == 304 || (100..200).contains(&status)
    {
        Framing::Length(0)
    } else if chunked {
        if length.is_some() {
            return Err(ParseError::Framing("both Content-Length and chunked"));
        }
        Framing::Chunked
    } else if let Some(n) = length {
        Framing::Length(n)
    } else {
        keep_alive = false;
        Framing::UntilClose
    };
    Ok(ResponseHead {
        status,
        framing,
        keep_alive,
    })
}

/// A `Content-Length` value: digits only (RFC 9110; no sign, no other whitespace than
/// spaces and tabs around it), no overflow.
fn content_length(value: &[u8]) -> Option<u64> {
    let digits = value.trim_ascii();
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// Applies a `Connection` header value to the version's default.
fn connection_keep_alive(value: &[u8], default: bool) -> bool {
    let mut keep = default;
    for token in value.split(|&b| b == b',') {
        let t = token.trim_ascii();
        if t.eq_ignore_ascii_case(b"close") {
            return false;
        }
        if t.eq_ignore_ascii_case(b"keep-alive") {
            keep = true;
        }
    }
    keep
}

fn syntax_error(e: httparse::Error) -> &'static str {
    match e {
        httparse::Error::HeaderName => "invalid header name",
        httparse::Error::HeaderValue => "invalid header value",
        httparse::Error::NewLine => "invalid line ending",
        httparse::Error::Status => "invalid status",
        httparse::Error::Token => "invalid token",
        httparse::Error::TooManyHeaders => "too many headers",
        httparse::Error::Version => "invalid HTTP version",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_with_query_and_prometheus_timeout() {
        let r = parse_request(
            b"GET /metrics?target=a HTTP/1.1\r\nHost: x\r\nX-Prometheus-Scrape-Timeout-Seconds: 9.5\r\n\r\n",
        )
        .unwrap();
        assert_eq!(r.method, "GET");
        assert_eq!(r.path, "/metrics");
        assert_eq!(r.query, "target=a");
        assert!(r.keep_alive);
        assert_eq!(r.scrape_timeout, Some(&b"9.5"[..]));
    }

    #[test]
    fn authorization_and_accept_encoding_are_kept() {
        let r = parse_request(
            b"GET /metrics HTTP/1.1\r\nAccept-Encoding: br\r\nauthorization: Basic YTpi\r\naccept-encoding: gzip;q=0.1\r\nAuthorization: Basic other\r\n\r\n",
        )
        .unwrap();
        assert_eq!(r.authorization, Some(&b"Basic YTpi"[..]));
        assert!(r.accept_encoding.gzip(), "headers are folded");
        let r = parse_request(b"GET / HTTP/1.1\r\nAccept-Encoding: gzip;q=0\r\n\r\n").unwrap();
        assert_eq!(r.authorization, None);
        assert!(!r.accept_encoding.gzip());
    }

    #[test]
    fn http10_and_connection_close_do_not_keep_alive() {
        assert!(!parse_request(b"GET / HTTP/1.0\r\n\r\n").unwrap().keep_alive);
        assert!(
            parse_request(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                .unwrap()
                .keep_alive
        );
        assert!(
            !parse_request(b"GET / HTTP/1.1\r\nConnection: Close\r\n\r\n")
                .unwrap()
                .keep_alive
        );
    }

    #[test]
    fn response_framing() {
        let r = parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n", false).unwrap();
        assert_eq!(
            (r.status, r.framing, r.keep_alive),
            (200, Framing::Length(12), true)
        );
        let r = parse_response(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            false,
        )
        .unwrap();
        assert_eq!(r.framing, Framing::Chunked);
        let r = parse_response(b"HTTP/1.1 401 Unauthorized\r\n\r\n", false).unwrap();
        assert_eq!(
            (r.status, r.framing, r.keep_alive),
            (401, Framing::UntilClose, false)
        );
        let r = parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", true).unwrap();
        assert_eq!(r.framing, Framing::Length(0));
    }

    #[test]
    fn contradictory_framing_is_refused() {
        for head in [
            &b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        ] {
            assert!(matches!(
                parse_response(head, false),
                Err(ParseError::Framing(_))
            ));
        }
        assert!(matches!(
            parse_response(b"HTTP/1.1 2x0 OK\r\n\r\n", false),
            Err(ParseError::Syntax(_))
        ));
    }
}
