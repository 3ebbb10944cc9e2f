//! What [`GithubApi::new`](super::GithubApi::new) refuses before anything is sent: a base URL
//! that would take the token somewhere else. (Repositories and branch names are parsed with the
//! configuration: `config::Repository`, `config::BranchName`.)

use url::Url;

use super::GithubError;

pub(super) fn check_base(mut base: Url) -> Result<Url, GithubError> {
    let refuse = |why: &str| GithubError::Permanent(format!("the GitHub API URL {why}"));
    let loopback = match base.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(host)) => host.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    match base.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            return Err(refuse(
                "must use https, or the token would travel in the clear",
            ));
        }
        _ => return Err(refuse("must be an http(s) URL")),
    }
    if base.cannot_be_a_base() || base.host().is_none() {
        return Err(refuse("must name a host"));
    }
    if !base.username().is_empty() || base.password().is_some() {
        return Err(refuse("must not carry credentials"));
    }
    if base.query().is_some() || base.fragment().is_some() {
        return Err(refuse("must not carry a query or fragment"));
    }
    if !base.path().ends_with('/') {
        let path = format!("{}/", base.path());
        base.set_path(&path);
    }
    Ok(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_base_url_must_keep_the_token_safe() {
        let base = |url: &str| check_base(url.parse().unwrap());
        assert!(base("http://api.github.com/").is_err());
        assert!(base("ftp://api.github.com/").is_err());
        assert!(base("https://user:pw@api.github.com/").is_err());
        assert!(base("https://api.github.com/?x=1").is_err());
        assert!(base("http://127.0.0.1:8080/").is_ok());
        assert!(base("http://localhost:8080/api/v3").is_ok());
        assert!(base("http://[::1]:8080/").is_ok());
    }
}
