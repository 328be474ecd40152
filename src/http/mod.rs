//! The HTTP face of the function: Lambda events in, Lambda HTTP responses out.

pub mod event;
pub mod problem;
pub mod response;
pub mod route;

pub use event::{Event, HeaderValue};
pub use problem::{Problem, ProblemCode};
pub use response::{LambdaResponse, Response};
