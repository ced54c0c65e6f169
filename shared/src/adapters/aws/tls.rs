//! The AWS SDK's HTTPS client. The SDK's default one trusts the host's certificate store,
//! which `rustls-native-certs` reads when each SDK client is built, at cold start: the bundle
//! and then each file of `/etc/ssl/certs`, about 440 certificates decoded and parsed, once
//! per client (DynamoDB, S3, SQS, and STS inside the credentials chain), most of a function's
//! init time (docs/benchmarks.md, "Cold start"). This one trusts Mozilla's root program
//! compiled into the binary (`webpki-root-certs`), the roots our reqwest clients for Telegram
//! and fal.ai use (the same verification, no file reads), and builds its TLS configuration
//! once, on the first AWS call, instead of once per client before the first invocation.

use aws_smithy_http_client::Builder;
use aws_smithy_http_client::tls::{Provider, TlsContext, TrustStore, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::shared::IntoShared;
use base64::Engine;

use super::on_first_use::OnFirstUse;

/// The HTTPS client every SDK client of a function shares.
pub fn https_client() -> SharedHttpClient {
    OnFirstUse::new(hyper_client).into_shared()
}

/// The SDK's hyper client, made when a request first needs a connector. (The SDK's own
/// client builds a connector when each SDK client is configured, to fail early on a broken
/// certificate store; ours is compiled in and cannot be broken.)
impl HttpClient for OnFirstUse<SharedHttpClient> {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        (**self).http_connector(settings, components)
    }
}

fn hyper_client() -> SharedHttpClient {
    let mut roots = TrustStore::empty().with_native_roots(false);
    for cert in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
        roots.add_pem_certificate(pem(cert.as_ref()));
    }
    let context = TlsContext::builder()
        .with_trust_store(roots)
        .build()
        .expect("a trust store of certificates alone is always valid");
    Builder::new()
        // ring, as reqwest (Telegram, fal.ai) uses: one crypto library in the binary instead of
        // ring and aws-lc (5 MB, thousands of relocations at every cold start). The same TLS
        // 1.3 suites and certificate checks; it gives up the post-quantum key exchange aws-lc
        // would prefer, which the photos never had on their way in from Telegram anyway.
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .tls_context(context)
        .build_https()
}

/// One DER certificate as PEM, the only form the SDK's trust store takes.
fn pem(der: &[u8]) -> Vec<u8> {
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = Vec::with_capacity(body.len() + body.len() / 64 + 64);
    pem.extend_from_slice(b"-----BEGIN CERTIFICATE-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.extend_from_slice(line);
        pem.push(b'\n');
    }
    pem.extend_from_slice(b"-----END CERTIFICATE-----\n");
    pem
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mozilla_root_is_written_as_the_pem_of_its_der() {
        let roots = webpki_root_certs::TLS_SERVER_ROOT_CERTS;
        assert!(roots.len() > 100, "{} roots", roots.len());
        for cert in roots {
            let pem = String::from_utf8(pem(cert.as_ref())).unwrap();
            let mut lines: Vec<&str> = pem.lines().collect();
            assert_eq!(lines.remove(0), "-----BEGIN CERTIFICATE-----");
            assert_eq!(lines.pop(), Some("-----END CERTIFICATE-----"));
            assert!(lines.iter().all(|l| l.len() <= 64));
            let der = base64::engine::general_purpose::STANDARD
                .decode(lines.concat())
                .unwrap();
            assert_eq!(der, cert.as_ref());
        }
    }
}
