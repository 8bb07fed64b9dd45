//! Task logs: the ring buffer the Logs pane draws from, and the tail that
//! fills it (and prints `wharf logs`).

pub mod buffer;
pub mod tail;

pub use buffer::{LogBuffer, LogLine, Search};
pub use tail::{TailControl, TailEvent, TailMode, TailTarget, tail};
