//! The otpauth:// URI as a QR code in inline SVG (no script, no image request: the CSP
//! allows neither).

/// `text` as an SVG QR code, or `None` when it is too long for one.
pub(crate) fn svg(text: &str) -> Option<String> {
    use qrcode::render::svg;
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    Some(
        code.render::<svg::Color<'_>>()
            .min_dimensions(200, 200)
            .dark_color(svg::Color("#000000"))
            .light_color(svg::Color("#ffffff"))
            .quiet_zone(true)
            .build(),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn renders_svg() {
        let s = super::svg("otpauth://totp/x:y?secret=ABC").expect("fits");
        assert!(s.contains("<svg") && s.contains("</svg>"));
    }
}
