//! The config parser (`certmail_config::check`: TOML parse, then every section and key
//! checked, every problem collected). Checks, besides no panic: every problem names its
//! key and says what is wrong; a configuration that passes writes out (`to_toml`) as text
//! that passes again and writes out the same (the round trip `certmail dev` and the
//! installation tests rely on).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match certmail_config::check(text) {
        Ok(config) => {
            let written = config.to_toml();
            let again = certmail_config::check(&written)
                .unwrap_or_else(|problems| panic!("{written}\nfails again: {problems:?}"));
            assert_eq!(
                again.to_toml(),
                written,
                "the round trip changes the config"
            );
        }
        Err(problems) => {
            assert!(!problems.is_empty(), "a refusal lists at least one problem");
            for problem in problems {
                assert!(
                    !problem.key.is_empty() && !problem.message.is_empty(),
                    "{problem:?}"
                );
            }
        }
    }
});
