//! What mail clients download to set themselves up, on the autoconfig listener:
//!
//! - Thunderbird's autoconfig file
//!   (<https://wiki.mozilla.org/Thunderbird:Autoconfiguration:ConfigFileFormat>);
//! - Outlook's autodiscover, the 2006 "outlook" schema ([MS-OXDSCLI] §2.2.4): a POSTed
//!   request naming `EMailAddress` and `AcceptableResponseSchema`, answered with the IMAP
//!   and SMTP settings for that address;
//! - Apple's configuration profile (`.mobileconfig`), unsigned, with one
//!   `com.apple.mail.managed` payload (Apple's Configuration Profile Reference).
//!
//! Every answer is for an address (or domain) in `[server] local_domains` only; the
//! account itself is not looked up, so these files tell nobody which accounts exist.
//! Every client signs in with the address and password over implicit TLS (IMAP 993,
//! submissions 465 unless configured otherwise) and presents the certificate the server
//! asks for during the handshake.

use quick_xml::escape::escape;
use quick_xml::events::Event;

use crate::config::Config;

/// The response schema Outlook asks for ([MS-OXDSCLI] §2.2.4.1.1.1).
pub const OUTLOOK_SCHEMA: &str =
    "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a";

/// Where a local domain's clients connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSettings {
    /// The mail domain.
    pub domain: String,
    /// The server's host name (`[server] hostname`).
    pub hostname: String,
    /// The IMAP port with implicit TLS.
    pub imap_port: u16,
    /// The submission port with implicit TLS.
    pub smtp_port: u16,
}

/// The settings for `domain`, or `None` when it is not one of `[server] local_domains`.
pub fn settings(config: &Config, domain: &str) -> Option<ClientSettings> {
    let domain = domain.to_ascii_lowercase();
    if !config
        .server
        .local_domains
        .iter()
        .any(|d| d.eq_ignore_ascii_case(&domain))
    {
        return None;
    }
    let port = |addrs: &[std::net::SocketAddr], default: u16| {
        addrs
            .first()
            .map(|a| a.port())
            .filter(|p| *p != 0)
            .unwrap_or(default)
    };
    Some(ClientSettings {
        domain,
        hostname: config.server.hostname.clone(),
        imap_port: port(&config.imap.listen_tls, 993),
        smtp_port: port(&config.smtp.listen_submissions, 465),
    })
}

/// The settings for a whole address (`local@domain`), or `None` when it is no address of a
/// local domain.
pub fn settings_for_address(config: &Config, address: &str) -> Option<ClientSettings> {
    let (local, domain) = address.rsplit_once('@')?;
    if local.is_empty() || local.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    settings(config, domain)
}

/// Thunderbird's autoconfig file for the domain of `emailaddress` (query) or of the Host
/// header (`autoconfig.<domain>`); `None` when it is not a local domain.
pub fn autoconfig(config: &Config, emailaddress: Option<&str>, host: &str) -> Option<String> {
    let host = host.split(':').next().unwrap_or("").to_ascii_lowercase();
    let domain = match emailaddress.and_then(|a| a.rsplit_once('@')) {
        Some((_, d)) => d.to_string(),
        None => host
            .strip_prefix("autoconfig.")
            .unwrap_or(&host)
            .to_string(),
    };
    let s = settings(config, &domain)?;
    let (domain, name) = (escape(&s.domain), escape(&s.hostname));
    let (imap, smtp) = (s.imap_port, s.smtp_port);
    let server = |tag: &str, kind: &str, port: u16| {
        format!(
            r#"    <{tag} type="{kind}">
      <hostname>{name}</hostname>
      <port>{port}</port>
      <socketType>SSL</socketType>
      <username>%EMAILADDRESS%</username>
      <authentication>password-cleartext</authentication>
    </{tag}>
"#
        )
    };
    // The password is the second factor: Thunderbird signs in with it and presents the
    // certificate the server asks for during the TLS handshake.
    Some(format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="{domain}">
    <domain>{domain}</domain>
    <displayName>{name}</displayName>
    <displayShortName>{domain}</displayShortName>
{}{}  </emailProvider>
</clientConfig>
"#,
        server("incomingServer", "imap", imap),
        server("outgoingServer", "smtp", smtp),
    ))
}

