//! Credentials out of what is shown: a registry URL may carry
//! `user:password@` (Confluent's clients take it there), and URLs end up in
//! errors, logs, `Debug` output and dead-letter headers.

/// `text` with the user info of every URL in it (`scheme://user:pass@host`)
/// replaced by `***` (`scheme://***@host`).
///
/// A password may hold almost any character unencoded (`)`, `'`, `,`, `#`,
/// even `/`), so the user info is taken as everything up to the last `@`
/// before the URL's end: the next whitespace, backtick or double quote, or
/// the start of the next URL of a comma-separated list. An `@` in a path is
/// masked too: showing too little is the safe side.
pub fn redact_credentials(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let mut end = tail
            .find(|c: char| c.is_whitespace() || c == '`' || c == '"')
            .unwrap_or(tail.len());
        if let Some(next) = next_url_in_list(&tail[..end]) {
            end = next;
        }
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

/// Where the next URL of a comma-separated list (`,scheme://`) begins in `token`.
fn next_url_in_list(token: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(comma) = token[from..].find(',').map(|i| from + i) {
        let after = &token[comma + 1..];
        let scheme_len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '+' || c == '-' || c == '.'))
            .unwrap_or(after.len());
        if scheme_len > 0 && after[scheme_len..].starts_with("://") {
            return Some(comma);
        }
        from = comma + 1;
    }
    None
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
        assert_eq!(redact_credentials("no url here"), "no url here");
        // Passwords with the characters a URL parser takes unencoded.
        for password in ["pa)ss", "pa'ss", "pa,ss", "pa#ss", "pa/ss", "p@ss"] {
            let shown =
                redact_credentials(&format!("registry URL `http://u:{password}@reg:8081`: bad"));
            assert_eq!(
                shown, "registry URL `http://***@reg:8081`: bad",
                "{password}"
            );
        }
        // An `@` in a path is masked with it: too little shown, not too much.
        assert_eq!(redact_credentials("http://h/a@b"), "http://***@b");
    }
}
