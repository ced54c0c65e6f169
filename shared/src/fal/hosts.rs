//! Where result files (generated images, LoRA weights) may be fetched from: fal.ai's CDN
//! hosts (`FAL_RESULT_HOSTS`), over https only. An entry is a host name, which also admits its
//! subdomains (`fal.media` admits `v3.fal.media`), or an exact origin with its scheme
//! (`http://127.0.0.1:4567`, for a self-hosted or test CDN).

use std::str::FromStr;

use url::Url;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    /// https, this host or a subdomain of it.
    Domain(String),
    /// Exactly this scheme, host and port.
    Origin(url::Origin),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultHosts(Vec<Entry>);

impl ResultHosts {
    pub const DEFAULT: &'static str = "fal.media";

    pub fn allows(&self, url: &Url) -> bool {
        let Some(host) = url.host_str() else {
            return false;
        };
        let host = host.to_ascii_lowercase();
        self.0.iter().any(|entry| match entry {
            Entry::Domain(domain) => {
                url.scheme() == "https"
                    && url.port().is_none_or(|p| p == 443)
                    && (host == *domain || host.ends_with(&format!(".{domain}")))
            }
            Entry::Origin(origin) => url.origin() == *origin,
        })
    }

    /// This list and one more exact origin (a test CDN).
    pub fn with_origin(mut self, origin: &Url) -> Self {
        self.0.push(Entry::Origin(origin.origin()));
        self
    }
}

impl FromStr for ResultHosts {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut entries = Vec::new();
        for raw in s.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if raw.contains("://") {
                let url = Url::parse(raw).map_err(|e| format!("{raw:?}: {e}"))?;
                if url.host_str().is_none() {
                    return Err(format!("{raw:?} has no host"));
                }
                entries.push(Entry::Origin(url.origin()));
            } else {
                let domain = raw.trim_start_matches('.').to_ascii_lowercase();
                if domain.is_empty()
                    || !domain
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
                {
                    return Err(format!("{raw:?} is not a host name"));
                }
                if !domain.contains('.') {
                    return Err(format!(
                        "{raw:?} is a top-level name; it would admit every host under it"
                    ));
                }
                entries.push(Entry::Domain(domain));
            }
        }
        if entries.is_empty() {
            return Err("names no host".into());
        }
        Ok(Self(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn https_on_the_listed_domains_only() {
        let hosts: ResultHosts = ResultHosts::DEFAULT.parse().unwrap();
        assert!(hosts.allows(&url("https://v3.fal.media/files/rabbit/x.jpeg")));
        assert!(hosts.allows(&url("https://fal.media/files/x.jpeg")));
        assert!(
            !hosts.allows(&url("http://v3.fal.media/files/x.jpeg")),
            "http"
        );
        assert!(
            !hosts.allows(&url("https://v3.fal.media:8443/x")),
            "other port"
        );
        assert!(!hosts.allows(&url("https://evilfal.media/x")));
        assert!(!hosts.allows(&url("https://fal.media.evil.example/x")));
        assert!(!hosts.allows(&url("https://169.254.169.254/latest/meta-data")));
        assert!(!hosts.allows(&url("file:///etc/passwd")));
    }

    #[test]
    fn origins_are_exact() {
        let hosts: ResultHosts = "fal.media, http://127.0.0.1:4567".parse().unwrap();
        assert!(hosts.allows(&url("http://127.0.0.1:4567/files/a")));
        assert!(!hosts.allows(&url("http://127.0.0.1:4568/files/a")));
        assert!(!hosts.allows(&url("https://127.0.0.1:4567/files/a")));
        for bad in ["", " , ", "media", "fal media", "http://"] {
            assert!(bad.parse::<ResultHosts>().is_err(), "{bad:?}");
        }
    }
}
