//! Credentials out of what is shown: a registry URL may carry
//! `user:password@` (Confluent's clients take it there), and URLs end up in
//! errors, logs, `Debug` output and dead-letter headers.

/// `text` with the user info of every URL in it (`scheme://user:pass@host`)
/// replaced by `***` (`scheme://***@host`).
pub fn redact_credentials(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        // The authority ends at the first '/', '?', '#', whitespace or quote.
        let end = tail
            .find(|c: char| {
                matches!(c, '/' | '?' | '#' | '"' | '\'' | ')' | ',') || c.is_whitespace()
            })
            .unwrap_or(tail.len());
        match tail[..end].rfind('@') {
            Some(userinfo_end) => {
                out.push_str("***");
                rest = &tail[userinfo_end..];
            }
            None => rest = tail,
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::redact_credentials;

    #[test]
    fn user_info_is_masked_and_the_rest_kept() {
        assert_eq!(
            redact_credentials("at http://u:s3cret@reg:8081/subjects, then https://a@b/x"),
            "at http://***@reg:8081/subjects, then https://***@b/x"
        );
        assert_eq!(redact_credentials("http://reg:8081"), "http://reg:8081");
        assert_eq!(
            redact_credentials("http://u:p@h1,http://v:q@h2"),
            "http://***@h1,http://***@h2"
        );
        // An '@' in the path is not user info.
        assert_eq!(redact_credentials("http://h/a@b"), "http://h/a@b");
        assert_eq!(redact_credentials("no url here"), "no url here");
    }
}
