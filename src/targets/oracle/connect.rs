//! Oracle connect strings as DBAs write them, turned into what the thin driver understands.
//!
//! The driver reads Easy Connect (`host:port/service`, `tcps://host:port/service`), full
//! descriptors and tnsnames aliases, but it silently drops Easy Connect Plus parameters
//! (`…/service?wallet_location=/w&retry_count=3`): its parser stops after the service name.
//! Sentri reads those parameters itself, so a wallet or an SSL DN named in the string is used
//! rather than ignored. It also accepts the reference product's `oracle://user@host:port/service`
//! (the user always comes from [`DatabaseConfig::username`], never from the string).
//!
//! # TCPS with a wallet
//! The thin driver loads `ewallet.pem` (PEM, not `cwallet.sso`; convert a PKCS#12 wallet with
//! `openssl pkcs12 -in ewallet.p12 -out ewallet.pem`) from a wallet *directory*, named either
//! - in the string: `tcps://db:2484/svc?wallet_location=/etc/sentri/wallet` (Easy Connect Plus), or
//! - for a descriptor or a tnsnames alias, which cannot carry it, by `TNS_ADMIN`: when that
//!   directory holds an `ewallet.pem`, Sentri uses it as the wallet (the layout of a cloud
//!   wallet zip: `tnsnames.ora` and `ewallet.pem` side by side).
//!
//! An encrypted `ewallet.pem` needs its password in `SENTRI_DB_<NAME>_WALLET_PASSWORD`.
//! A one-way TLS server (no client certificate) needs no wallet when its certificate chains to
//! a public root; a private CA's certificate goes into `ewallet.pem`. Failures surface as
//! [`ErrorKind::Tls`](crate::targets::ErrorKind::Tls).
//!
//! [`DatabaseConfig::username`]: crate::config::DatabaseConfig::username

use std::fmt::Write as _;
use std::time::Duration;

/// Which shape the connect string had, which decides how the driver resolves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectForm {
    /// `[tcp[s]://]host[:port]/service[:server][/instance]`.
    EasyConnect,
    /// `(DESCRIPTION=…)` or `(DESCRIPTION_LIST=…)`.
    Descriptor,
    /// A net service name looked up in `tnsnames.ora` under `TNS_ADMIN`.
    TnsAlias,
}

/// A connect string understood: what to hand the driver and the settings that travel beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OracleAddress {
    /// Easy Connect text, a full descriptor, or an alias — never a user or a password.
    pub connect_string: String,
    pub form: ConnectForm,
    /// Directory holding `ewallet.pem`, from `?wallet_location=`.
    pub wallet_location: Option<String>,
    /// From `?transport_connect_timeout=`; the connect timeout still bounds it.
    pub transport_connect_timeout: Option<Duration>,
    /// Whether the string asks for TCPS (TLS), so failures can say so.
    pub uses_tcps: bool,
}

/// Easy Connect Plus parameters that Sentri applies. Any other parameter is refused rather
/// than silently dropped: a DBA who wrote `ssl_server_dn_match=on` must get it or hear why not.
pub const SUPPORTED_PARAMETERS: &[&str] = &[
    "wallet_location",
    "transport_connect_timeout",
    "retry_count",
    "retry_delay",
    "expire_time",
    "sdu",
    "ssl_server_dn_match",
    "ssl_server_cert_dn",
];