/// What an Outlook autodiscover request asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutodiscoverRequest {
    /// `Request/EMailAddress`.
    pub email: String,
    /// `Request/AcceptableResponseSchema`.
    pub schema: String,
}

/// Parses Outlook's request body: `<Autodiscover><Request><EMailAddress>` and
/// `<AcceptableResponseSchema>` (namespace prefixes ignored). The error says what is
/// wrong, for the 400 answer.
pub fn parse_autodiscover(body: &[u8]) -> Result<AutodiscoverRequest, String> {
    let text = std::str::from_utf8(body).map_err(|_| "the request is not UTF-8".to_string())?;
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().trim_text(true);
    let mut path: Vec<String> = Vec::new();
    let (mut email, mut schema) = (String::new(), String::new());
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("the request is not well-formed XML: {e}"))?;
        let into = match path.iter().map(String::as_str).collect::<Vec<_>>()[..] {
            ["Autodiscover", "Request", "EMailAddress"] => Some(&mut email),
            ["Autodiscover", "Request", "AcceptableResponseSchema"] => Some(&mut schema),
            _ => None,
        };
        match event {
            Event::Start(e) => {
                path.push(e.local_name().as_ref().to_string());
                if path.len() > 8 {
                    return Err("the request nests elements too deeply".into());
                }
            }
            Event::End(_) => {
                path.pop();
            }
            Event::Text(t) => into.into_iter().for_each(|s| s.push_str(&t)),
            Event::GeneralRef(r) => {
                let c = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    _ => quick_xml::escape::resolve_predefined_entity(&r)
                        .ok_or_else(|| format!("unknown entity &{};", &*r))?
                        .to_string(),
                };
                into.into_iter().for_each(|s| s.push_str(&c));
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if email.is_empty() {
        return Err("the request names no Autodiscover/Request/EMailAddress".into());
    }
    Ok(AutodiscoverRequest {
        email: email.trim().to_string(),
        schema: schema.trim().to_string(),
    })
}

/// The 2006a answer for `email`: one IMAP and one SMTP protocol, SSL on, the address as
/// login name.
pub fn autodiscover_settings(s: &ClientSettings, email: &str) -> String {
    let (email, host) = (escape(email), escape(&s.hostname));
    let protocol = |kind: &str, port: u16, extra: &str| {
        format!(
            "      <Protocol>
        <Type>{kind}</Type>
        <Server>{host}</Server>
        <Port>{port}</Port>
        <DomainRequired>off</DomainRequired>
        <LoginName>{email}</LoginName>
        <SPA>off</SPA>
        <SSL>on</SSL>
        <AuthRequired>on</AuthRequired>{extra}
      </Protocol>
"
        )
    };
    let smtp_extra = "\n        <UsePOPAuth>on</UsePOPAuth>\n        <SMTPLast>off</SMTPLast>";
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">
  <Response xmlns="{OUTLOOK_SCHEMA}">
    <User>
      <DisplayName>{email}</DisplayName>
    </User>
    <Account>
      <AccountType>email</AccountType>
      <Action>settings</Action>
{}{}    </Account>
  </Response>
</Autodiscover>
"#,
        protocol("IMAP", s.imap_port, ""),
        protocol("SMTP", s.smtp_port, smtp_extra),
    )
}

/// The 2006 error answer ([MS-OXDSCLI] §2.2.4.2.1.5): 600 invalid request, 601 schema not
/// available, 603 no such domain here.
pub fn autodiscover_error(code: u16, message: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">
  <Response>
    <Error Time="00:00:00" Id="0">
      <ErrorCode>{code}</ErrorCode>
      <Message>{}</Message>
      <DebugData />
    </Error>
  </Response>
</Autodiscover>
"#,
        escape(message)
    )
}

