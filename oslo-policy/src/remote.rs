//! The remote `http:` / `https:` checks: the rule, target and credentials are POSTed to the URL, and
//! the check passes when the response body (quotes stripped) is `True`, as oslo's `HttpCheck`.
//!
//! The options are oslo's `[oslo_policy] remote_*` ones, with its defaults (form encoding, 60 s, and no
//! verification of the server's certificate unless asked).

use std::path::PathBuf;
use std::time::Duration;

/// How the remote checks call out (oslo's `remote_*` options of `[oslo_policy]`).
#[derive(Debug, Clone)]
pub struct RemoteConfig {
    /// Send the payload as JSON (`application/json`) instead of a form (`remote_content_type`).
    pub json_content: bool,
    /// Verify the server's certificate on `https:` (`remote_ssl_verify_server_crt`, default false as oslo).
    pub verify_server: bool,
    /// The CA bundle to verify the server with (`remote_ssl_ca_crt_file`).
    pub ca_file: Option<PathBuf>,
    /// The client certificate (`remote_ssl_client_crt_file`).
    pub client_cert_file: Option<PathBuf>,
    /// The client key (`remote_ssl_client_key_file`).
    pub client_key_file: Option<PathBuf>,
    /// The timeout of one call (`remote_timeout`, 60 s).
    pub timeout: Duration,
}

impl Default for RemoteConfig {
    fn default() -> RemoteConfig {
        RemoteConfig {
            json_content: false,
            verify_server: false,
            ca_file: None,
            client_cert_file: None,
            client_key_file: None,
            timeout: Duration::from_secs(60),
        }
    }
}

#[cfg(feature = "http")]
mod imp {
    use serde_json::{Map, Value};

    use super::RemoteConfig;

    fn readable(path: &std::path::Path, what: &str) -> Result<Vec<u8>, String> {
        if !path.exists() {
            return Err(format!("Unable to find ssl {what}  : {}", path.display()));
        }
        std::fs::read(path)
            .map_err(|_| format!("Unable to access ssl {what}  : {}", path.display()))
    }

    fn agent(config: &RemoteConfig, https: bool) -> Result<ureq::Agent, String> {
        use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig};
        let mut tls = TlsConfig::builder().disable_verification(!config.verify_server);
        if https {
            let cert = config
                .client_cert_file
                .as_deref()
                .map(|p| readable(p, "cert_file"))
                .transpose()?;
            let key = config
                .client_key_file
                .as_deref()
                .map(|p| readable(p, "key_file"))
                .transpose()?;
            if let (Some(cert), Some(key)) = (cert, key) {
                let chain = Certificate::from_pem(&cert).map_err(|e| e.to_string())?;
                let key = PrivateKey::from_pem(&key).map_err(|e| e.to_string())?;
                tls = tls.client_cert(Some(ClientCert::new_with_certs(&[chain], key)));
            }
            if config.verify_server
                && let Some(ca) = &config.ca_file
            {
                let pem = readable(ca, "ca cert_file")
                    .map_err(|_| format!("Unable to find ca cert_file  : {}", ca.display()))?;
                let certs = ureq::tls::parse_pem(&pem)
                    .filter_map(|item| match item {
                        Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                        _ => None,
                    })
                    .collect::<Vec<_>>();
                tls = tls.root_certs(RootCerts::new_with_certs(&certs));
            }
        }
        Ok(ureq::Agent::config_builder()
            .timeout_global(Some(config.timeout))
            .http_status_as_error(false)
            .tls_config(tls.build())
            .build()
            .into())
    }

    /// Calls `url` with the payload; `Ok(true)` when the body is `True`.
    pub(crate) fn check(
        config: &RemoteConfig,
        https: bool,
        url: &str,
        current_rule: Option<&str>,
        target: &Map<String, Value>,
        creds: &Map<String, Value>,
    ) -> Result<bool, String> {
        let agent = agent(config, https)?;
        let rule = current_rule.map_or(Value::Null, |r| Value::String(r.into()));
        let target = Value::Object(target.clone());
        let creds = Value::Object(creds.clone());
        let request = agent.post(url);
        let response = if config.json_content {
            let mut body = Map::new();
            body.insert("rule".into(), rule);
            body.insert("target".into(), target);
            body.insert("credentials".into(), creds);
            request
                .header("Content-Type", "application/json")
                .send(crate::python::json_dumps(&Value::Object(body)))
        } else {
            request.send_form([
                ("rule", crate::python::json_dumps(&rule)),
                ("target", crate::python::json_dumps(&target)),
                ("credentials", crate::python::json_dumps(&creds)),
            ])
        };
        let mut response = response.map_err(|e| match e {
            ureq::Error::Timeout(_) => "Timeout in REST API call".to_string(),
            other => other.to_string(),
        })?;
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|e| e.to_string())?;
        Ok(text.trim_start_matches('"').trim_end_matches('"') == "True")
    }
}

#[cfg(feature = "http")]
pub(crate) use imp::check;