/// Reads a connect string. The error says what is wrong, without echoing anything before an
/// `@` (where a user or a password would be).
pub fn parse_connect_string(raw: &str) -> Result<OracleAddress, String> {
    let text = raw.trim();
    let text = strip_scheme(text);
    if text.is_empty() {
        return Err("the connection string is empty".to_owned());
    }
    if text.starts_with('(') {
        if !balanced(text) {
            return Err("the descriptor's parentheses do not balance".to_owned());
        }
        let squeezed: String = text.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase();
        return Ok(OracleAddress {
            connect_string: text.to_owned(),
            form: ConnectForm::Descriptor,
            wallet_location: None,
            transport_connect_timeout: None,
            uses_tcps: squeezed.contains("(PROTOCOL=TCPS)"),
        });
    }
    let (base, query) = match text.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (text, None),
    };
    // `user@host:1521/svc`, `user@ALIAS`: the user comes from the configuration.
    let base = base.rsplit_once('@').map_or(base, |(_, host)| host).trim();
    if base.is_empty() {
        return Err("no host, service or alias after the user".to_owned());
    }
    if base.chars().any(|c| c.is_whitespace() || c == '(' || c == ')') {
        return Err(format!("`{base}` is neither Easy Connect (host:port/service) nor a descriptor"));
    }
    if !base.contains('/') && !base.contains(':') {
        if query.is_some() {
            return Err(format!(
                "`{base}` looks like a tnsnames alias; Easy Connect parameters (`?…`) need host:port/service"
            ));
        }
        return Ok(OracleAddress {
            connect_string: base.to_owned(),
            form: ConnectForm::TnsAlias,
            wallet_location: None,
            transport_connect_timeout: None,
            uses_tcps: false,
        });
    }
    let easy = EasyConnect::parse(base)?;
    let mut address = OracleAddress {
        connect_string: base.to_owned(),
        form: ConnectForm::EasyConnect,
        wallet_location: None,
        transport_connect_timeout: None,
        uses_tcps: easy.protocol == "tcps",
    };
    let mut descriptor_parameters = DescriptorParameters::default();
    for parameter in query.unwrap_or_default().split('&').filter(|p| !p.trim().is_empty()) {
        let (key, value) = parameter.split_once('=').unwrap_or((parameter, ""));
        let key = key.trim().to_ascii_lowercase();
        let value = value.trim();
        match key.as_str() {
            // Stripped by the configuration loader already; never forwarded.
            "password" | "passwd" | "pwd" | "user" => {}
            "wallet_location" => address.wallet_location = Some(non_empty(&key, value)?.to_owned()),
            "transport_connect_timeout" => address.transport_connect_timeout = Some(parse_duration(&key, value)?),
            "retry_count" => descriptor_parameters.retry_count = Some(parse_number(&key, value)?),
            "retry_delay" => descriptor_parameters.retry_delay = Some(parse_number(&key, value)?),
            "expire_time" => descriptor_parameters.expire_time = Some(parse_number(&key, value)?),
            "sdu" => descriptor_parameters.sdu = Some(parse_number(&key, value)?),
            "ssl_server_dn_match" => descriptor_parameters.ssl_server_dn_match = Some(parse_switch(&key, value)?),
            "ssl_server_cert_dn" => {
                let value = value.trim_matches('"');
                if value.contains(['"', '(', ')']) {
                    return Err("ssl_server_cert_dn may not contain quotes or parentheses".to_owned());
                }
                descriptor_parameters.ssl_server_cert_dn = Some(non_empty(&key, value)?.to_owned());
            }
            other => {
                return Err(format!(
                    "unsupported Easy Connect parameter `{other}` (supported: {})",
                    SUPPORTED_PARAMETERS.join(", ")
                ));
            }
        }
    }
    if descriptor_parameters != DescriptorParameters::default() {
        address.connect_string = easy.descriptor(&descriptor_parameters)?;
        address.form = ConnectForm::Descriptor;
    }
    Ok(address)
}

/// `oracle://` (the reference product's form) and `oracle+thin://` say only "this is Oracle".
fn strip_scheme(text: &str) -> &str {
    for scheme in ["oracle://", "oracle+thin://", "oracle+oracledb://"] {
        if text.len() >= scheme.len() && text[..scheme.len()].eq_ignore_ascii_case(scheme) {
            return &text[scheme.len()..];
        }
    }
    text
}

fn balanced(text: &str) -> bool {
    let mut depth: i64 = 0;
    for c in text.chars() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            _ => {}
        }
    }
    depth == 0
}

fn non_empty<'a>(key: &str, value: &'a str) -> Result<&'a str, String> {
    if value.is_empty() { Err(format!("`{key}` has no value")) } else { Ok(value) }
}

fn parse_number(key: &str, value: &str) -> Result<u32, String> {
    value.parse::<u32>().map_err(|_| format!("`{key}` must be a whole number, not `{value}`"))
}

fn parse_switch(key: &str, value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "on" | "yes" | "true" => Ok(true),
        "off" | "no" | "false" => Ok(false),
        _ => Err(format!("`{key}` must be on or off, not `{value}`")),
    }
}

/// Oracle Net durations: seconds by default, or with `ms`, `sec`, `min`.
fn parse_duration(key: &str, value: &str) -> Result<Duration, String> {
    let lower = value.to_ascii_lowercase();
    let (number, scale) = if let Some(n) = lower.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = lower.strip_suffix("sec") {
        (n, 1.0)
    } else if let Some(n) = lower.strip_suffix("min") {
        (n, 60.0)
    } else {
        (lower.as_str(), 1.0)
    };
    match number.trim().parse::<f64>() {
        Ok(seconds) if seconds.is_finite() && seconds > 0.0 => Ok(Duration::from_secs_f64(seconds * scale)),
        _ => Err(format!("`{key}` must be a positive duration (e.g. 5, 500ms, 1min), not `{value}`")),
    }
}

