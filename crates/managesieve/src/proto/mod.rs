//! The protocol layer: bytes to commands ([`framer`], [`command`]) and responses to bytes
//! ([`response`]), with no tokio, no store and no clock.

pub mod command;
pub mod framer;
pub mod response;

pub use command::{Command, SaslResponse, parse, parse_sasl_response};
pub use framer::{Frame, FrameLimits, Framer, Token};
pub use response::{Code, Response, Status};