/// An unsigned Apple configuration profile with one `com.apple.mail.managed` payload for
/// `email`. Its UUIDs derive from the host and address, so installing it again replaces
/// the earlier one instead of adding a second account.
pub fn mobileconfig(s: &ClientSettings, email: &str) -> String {
    let (email_x, host, domain) = (escape(email), escape(&s.hostname), escape(&s.domain));
    let reverse: Vec<&str> = s.hostname.rsplit('.').collect();
    let id = escape(reverse.join("."));
    let (outer, inner) = (uuid(s, email, "profile"), uuid(s, email, "mail"));
    let server = |dir: &str, port: u16| {
        format!(
            "      <key>{dir}MailServerAuthentication</key><string>EmailAuthPassword</string>
      <key>{dir}MailServerHostName</key><string>{host}</string>
      <key>{dir}MailServerPortNumber</key><integer>{port}</integer>
      <key>{dir}MailServerUseSSL</key><true/>
      <key>{dir}MailServerUsername</key><string>{email_x}</string>
"
        )
    };
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>PayloadContent</key>
  <array>
    <dict>
      <key>EmailAccountDescription</key><string>{domain}</string>
      <key>EmailAccountName</key><string>{email_x}</string>
      <key>EmailAccountType</key><string>EmailTypeIMAP</string>
      <key>EmailAddress</key><string>{email_x}</string>
{}{}      <key>OutgoingPasswordSameAsIncomingPassword</key><true/>
      <key>PayloadDescription</key><string>Mail on {host} (IMAP and SMTP over TLS)</string>
      <key>PayloadDisplayName</key><string>{email_x}</string>
      <key>PayloadIdentifier</key><string>{id}.mail.{inner}</string>
      <key>PayloadType</key><string>com.apple.mail.managed</string>
      <key>PayloadUUID</key><string>{inner}</string>
      <key>PayloadVersion</key><integer>1</integer>
    </dict>
  </array>
  <key>PayloadDescription</key><string>Sets up {email_x} on {host}. Sign in with your password; the certificate is asked for when connecting.</string>
  <key>PayloadDisplayName</key><string>{domain} mail</string>
  <key>PayloadIdentifier</key><string>{id}.profile.{outer}</string>
  <key>PayloadRemovalDisallowed</key><false/>
  <key>PayloadType</key><string>Configuration</string>
  <key>PayloadUUID</key><string>{outer}</string>
  <key>PayloadVersion</key><integer>1</integer>
</dict>
</plist>
"#,
        server("Incoming", s.imap_port),
        server("Outgoing", s.smtp_port),
    )
}

/// A name-based UUID (version 5 layout over SHA-256 instead of SHA-1) of host, address
/// and `what`: stable for the same account, different for every other.
fn uuid(s: &ClientSettings, email: &str, what: &str) -> String {
    let input = format!("{}\0{}\0{what}", s.hostname, email.to_ascii_lowercase());
    let d = ring::digest::digest(&ring::digest::SHA256, input.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&d.as_ref()[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode_upper(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Outlook 2016's request body, as it POSTs it.
    const OUTLOOK: &str = r#"<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>hong&#64;test.go.kr</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>"#;

    #[test]
    fn outlook_request_is_read_with_references_resolved() {
        let r = parse_autodiscover(OUTLOOK.as_bytes()).expect("parses");
        assert_eq!(r.email, "hong@test.go.kr");
        assert_eq!(r.schema, OUTLOOK_SCHEMA);
    }

    #[test]
    fn broken_requests_say_what_is_wrong() {
        let e = parse_autodiscover(b"<Autodiscover><Request></Request></Autodiscover>")
            .expect_err("no address");
        assert!(e.contains("EMailAddress"), "{e}");
        let e = parse_autodiscover(b"<Autodiscover><Request><EMailAddress>a</Request>")
            .expect_err("mismatched");
        assert!(e.contains("not well-formed"), "{e}");
        let deep = "<a>".repeat(20);
        assert!(parse_autodiscover(deep.as_bytes()).is_err());
    }
}