#[derive(Debug, Default, PartialEq, Eq)]
struct DescriptorParameters {
    retry_count: Option<u32>,
    retry_delay: Option<u32>,
    expire_time: Option<u32>,
    sdu: Option<u32>,
    ssl_server_dn_match: Option<bool>,
    ssl_server_cert_dn: Option<String>,
}

/// One Easy Connect string taken apart, so parameters the driver would drop can be written
/// into a descriptor instead.
#[derive(Debug, PartialEq, Eq)]
struct EasyConnect {
    protocol: String,
    /// The host part as written: `h`, `h:1521`, `h1,h2:1521`, `[::1]:1521`.
    hosts: String,
    service: String,
    server: Option<String>,
    instance: Option<String>,
}

impl EasyConnect {
    fn parse(text: &str) -> Result<EasyConnect, String> {
        let (protocol, rest) = match text.split_once("://") {
            Some((protocol, rest)) => (protocol.to_ascii_lowercase(), rest),
            None => ("tcp".to_owned(), text.strip_prefix("//").unwrap_or(text)),
        };
        if protocol != "tcp" && protocol != "tcps" {
            return Err(format!("protocol `{protocol}` is not supported (tcp or tcps)"));
        }
        // The host part ends at the first `/` outside an IPv6 `[...]`.
        let mut in_brackets = false;
        let slash = rest.char_indices().find_map(|(index, c)| {
            match c {
                '[' => in_brackets = true,
                ']' => in_brackets = false,
                '/' if !in_brackets => return Some(index),
                _ => {}
            }
            None
        });
        let Some(slash) = slash else {
            return Err(format!("`{text}` names no service: Easy Connect is host[:port]/service"));
        };
        let hosts = &rest[..slash];
        let after = &rest[slash + 1..];
        let (service_part, instance) = match after.split_once('/') {
            Some((service, instance)) => (service, Some(instance.to_owned())),
            None => (after, None),
        };
        let (service, server) = match service_part.split_once(':') {
            Some((service, server)) => (service, Some(server.to_owned())),
            None => (service_part, None),
        };
        if hosts.is_empty() || service.is_empty() {
            return Err(format!("`{text}` needs both a host and a service: host[:port]/service"));
        }
        Ok(EasyConnect { protocol, hosts: hosts.to_owned(), service: service.to_owned(), server, instance })
    }

    /// The same target as a full descriptor carrying the extra parameters. Only one host: a
    /// list with failover settings belongs in a descriptor the DBA writes.
    fn descriptor(&self, extra: &DescriptorParameters) -> Result<String, String> {
        if self.hosts.contains([',', ';']) {
            return Err("Easy Connect parameters with several hosts: write a full (DESCRIPTION=…) instead".to_owned());
        }
        let (host, port) = split_host_port(&self.hosts)?;
        let mut out = String::from("(DESCRIPTION=");
        for (name, value) in [
            ("RETRY_COUNT", extra.retry_count),
            ("RETRY_DELAY", extra.retry_delay),
            ("EXPIRE_TIME", extra.expire_time),
            ("SDU", extra.sdu),
        ] {
            if let Some(value) = value {
                let _ = write!(out, "({name}={value})");
            }
        }
        let _ = write!(
            out,
            "(ADDRESS=(PROTOCOL={})(HOST={host})(PORT={port}))(CONNECT_DATA=(SERVICE_NAME={})",
            self.protocol.to_ascii_uppercase(),
            self.service
        );
        if let Some(server) = &self.server {
            let _ = write!(out, "(SERVER={server})");
        }
        if let Some(instance) = &self.instance {
            let _ = write!(out, "(INSTANCE_NAME={instance})");
        }
        out.push(')');
        if extra.ssl_server_dn_match.is_some() || extra.ssl_server_cert_dn.is_some() {
            out.push_str("(SECURITY=");
            if let Some(on) = extra.ssl_server_dn_match {
                let _ = write!(out, "(SSL_SERVER_DN_MATCH={})", if on { "ON" } else { "OFF" });
            }
            if let Some(dn) = &extra.ssl_server_cert_dn {
                let _ = write!(out, "(SSL_SERVER_CERT_DN=\"{dn}\")");
            }
            out.push(')');
        }
        out.push(')');
        Ok(out)
    }
}

