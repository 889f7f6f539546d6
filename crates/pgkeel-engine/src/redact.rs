//! Hiding the password of a PostgreSQL connection string (URL or key=value form) before it is
//! printed or logged. Pure.

/// Hide the password in a PostgreSQL connection string (URL or key=value form).
pub fn redact_url(url: &str) -> String {
    if let Some(scheme_end) = url.find("://") {
        let (scheme, rest) = url.split_at(scheme_end + 3);
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        let authority = match authority.rfind('@') {
            Some(at) => {
                let (userinfo, host) = authority.split_at(at);
                match userinfo.find(':') {
                    Some(colon) => format!("{}:***{host}", &userinfo[..colon]),
                    None => authority.to_string(),
                }
            }
            None => authority.to_string(),
        };
        let tail = redact_query_password(tail);
        return format!("{scheme}{authority}{tail}");
    }
    // key=value form: hide the value of password=…, quoted or not.
    let mut out = String::new();
    let mut rest = url;
    while let Some(pos) = rest.find("password") {
        let after = &rest[pos + "password".len()..];
        let trimmed = after.trim_start();
        if let Some(value) = trimmed.strip_prefix('=') {
            out.push_str(&rest[..pos]);
            out.push_str("password=***");
            let value = value.trim_start();
            let consumed = if let Some(q) = value.strip_prefix('\'') {
                let mut end = 0;
                let bytes = q.as_bytes();
                while end < bytes.len() {
                    if bytes[end] == b'\\' {
                        end += 2;
                        continue;
                    }
                    if bytes[end] == b'\'' {
                        break;
                    }
                    end += 1;
                }
                1 + (end + 1).min(q.len())
            } else {
                value.find(char::is_whitespace).unwrap_or(value.len())
            };
            let skip = after.len() - value.len() + consumed;
            rest = &after[skip.min(after.len())..];
        } else {
            out.push_str(&rest[..pos + "password".len()]);
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

fn redact_query_password(tail: &str) -> String {
    let Some(q) = tail.find('?') else {
        return tail.to_string();
    };
    let (path, query) = tail.split_at(q + 1);
    let parts: Vec<String> = query
        .split('&')
        .map(|kv| {
            if kv.starts_with("password=") {
                "password=***".to_string()
            } else {
                kv.to_string()
            }
        })
        .collect();
    format!("{path}{}", parts.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://u:p%40ss@h:5432/db?sslmode=require"),
            "postgres://u:***@h:5432/db?sslmode=require"
        );
        assert_eq!(
            redact_url("postgresql://u@h/db?password=x&application_name=a"),
            "postgresql://u@h/db?password=***&application_name=a"
        );
        assert_eq!(redact_url("postgres://h/db"), "postgres://h/db");
        assert_eq!(
            redact_url("host=h password=secret user=u"),
            "host=h password=*** user=u"
        );
        assert_eq!(
            redact_url("host=h password = 'se cret\\' x' user=u"),
            "host=h password=*** user=u"
        );
    }
}
