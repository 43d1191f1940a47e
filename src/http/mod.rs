//! HTTP/1.1 response framing, pure and incremental: `response` (head via httparse, body
//! length per RFC 9112 §6.3) and `chunked` (chunked transfer coding). Never sees a socket,
//! never stores body bytes.

pub mod chunked;
pub mod response;