/// `host`, `host:1521`, `[::1]:1521` → (host, port); 1521 when no port is written.
fn split_host_port(text: &str) -> Result<(String, u16), String> {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(|| format!("`{text}`: unclosed `[`"))?;
        (host, after.strip_prefix(':'))
    } else {
        match text.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        }
    };
    let port = match port {
        Some(port) => port.parse::<u16>().map_err(|_| format!("`{port}` is not a port number"))?,
        None => 1521,
    };
    if host.is_empty() {
        return Err(format!("`{text}` has no host"));
    }
    Ok((host.to_owned(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> OracleAddress {
        match parse_connect_string(text) {
            Ok(address) => address,
            Err(error) => panic!("{text}: {error}"),
        }
    }

    /// What the driver itself makes of a string: its canonical descriptor.
    fn driver_descriptor(connect_string: &str) -> String {
        match oracledb::Config::default().set_connect_string(connect_string) {
            Ok(config) => config.get_connect_descriptor().to_ascii_uppercase(),
            Err(error) => panic!("the driver refused {connect_string}: {error}"),
        }
    }

    #[test]
    fn easy_connect_host_port_service_and_host_service() {
        let address = parsed("db-host.example.com:1521/ORCLPDB1");
        assert_eq!(address.form, ConnectForm::EasyConnect);
        assert_eq!(address.connect_string, "db-host.example.com:1521/ORCLPDB1");
        assert!(!address.uses_tcps);
        let descriptor = driver_descriptor(&address.connect_string);
        assert!(descriptor.contains("(HOST=DB-HOST.EXAMPLE.COM)(PORT=1521)"), "{descriptor}");
        assert!(descriptor.contains("(SERVICE_NAME=ORCLPDB1)"), "{descriptor}");

        let address = parsed("  dbhost/sales.example.com ");
        assert_eq!(address.connect_string, "dbhost/sales.example.com");
        let descriptor = driver_descriptor(&address.connect_string);
        assert!(descriptor.contains("(PORT=1521)"), "the default port: {descriptor}");
        assert!(descriptor.contains("(SERVICE_NAME=SALES.EXAMPLE.COM)"), "{descriptor}");
    }

    #[test]
    fn tcps_easy_connect() {
        let address = parsed("tcps://db.example.com:2484/secure_svc");
        assert!(address.uses_tcps);
        assert_eq!(address.form, ConnectForm::EasyConnect);
        let descriptor = driver_descriptor(&address.connect_string);
        assert!(descriptor.contains("(PROTOCOL=TCPS)"), "{descriptor}");
        assert!(descriptor.contains("(PORT=2484)"), "{descriptor}");
        assert!(parse_connect_string("ftp://h:1/s").is_err());
    }

    #[test]
    fn the_driver_drops_easy_connect_plus_parameters_so_sentri_reads_them() {
        // The reason this module exists: the driver keeps host and service and forgets the rest.
        let ignored = driver_descriptor("tcps://h:2484/svc?ssl_server_cert_dn=CN=x&retry_count=7");
        assert!(!ignored.contains("RETRY_COUNT"), "{ignored}");

        let address = parsed("tcps://h:2484/svc?wallet_location=/etc/sentri/wallet");
        assert_eq!(address.wallet_location.as_deref(), Some("/etc/sentri/wallet"));
        assert_eq!(address.connect_string, "tcps://h:2484/svc", "nothing else needs a descriptor");
        assert_eq!(address.form, ConnectForm::EasyConnect);

        let address = parsed(
            "tcps://adb.example.com:1522/abc_high.adb.example.com?wallet_location=/w&retry_count=20&retry_delay=3\
             &ssl_server_cert_dn=\"CN=adb.example.com,O=Oracle Corporation,C=US\"&transport_connect_timeout=5",
        );
        assert_eq!(address.form, ConnectForm::Descriptor);
        assert_eq!(address.wallet_location.as_deref(), Some("/w"));
        assert_eq!(address.transport_connect_timeout, Some(Duration::from_secs(5)));
        let descriptor = driver_descriptor(&address.connect_string);
        for part in [
            "(RETRY_COUNT=20)",
            "(RETRY_DELAY=3)",
            "(PROTOCOL=TCPS)(HOST=ADB.EXAMPLE.COM)(PORT=1522)",
            "(SERVICE_NAME=ABC_HIGH.ADB.EXAMPLE.COM)",
            "(SSL_SERVER_CERT_DN=CN=ADB.EXAMPLE.COM,O=ORACLE CORPORATION,C=US)",
        ] {
            assert!(descriptor.contains(part), "{part} missing from {descriptor}");
        }
    }

    #[test]
    fn unknown_or_malformed_parameters_are_refused() {
        let error = parse_connect_string("h:1521/s?walet_location=/w").expect_err("typo refused");
        assert!(error.contains("walet_location") && error.contains("wallet_location"), "{error}");
        assert!(parse_connect_string("h:1521/s?retry_count=many").is_err());
        assert!(parse_connect_string("h:1521/s?transport_connect_timeout=-1").is_err());
        assert!(parse_connect_string("h1,h2:1521/s?retry_count=2").is_err());
        assert!(parse_connect_string("PRODDB?retry_count=2").is_err());
        assert_eq!(parse_duration("t", "500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("t", "2 min"), Ok(Duration::from_secs(120)));
    }

    #[test]
    fn full_descriptors_pass_through() {
        let text = "(DESCRIPTION=(ADDRESS=(PROTOCOL=TCPS)(HOST=h)(PORT=2484))(CONNECT_DATA=(SERVICE_NAME=s)))";
        let address = parsed(text);
        assert_eq!(address.form, ConnectForm::Descriptor);
        assert_eq!(address.connect_string, text);
        assert!(address.uses_tcps);
        let descriptor = driver_descriptor(&address.connect_string);
        assert!(descriptor.contains("(HOST=H)(PORT=2484)") && descriptor.contains("(SERVICE_NAME=S)"));

        let spaced = parsed(
            "(DESCRIPTION = (ADDRESS = (PROTOCOL = tcp)(HOST = h)(PORT = 1521))\n (CONNECT_DATA = (SID = ORCL)))",
        );
        assert!(!spaced.uses_tcps);
        assert!(driver_descriptor(&spaced.connect_string).contains("(SID=ORCL)"));
        assert!(parse_connect_string("(DESCRIPTION=(ADDRESS=(HOST=h)").is_err());
    }

    #[test]
    fn reference_oracle_url_drops_scheme_and_user() {
        let address = parsed("oracle://sentri_agent@db-host:1521/ORCL");
        assert_eq!(address.connect_string, "db-host:1521/ORCL");
        assert_eq!(address.form, ConnectForm::EasyConnect);
        // Whatever precedes `@` never reaches the driver, even a password the loader missed.
        let address = parsed("ORACLE://scott/tiger@db-host:1521/ORCL");
        assert_eq!(address.connect_string, "db-host:1521/ORCL");
        let address = parsed("scott@PRODDB");
        assert_eq!((address.form, address.connect_string.as_str()), (ConnectForm::TnsAlias, "PRODDB"));
        assert!(parse_connect_string("oracle://scott@").is_err());
        let error = parse_connect_string("oracle://scott:tiger@bad host/x").expect_err("refused");
        assert!(!error.contains("tiger"), "{error}");
    }

    #[test]
    fn tnsnames_aliases_are_detected_and_resolved_by_the_driver() {
        let address = parsed("PRODDB.example.com");
        assert_eq!(address.form, ConnectForm::TnsAlias);
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(
            dir.path().join("tnsnames.ora"),
            "PRODDB.example.com =\n  (DESCRIPTION =\n    (ADDRESS = (PROTOCOL = TCPS)(HOST = prod-scan)(PORT = 2484))\n    (CONNECT_DATA = (SERVICE_NAME = prod_rw)))\n",
        )
        .expect("write tnsnames.ora");
        let config_dir = dir.path().to_string_lossy().into_owned();
        let config = oracledb::Config::default()
            .set_config_dir(&config_dir)
            .set_connect_string(&address.connect_string)
            .expect("alias resolved");
        let descriptor = config.get_connect_descriptor().to_ascii_uppercase();
        assert!(descriptor.contains("(HOST=PROD-SCAN)(PORT=2484)"), "{descriptor}");
        assert!(oracledb::Config::default().set_config_dir(&config_dir).set_connect_string("NOSUCH").is_err());
    }

    #[test]
    fn ipv6_and_server_type_and_instance() {
        let easy = EasyConnect::parse("tcp://[::1]:1522/svc:dedicated/inst2").expect("parses");
        assert_eq!(easy.hosts, "[::1]:1522");
        assert_eq!((easy.server.as_deref(), easy.instance.as_deref()), (Some("dedicated"), Some("inst2")));
        let descriptor = easy
            .descriptor(&DescriptorParameters { expire_time: Some(10), ..DescriptorParameters::default() })
            .expect("one host");
        assert_eq!(
            descriptor,
            "(DESCRIPTION=(EXPIRE_TIME=10)(ADDRESS=(PROTOCOL=TCP)(HOST=::1)(PORT=1522))\
             (CONNECT_DATA=(SERVICE_NAME=svc)(SERVER=dedicated)(INSTANCE_NAME=inst2)))"
        );
        assert!(EasyConnect::parse("h:1521").is_err(), "no service");
    }
}
