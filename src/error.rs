//! Errors as people read them: the error and its causes, outermost first.

use std::error::Error;

/// An error and its causes, outermost first, leaving out a cause whose text an
/// outer one already contains.
pub fn chain(error: &(dyn Error + 'static)) -> Vec<String> {
    let mut chain: Vec<String> = Vec::new();
    let mut next = Some(error);
    while let Some(e) = next {
        let text = e.to_string();
        if !chain.iter().any(|c| c.contains(&text)) {
            chain.push(text);
        }
        next = e.source();
    }
    chain
}

/// The chain on one line, for messages and logs.
pub fn one_line(error: &(dyn Error + 'static)) -> String {
    chain(error).join(": ")
}
