//! The app's configuration sources: Rocket's figment (`Rocket.toml`
//! profiles and `ROCKET_*` variables) over every default the app relies
//! on, kept here in the code so that the binary runs alone, without a
//! `Rocket.toml` beside it. The library reads its own keys (`bcrypt_cost`,
//! `remember_days`, ...) from the same figment: see `wristband::Settings`.

use rocket::figment::providers::{Env, Format, Serialized, Toml};
use rocket::figment::{Figment, Profile};

/// Rocket's configuration sources, as `rocket::Config::figment()` reads
/// them (`Rocket.toml`, then `ROCKET_*` variables, then `ROCKET_PROFILE`),
/// with wristband's defaults laid between Rocket's own defaults and those
/// sources. Rocket's own defaults are not all safe for this app: it trusts
/// `X-Real-IP` unless told otherwise.
pub fn figment() -> Figment {
    Figment::from(rocket::Config::default())
        .merge(Serialized::defaults(Defaults::default()))
        // The release profile serves: listen on every interface, as
        // `Rocket.toml` has always said.
        .merge(Serialized::default("address", "0.0.0.0").profile(rocket::Config::RELEASE_PROFILE))
        .merge(Toml::file(Env::var_or("ROCKET_CONFIG", "Rocket.toml")).nested())
        .merge(Env::prefixed("ROCKET_").ignore(&["PROFILE"]).global())
        .select(Profile::from_env_or(
            "ROCKET_PROFILE",
            rocket::Config::DEFAULT_PROFILE,
        ))
}

/// The defaults of Rocket's and rocket_db_pools' keys that wristband sets
/// differently (the library's keys default in `wristband::Settings`).
#[derive(serde::Serialize)]
struct Defaults {
    /// Off: without a proxy that sets a header, any client could claim any
    /// address and dodge per-address throttling.
    ip_header: bool,
    limits: Limits,
    databases: Databases,
}

#[derive(serde::Serialize)]
struct Limits {
    /// Every form of ours fits in far less; anything larger gets 413.
    form: &'static str,
    json: &'static str,
}

#[derive(serde::Serialize)]
struct Databases {
    wristband: DatabaseDefaults,
}

#[derive(serde::Serialize)]
struct DatabaseDefaults {
    /// A SQLite file in the working directory, created on first run.
    url: &'static str,
    max_connections: usize,
    connect_timeout: u64,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            ip_header: false,
            limits: Limits {
                form: "16 KiB",
                json: "16 KiB",
            },
            databases: Databases {
                wristband: DatabaseDefaults {
                    url: "sqlite://wristband.sqlite",
                    max_connections: 16,
                    connect_timeout: 5,
                },
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use wristband::Settings;

    /// Every value `Rocket.toml` sets is the code's default for that profile,
    /// so the binary without the file behaves the same.
    #[test]
    fn rocket_toml_only_repeats_the_code_defaults() {
        use rocket::figment::value::{Dict, Value};
        use rocket::figment::Provider;
        use rocket::serde::json::Value as Json;

        fn leaves(prefix: &str, dict: &Dict, out: &mut Vec<(String, Value)>) {
            for (key, value) in dict {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                match value {
                    Value::Dict(_, inner) => leaves(&path, inner, out),
                    other => out.push((path, other.clone())),
                }
            }
        }
        let json = |v: &Value| Json::deserialize(v).expect("plain value");

        let file = Toml::file(concat!(env!("CARGO_MANIFEST_DIR"), "/Rocket.toml")).nested();
        let code = Figment::from(rocket::Config::default())
            .merge(Serialized::defaults(Defaults::default()))
            .merge(Serialized::defaults(Settings::default()))
            .merge(
                Serialized::default("address", "0.0.0.0").profile(rocket::Config::RELEASE_PROFILE),
            );
        let mut checked = 0;
        for (profile, dict) in file.data().expect("Rocket.toml parses") {
            let mut values = Vec::new();
            leaves("", &dict, &mut values);
            let code = code.clone().select(profile.clone());
            for (key, value) in values {
                let default = code
                    .find_value(&key)
                    .unwrap_or_else(|_| panic!("[{profile}] {key} has no default in the code"));
                assert_eq!(json(&value), json(&default), "[{profile}] {key}");
                checked += 1;
            }
        }
        assert!(checked >= 10, "only {checked} values checked");
    }
}
